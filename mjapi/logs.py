"""Logging set-up: one line per record, with every known secret masked before it is written.

Secrets reach logs through exception texts and payload dumps more often than through direct
formatting, so redaction happens on the final formatted line, not at call sites.

The access log makes one line per request, so its way is kept short: ``configure`` writes lines
in batches (``BufferedStreamHandler``: a write to stderr per line was a sizeable part of a
request's cost), and uvicorn's access logger makes its line without a ``LogRecord`` while the
configuration is ``configure``'s (``_AccessLogger``); the line and its redaction are the same.
The trade-off of the batches: a line below WARNING may reach stderr up to 0.1 s late, and if the
process is killed outright (SIGKILL, ``os._exit``) the lines of its last 0.1 s are lost. WARNING
and above are written at once (with the lines before them), and a normal end (exit, Ctrl-C,
SIGTERM) writes everything.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, TextIO

from mjapi.domain.accounts import mask_token

# Discord user tokens: three base64url segments separated by dots (id.timestamp.hmac).
_DISCORD_TOKEN = re.compile(r"[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}")
# The middle segment of one, dots included: part of every match, and looked for in a sixth of
# the time (the whole pattern is tried from every position of every long run of letters).
_DISCORD_MIDDLE = re.compile(r"\.[A-Za-z0-9_-]{5,}\.")
# mjapi API tokens: user:<id>-<secret>, also percent-encoded (user%3A<id>-...) as a query string
# shows it in the access log.
_API_TOKEN = re.compile(r"(user(?::|%3[Aa])\d+-)([A-Za-z0-9_-]{8,})")
# The %(field)s names of a %-style format.
_FIELD = re.compile(r"%\((\w+)\)")

_secrets: set[str] = set()
#: ``_secrets``, longest first (a longer secret may contain a shorter one), and those of them
#: without a ``_DISCORD_MIDDLE`` part; replaced together, never mutated, so that ``redact``
#: reads them without the lock and without sorting on every line.
_known: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
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
            every = tuple(sorted(_secrets, key=len, reverse=True))
            _known = (every, tuple(s for s in every if not _DISCORD_MIDDLE.search(s)))


def redact(text: str) -> str:
    """The text with every known or token-shaped secret masked."""
    every, undotted = _known
    # Text without a Discord token's middle part holds no Discord token, nor any known secret
    # that has one (as Discord tokens do): it is clean of those unless it holds one of the
    # others. Most lines are (an access line's only dots are usually in the client address and
    # "HTTP/1.1"), and they skip a loop that costs 50 ns per known secret.
    if _DISCORD_MIDDLE.search(text) or _holds_any(text, undotted):
        for secret in every:
            if secret in text:
                text = text.replace(secret, mask_token(secret))
        text = _DISCORD_TOKEN.sub(_mask_match, text)
    return _API_TOKEN.sub(_mask_api_secret, text)


def _holds_any(text: str, secrets: tuple[str, ...]) -> bool:
    # a loop, not any(...): a generator costs half as much again, on every line
    for secret in secrets:  # noqa: SIM110
        if secret in text:
            return True
    return False


def _mask_match(match: re.Match[str]) -> str:
    return mask_token(match.group(0))


def _mask_api_secret(match: re.Match[str]) -> str:
    return match.group(1) + "...secured..."


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
        self._is_line_format = self._fmt == LINE_FORMAT
        #: (second, datefmt, that second as text): the last one, as most lines share it
        self._time: tuple[int, str | None, str] = (-1, None, "")

    def format(self, record: logging.LogRecord) -> str:
        if (
            self._is_line_format
            and isinstance(record, _RedactedRecord)
            and not (record.exc_info or record.exc_text or record.stack_info)
        ):
            return self._plain_line(record)
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

    def _plain_line(self, record: _RedactedRecord) -> str:
        """What ``logging.Formatter.format`` makes of a ``LINE_FORMAT`` record without an
        exception or stack, in a third less time: the access log formats one per request."""
        record.message = record.getMessage()  # redacted: the line needs no second pass
        record.asctime = self.formatTime(record, self.datefmt)
        return f"{record.asctime} {record.levelname} {record.name}: {record.message}"

    def plain_line(self, created: float, levelno: int, name: str, message: str) -> str:
        """``_plain_line`` without a record: ``message`` must be redacted already."""
        msecs = int((created - int(created)) * 1000)  # as ``LogRecord`` computes it
        asctime = self._time_text(created, msecs, self.datefmt)
        return f"{asctime} {logging.getLevelName(levelno)} {name}: {message}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """``logging.Formatter.formatTime``, with the text of the last second kept: lines come
        many to a second, and ``localtime`` and ``strftime`` were a quarter of formatting one."""
        return self._time_text(record.created, record.msecs, datefmt)

    def _time_text(self, created: float, msecs: float, datefmt: str | None) -> str:
        second = int(created)
        cached = self._time  # one tuple, read and replaced whole: threads may share a formatter
        if cached[0] == second and cached[1] == datefmt:
            text = cached[2]
        else:
            text = time.strftime(datefmt or self.default_time_format, self.converter(created))
            self._time = (second, datefmt, text)
        if datefmt or not self.default_msec_format:
            return text
        return self.default_msec_format % (text, msecs)


class BufferedStreamHandler(logging.StreamHandler[TextIO]):
    """A stream handler that writes its lines in batches, at most ``max_delay`` seconds late.

    A batch is written when a record at ``flush_level`` or above arrives (with it, so the order
    holds), when ``max_chars`` are pending, when a line finds the oldest pending one
    ``max_delay`` old, and otherwise by a flusher thread ``max_delay`` after the first pending
    line; ``close`` (which ``logging.shutdown`` calls at exit, and ``configure`` makes SIGTERM
    call) writes what is left. The price: lines pending when the process is killed outright
    (SIGKILL, ``os._exit``) are lost. Thread-safe (the SQLite worker thread logs too):
    ``Handler.handle`` holds the handler's lock around ``emit``, and ``flush`` takes it as well.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        max_delay: float = 0.1,
        max_chars: int = 64 * 1024,
        flush_level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
        flusher: bool = True,
    ) -> None:
        super().__init__(stream)
        self.max_delay = max_delay
        self.max_chars = max_chars
        self.flush_level = flush_level
        self._clock = clock
        self._pending: list[str] = []
        self._pending_chars = 0
        self._oldest = 0.0  # when the oldest pending line came, by ``clock``
        self._has_pending = threading.Event()  # wakes the flusher
        self._stopped = threading.Event()
        self._write_through = False  # once closed: no flusher is left to write a later line
        self.flusher: threading.Thread | None = None
        if flusher:
            self.flusher = threading.Thread(
                target=self._flush_late_lines, name="log-flusher", daemon=True
            )
            self.flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._add(self.format(record) + self.terminator, record.levelno)
        except RecursionError:  # as ``StreamHandler.emit`` does
            raise
        except Exception:
            self.handleError(record)

    def add_line(self, line: str, levelno: int) -> None:
        """What ``handle`` does with a record, for a line formatted without one."""
        with self.lock:  # type: ignore[union-attr]  # Handler.__init__ always makes one
            try:
                self._add(line + self.terminator, levelno)
            except Exception:
                self.handleError(_lost_lines_record())

    def _add(self, line: str, levelno: int) -> None:
        now = self._clock()
        if not self._pending:
            self._oldest = now
            self._has_pending.set()
        self._pending.append(line)
        self._pending_chars += len(line)
        if (
            levelno >= self.flush_level
            or self._pending_chars >= self.max_chars
            or now - self._oldest >= self.max_delay
            or self._write_through
        ):
            self.flush()

    def flush(self) -> None:
        """Write the pending lines now (one write) and flush the stream."""
        self.acquire()
        try:
            batch, self._pending, self._pending_chars = self._pending, [], 0
            self._has_pending.clear()
            if batch:
                self.stream.write("".join(batch))
            if hasattr(self.stream, "flush"):
                self.stream.flush()
        finally:
            self.release()

    def close(self) -> None:
        self._write_through = True
        self._stopped.set()
        self._has_pending.set()  # let the flusher see it is closed
        try:
            self.flush()
        finally:
            super().close()

    def _flush_late_lines(self) -> None:
        """The flusher thread: writes a batch ``max_delay`` after its first line came."""
        while True:
            self._has_pending.wait()
            if self._stopped.wait(self.max_delay):
                return
            try:
                self.flush()
            except Exception:  # a broken stream must not end the thread: report, go on
                self.handleError(_lost_lines_record())


