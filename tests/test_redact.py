"""Configured secrets are replaced in every log record: message, arguments and traceback."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

from hub.redact import REDACTED, install_log_redaction, redact_secret

SECRET = "4343:a-secret/that needs+encoding"


def test_a_registered_secret_is_redacted_in_messages_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redact_secret(SECRET)
    log = logging.getLogger("some.library")
    result = {"url": "files/doc"}
    with caplog.at_level(logging.DEBUG):
        log.debug("GET https://api.example/bot%s/getMe", SECRET)
        log.info("encoded: %s", quote(SECRET, safe=""))
        log.debug("result %s", result)
        result["url"] = f"https://api.example/file/bot{SECRET}/doc"  # changed after the call, as PTB does
        try:
            raise RuntimeError(f"request to /bot{SECRET}/x failed")
        except RuntimeError:
            log.exception("failed")
    text = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert SECRET not in text and quote(SECRET, safe="") not in text and "a-secret" not in text
    assert text.count(REDACTED) == 3 and "RuntimeError" in text


def test_secrets_customers_type_are_taken_out_of_every_log_record(caplog: pytest.LogCaptureFixture) -> None:
    """python-telegram-bot, slack-sdk and pymongo log message text at DEBUG: whatever logs
    a customer's card number, ID number or password, the record no longer holds it."""
    install_log_redaction()
    log = logging.getLogger("some.library")
    update = {"message": {"text": "卡号 6222 0212 3456 7890 128 身份证 11010519491231002X"}}
    with caplog.at_level(logging.DEBUG):
        log.debug("Call to Bot API finished with return value `%s`", update)
        log.debug("body: %s", {"text": "my password is Xq7pass!word, order 2024061812345678"})
    text = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert "6222" not in text and "11010519491231002X" not in text and "Xq7pass!word" not in text
    assert text.count("[redacted card_number]") == 1 and "[redacted resident_id]" in text
    assert "[redacted password]" in text and "order 2024061812345678" in text  # an order number stays
