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
# mjapi API tokens: user:<id>-<secret>, also percent-encoded (user%3A<id>-...) as a query string
# shows it in the access log.
_API_TOKEN = re.compile(r"(user(?::|%3[Aa])\d+-)([A-Za-z0-9_-]{8,})")
# The %(field)s names of a %-style format.
_FIELD = re.compile(r"%\((\w+)\)")

_secrets: set[str] = set()
#: ``_secrets``, longest first (a longer secret may contain a shorter one); replaced, never
#: mutated, so that ``redact`` reads it without the lock and without sorting on every line.
_known: tuple[str, ...] = ()
_lock = threading.Lock()

#: Record fields that never carry input: a line made only of these and the message (which a
#: ``_RedactedRecord`` redacts itself) needs no second pass.
_SAFE_FIELDS = frozenset(
    {"asctime", "created", "msecs", "relativeCreated", "levelname", "levelno", "name", "module"}
    | {"filename", "pathname", "funcName", "lineno", "process", "processName", "thread"}
    | {"threadName", "taskName", "message"}
)


def register_secret(secret: str) -> None:
    """Mask this exact string in every log line from now on."""
    global _known
    if len(secret) >= 8:
        with _lock:
            _secrets.add(secret)
            _known = tuple(sorted(_secrets, key=len, reverse=True))


def redact(text: str) -> str:
    """The text with every known or token-shaped secret masked."""
    for secret in _known:
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

    def __init__(self, fmt: str | None = None, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)
        fields = set(_FIELD.findall(self._fmt or "%(message)s"))
        self._only_safe_fields = fields <= _SAFE_FIELDS

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        # Redacting costs a few microseconds a line, and the access log writes one per request:
        # skip the second pass when every part of the line is known to be clean already.
        if (
            self._only_safe_fields
            and isinstance(record, _RedactedRecord)
            and not record.exc_text
            and not record.stack_info
        ):
            return line
        return redact(line)


#: The line ``configure`` writes. It shows no thread, process or source position, so records
#: need not collect them (see ``configure``).
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str = "INFO") -> None:
    """Send mjapi's (and uvicorn's) logs to stderr through the redacting formatter.

    Records stop collecting what ``LINE_FORMAT`` does not show (the logging documentation's
    "Optimization" section): the access log makes one record per request, and the caller's
    frame lookup and thread and process names are a sizeable part of its cost. These switches
    are process-wide: ``configure`` is for the process mjapi's CLI owns (``serve``, ``demo``,
    ``simulator``), not for an application that embeds mjapi and has its own handlers.
    """
    install_redaction()
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # the documented way to skip the frame lookup
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(LINE_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