def _lost_lines_record() -> logging.LogRecord:
    """What ``Handler.handleError`` reports when a batch could not be written."""
    return logging.LogRecord(__name__, logging.ERROR, __file__, 0, "log lines lost", None, None)


class _AccessLogger(logging.Logger):
    """uvicorn's access logger (one line per request), with a short way to its line.

    While the logging configuration is the one ``configure`` sets up (one handler on the way,
    a ``BufferedStreamHandler`` whose ``RedactingFormatter`` writes ``LINE_FORMAT``; no filter;
    the redacting record factory), ``info`` hands that handler the very line the standard path
    would write, made of the same redacted message, without the ``LogRecord`` and the calls
    that carry it to the handler: they were a quarter of an access line's cost. Any other
    configuration (a handler or filter added, another formatter or record factory) and any
    keyword argument (``exc_info``, ``extra``...) take the standard path.
    """

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(logging.INFO):
            return
        # one mapping: ``LogRecord`` would format with it (``"%(key)s"``), not with ``args``
        mapping = len(args) == 1 and isinstance(args[0], Mapping)
        way = None if kwargs or mapping else self._short_way()
        if way is not None:
            try:
                message = str(msg) % args if args else str(msg)  # as ``LogRecord.getMessage``
            except Exception:  # the standard path reports it
                way = None
        if way is None:
            super().info(msg, *args, **kwargs)
            return
        handler, formatter = way
        line = formatter.plain_line(time.time(), logging.INFO, self.name, redact(message))
        handler.add_line(line, logging.INFO)

    def _short_way(self) -> tuple[BufferedStreamHandler, RedactingFormatter] | None:
        """The handler ``configure`` installed and its formatter, if a record would reach that
        handler and no other."""
        if self.filters or logging.getLogRecordFactory() is not _RedactedRecord:
            return None
        found: list[logging.Handler] = []
        logger: logging.Logger | None = self
        while logger is not None:  # the walk of ``Logger.callHandlers``
            found += logger.handlers
            logger = logger.parent if logger.propagate else None
        if len(found) != 1 or not isinstance(handler := found[0], BufferedStreamHandler):
            return None
        formatter = handler.formatter
        if not isinstance(formatter, RedactingFormatter) or not formatter._is_line_format:
            return None
        return (
            (handler, formatter) if not handler.filters and handler.level <= logging.INFO else None
        )


