"""Logging set-up: one line per record, with every known secret masked before it is written.

Secrets reach logs through exception texts and payload dumps more often than through direct
formatting, so redaction happens on the final formatted line, not at call sites.
"""

from __future__ import annotations

import logging
import re
import threading

from mjapi.domain.accounts import mask_token

# Discord user tokens: three base64url segments separated by dots (id.timestamp.hmac).
_DISCORD_TOKEN = re.compile(r"[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}")
# mjapi API tokens: user:<id>-<secret>.
_API_TOKEN = re.compile(r"(user:\d+-)([A-Za-z0-9_-]{8,})")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str) -> None:
    """Mask this exact string in every log line from now on."""
    if len(secret) >= 8:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    """The text with every known or token-shaped secret masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, mask_token(secret))
    text = _DISCORD_TOKEN.sub(lambda m: mask_token(m.group(0)), text)
    return _API_TOKEN.sub(lambda m: m.group(1) + "...secured...", text)


class _RedactedRecord(logging.LogRecord):
    """A record whose message is redacted however it is formatted, by whichever handler."""

    def getMessage(self) -> str:
        return redact(super().getMessage())


def install_redaction() -> None:
    """Redact every log record created in this process from now on (idempotent).

    A record factory, unlike a handler's formatter, also covers handlers that an embedding
    application or uvicorn's own log config installs.
    """
    logging.setLogRecordFactory(_RedactedRecord)


class RedactingFormatter(logging.Formatter):
    """A formatter whose output never carries a registered or token-shaped secret."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: str = "INFO") -> None:
    """Send mjapi's (and uvicorn's) logs to stderr through the redacting formatter."""
    install_redaction()
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
