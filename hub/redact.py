"""Configured secrets, and secrets customers type, never reach a log record.

Libraries log what they see: httpx writes every request URL at INFO, and the Telegram
Bot API puts the bot token in the URL path. Rather than chase each logger, every secret
read from hub.toml (hub/settings.py `resolve_secret`) is registered here, and a log
record factory replaces it, as written and URL-encoded, in the message and in the
traceback of every record created in this process, before any handler sees it.

The same factory takes out what `conversation/secrets.py` finds (card numbers, resident
IDs, passwords, codes): at DEBUG, python-telegram-bot logs whole updates, slack-sdk the
events it receives and pymongo the commands it sends, message text included. The hub
installs it at start (`install_log_redaction`), configured secrets or not.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import quote

from conversation.secrets import redact as redact_customer_secrets

REDACTED = "[redacted]"
SHORTEST = 6  # a shorter value would blank ordinary words; such secrets are refused or provider-issued

_secrets: set[str] = set()
_longest_first: tuple[str, ...] = ()  # an encoded form may contain another secret
_lock = threading.Lock()
_installed = False


def redact_secret(value: str) -> None:
    """Keep this value out of every log record from now on."""
    global _longest_first
    if len(value) < SHORTEST:
        return
    with _lock:
        _secrets.update({value, quote(value, safe=""), quote(value)})
        _longest_first = tuple(sorted(_secrets, key=len, reverse=True))
    install_log_redaction()


def install_log_redaction() -> None:
    """Install the record factory now (once per process), with or without configured secrets."""
    global _installed
    with _lock:
        if not _installed:
            _installed = True
            _install()


def redact(text: str) -> str:
    for secret in _longest_first:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return redact_customer_secrets(text, lambda kind: f"[redacted {kind.value}]")[0]


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError, KeyError):  # a bad format string: the handler reports it as usual
        return
    # Frozen now, not when a handler formats it: an argument may change after the call
    # (python-telegram-bot logs a result dict, then writes the token-bearing file URL into it).
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        # Formatters use a ready exc_text as it is; the traceback's messages may name a URL.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


def _install() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _scrub(record)
        return record

    logging.setLogRecordFactory(factory)