#: The line ``configure`` writes. It shows no thread, process or source position, so records
#: need not collect them (see ``configure``).
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def line_handler(stream: TextIO | None = None) -> BufferedStreamHandler:
    """The handler ``configure`` installs: ``LINE_FORMAT`` lines, redacted, written in batches
    to ``stream`` (stderr by default)."""
    handler = BufferedStreamHandler(stream)
    handler.setFormatter(RedactingFormatter(LINE_FORMAT))
    return handler


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
    handler = line_handler()
    root = logging.getLogger()
    for previous in root.handlers:
        if isinstance(previous, BufferedStreamHandler):  # an earlier configure's: stop its thread
            previous.close()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # httpx writes a line per request at INFO ("HTTP Request: POST ..."): one per Discord call
    # and download, saying nothing mjapi's own lines do not. Kept for DEBUG.
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    if type(access) is logging.Logger:  # the same object: uvicorn looks it up by name
        access.__class__ = _AccessLogger
    _write_logs_before_sigterm_ends()


def _write_logs_before_sigterm_ends() -> None:
    """Have SIGTERM write the pending log lines before its default action ends the process.

    uvicorn handles SIGTERM while it serves; once it has shut down, it puts back the handler it
    found and raises the signal again. The default action then ends the process without
    ``atexit``, where ``logging.shutdown`` would write what ``BufferedStreamHandler`` holds: the
    shutdown's own lines and the last requests' would be lost.
    """
    main = threading.current_thread() is threading.main_thread()  # signal.signal's rule
    if main and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _end_after_writing_logs)


def _end_after_writing_logs(signum: int, frame: FrameType | None) -> None:
    logging.shutdown()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)  # the default action: the process ends, "killed by SIGTERM"
