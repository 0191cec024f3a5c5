"""Configured secrets are replaced in every log record: message, arguments and traceback."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

from hub.redact import REDACTED, redact_secret

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
