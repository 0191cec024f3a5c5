"""What each message costs on the common path: work skipped when a message cannot need it.

Counted, not timed (the machine may be busy): which scans run, which catalogs load, and
how many SQL statements storing a message takes.
"""

from __future__ import annotations

import asyncio

import pytest

from conversation import redaction, secrets
from conversation.inbound import Inbound, Sender
from hub import privacy
from hub.privacy import SecretsGuard


def _refuse(*_args: object, **_kwargs: object) -> object:
    raise AssertionError("not needed for this message")


@pytest.mark.parametrize("text", ["Please refund my payment", "我无法登录我的账户", ""])
def test_a_message_without_digits_or_a_password_word_skips_every_pattern(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    for scan in ("_resident_ids", "_cards", "_cvvs", "_codes", "_passwords"):
        monkeypatch.setattr(secrets, scan, _refuse)
    assert secrets.find_secrets(text) == []


def test_without_digits_only_the_password_pattern_reads_a_password() -> None:
    text = "my password is Hunter-two please"
    assert [(f.kind, text[f.start : f.end]) for f in secrets.find_secrets(text)] == [
        (secrets.SecretKind.PASSWORD, "Hunter-two")
    ]


def test_a_message_with_no_secret_loads_no_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "hub_texts", _refuse)
    monkeypatch.setattr(privacy, "best_locale", _refuse)
    inbound = Inbound(
        channel="chat",
        external_id="m1",
        sender=Sender("u1", language="de"),
        thread_key="k",
        text="order 5531 is late",
    )
    cleaned, kinds = asyncio.run(SecretsGuard("en").inbound(inbound))
    assert cleaned is inbound and kinds == frozenset()


def test_a_message_with_no_secret_is_not_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redaction, "replace", _refuse)
    inbound = Inbound(
        channel="chat", external_id="m1", sender=Sender("u1"), thread_key="k", text="order 5531", subject="late"
    )
    assert redaction.redact_inbound(inbound, lambda kind: "[removed]") == (inbound, frozenset())
