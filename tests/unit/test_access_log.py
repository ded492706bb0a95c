"""The access log's way through logs.py: a short way to its line, and lines written in batches."""

from __future__ import annotations

import io
import logging
import signal
import subprocess
import sys
import threading
import time
import weakref

import pytest
from pytest import MonkeyPatch

from mjapi import logs
from mjapi.logs import (
    LINE_FORMAT,
    BufferedStreamHandler,
    RedactingFormatter,
    line_handler,
)


class Stream(io.StringIO):
    """A stream that counts its writes and says when one happened."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.written = threading.Event()

    def write(self, text: str) -> int:
        self.writes += 1
        self.written.set()
        return super().write(text)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def buffered(stream: Stream, clock: Clock | None = None, **options: int) -> BufferedStreamHandler:
    """A handler without its flusher thread (tests flush, or move the clock)."""
    handler = BufferedStreamHandler(stream, clock=clock or Clock(), flusher=False, **options)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    return handler


def log(handler: logging.Handler, level: int, message: str) -> None:
    handler.handle(logging.LogRecord("uvicorn.access", level, __file__, 1, message, None, None))


def test_lines_wait_for_a_flush_then_go_out_in_one_write() -> None:
    stream = Stream()
    handler = buffered(stream)
    log(handler, logging.INFO, "one")
    log(handler, logging.INFO, "two")
    assert stream.getvalue() == ""
    handler.flush()
    assert stream.getvalue() == "INFO one\nINFO two\n" and stream.writes == 1


def test_a_warning_is_written_at_once_after_the_lines_before_it() -> None:
    stream = Stream()
    handler = buffered(stream)
    log(handler, logging.INFO, "request")
    log(handler, logging.WARNING, "trouble")
    assert stream.getvalue() == "INFO request\nWARNING trouble\n"
    log(handler, logging.ERROR, "worse")
    assert stream.getvalue().endswith("ERROR worse\n")


def test_a_batch_is_written_when_it_reaches_max_chars() -> None:
    stream = Stream()
    handler = buffered(stream, max_chars=20)
    log(handler, logging.INFO, "0123456")  # 13 characters with level and newline
    assert stream.getvalue() == ""
    log(handler, logging.INFO, "abc")
    assert stream.getvalue() == "INFO 0123456\nINFO abc\n"


def test_a_line_that_finds_the_oldest_one_max_delay_old_writes_the_batch() -> None:
    clock = Clock()
    stream = Stream()
    handler = buffered(stream, clock)
    log(handler, logging.INFO, "first")
    clock.now = 0.09
    log(handler, logging.INFO, "second")
    assert stream.getvalue() == ""
    clock.now = 0.1
    log(handler, logging.INFO, "third")
    assert stream.getvalue() == "INFO first\nINFO second\nINFO third\n"
    clock.now = 0.15  # the delay counts from the first line of the next batch
    log(handler, logging.INFO, "fourth")
    assert stream.getvalue().count("\n") == 3


def test_the_flusher_thread_writes_a_line_when_no_other_comes() -> None:
    stream = Stream()
    handler = BufferedStreamHandler(stream, max_delay=0.01)
    try:
        log(handler, logging.INFO, "alone")
        assert stream.written.wait(10), "the line was never written"
        assert stream.getvalue().endswith("alone\n")
    finally:
        handler.close()
    assert handler.flusher is not None
    handler.flusher.join(10)
    assert not handler.flusher.is_alive(), "close ends the thread"


def test_logging_shutdown_writes_what_is_pending_and_later_lines_go_out_at_once() -> None:
    stream = Stream()
    handler = buffered(stream)
    log(handler, logging.INFO, "last request")
    logging.shutdown([weakref.ref(handler)])  # what runs at exit
    assert stream.getvalue() == "INFO last request\n"
    log(handler, logging.INFO, "after shutdown")
    assert stream.getvalue().endswith("INFO after shutdown\n")


def test_the_handler_is_known_to_logging_shutdown() -> None:
    handler = buffered(Stream())
    assert any(ref() is handler for ref in logging._handlerList)  # type: ignore[attr-defined]


#: What ``mjapi serve`` goes through on SIGTERM: uvicorn handles the signal while it serves;
#: once shut down it puts back the handler it found and raises the signal again.
SIGTERM_AS_UVICORN = """
import logging, signal
from mjapi import logs
logs.configure("INFO")
access = logging.getLogger("uvicorn.access")
print(type(access).__name__)
access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/?t=user%3A1-SecretPart0", "1.1", 200)
found = signal.signal(signal.SIGTERM, lambda *_: None)
logging.getLogger("uvicorn.error").info("Finished server process")
signal.raise_signal(signal.SIGTERM)
signal.signal(signal.SIGTERM, found)
signal.raise_signal(signal.SIGTERM)
print("not reached")
"""


def test_a_process_ended_by_sigterm_writes_its_pending_lines_first() -> None:
    """SIGTERM's default action skips ``atexit`` and ``logging.shutdown``: a process of its own."""
    done = subprocess.run(
        [sys.executable, "-c", SIGTERM_AS_UVICORN], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert done.stderr.endswith(" INFO uvicorn.error: Finished server process\n")
    assert done.stdout == "_AccessLogger\n", "configure gives uvicorn's access log its short way"
    assert '"GET /?t=user%3A1-...secured... HTTP/1.1" 200' in done.stderr


HTTPX_LEVEL = """
import logging
from mjapi import logs
logs.configure("INFO")
print(logging.getLogger("httpx").isEnabledFor(logging.INFO))
logs.configure("DEBUG")
print(logging.getLogger("httpx").isEnabledFor(logging.DEBUG))
"""


def test_httpx_request_lines_are_kept_for_debug() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HTTPX_LEVEL], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_lines_from_several_threads_arrive_whole_and_once() -> None:
    """Threads logging while another flushes (as the flusher thread does)."""
    stream = Stream()
    handler = buffered(stream, max_chars=500)
    done = threading.Event()

    def worker(name: str) -> None:
        for n in range(2000):
            log(handler, logging.INFO, f"{name}-{n}")

    def flusher() -> None:
        while not done.is_set():
            handler.flush()

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    flushing = threading.Thread(target=flusher)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: interleave inside flush and emit
    try:
        flushing.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        done.set()
        flushing.join()
        sys.setswitchinterval(interval)
    handler.flush()
    lines = stream.getvalue().splitlines()
    assert sorted(lines) == sorted(f"INFO t{i}-{n}" for i in range(4) for n in range(2000))


def test_a_batch_is_written_under_the_lock_emit_runs_under() -> None:
    """So that the flusher thread never writes while a line is being added."""
    held: list[bool] = []

    class Probing(Stream):
        def write(self, text: str) -> int:
            def probe() -> None:
                assert handler.lock is not None
                free = handler.lock.acquire(blocking=False)
                if free:
                    handler.lock.release()
                held.append(not free)

            other = threading.Thread(target=probe)
            other.start()
            other.join()
            return super().write(text)

    handler = buffered(Probing())
    log(handler, logging.INFO, "line")
    handler.flush()  # from this thread, as the flusher thread calls it: not inside emit
    assert held == [True]


def test_the_configured_handler_masks_tokens_in_a_query_string() -> None:
    """The access line as uvicorn makes it, through the handler ``configure`` installs."""
    logs.install_redaction()
    discord = "MTA4Mzc4ODY2ODQ3MDMwNDc4OA.GaBcDe.abcdefghijklmnopqrstuvwxyz012345"
    stream = Stream()
    handler = line_handler(stream)
    logger = logging.getLogger("test_access_log.uvicorn.access")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        path = f"/v2/jobs/?jobid=job:1&token=user%3A12-s3cretpartXYZ&discord={discord}"
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
        assert stream.getvalue() == ""
        handler.flush()
    finally:
        logger.removeHandler(handler)
        handler.close()
    line = stream.getvalue()
    assert line.count("\n") == 1
    assert (
        ' INFO test_access_log.uvicorn.access: 127.0.0.1:5000 - "GET /v2/jobs/?jobid=job:1' in line
    )
    assert '&token=user%3A12-...secured...&discord=MTA...secured...345 HTTP/1.1" 200\n' in line
    assert "s3cretpart" not in line and "GaBcDe" not in line


# -- uvicorn's access logger: the short way to its line --------------------------------------------

ACCESS = '%s - "%s %s HTTP/%s" %d'
REQUEST = (
    "127.0.0.1:5000",
    "GET",
    "/v2/jobs/?jobid=job:1&token=user%3A12-s3cretpartXYZ",
    "1.1",
    200,
)


class CountingHandler(BufferedStreamHandler):
    """The handler ``configure`` installs, counting the records it is handed."""

    def __init__(self, stream: Stream) -> None:
        super().__init__(stream, flusher=False)
        self.setFormatter(RedactingFormatter(LINE_FORMAT))
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        super().emit(record)


def hierarchy(logger: logging.Logger, *handlers: logging.Handler) -> logging.Logger:
    """``logger`` under a top logger of its own (standing for root) that holds ``handlers``."""
    logs.install_redaction()
    top = logging.Logger("top")
    for handler in handlers:
        top.addHandler(handler)
    logger.parent = top
    return logger


def written(handler: BufferedStreamHandler) -> str:
    handler.flush()
    stream = handler.stream
    assert isinstance(stream, Stream)
    return stream.getvalue()


def test_the_short_way_writes_the_line_the_standard_path_writes(monkeypatch: MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.25)  # for records too
    short, standard = CountingHandler(Stream()), CountingHandler(Stream())
    hierarchy(logs._AccessLogger("uvicorn.access"), short).info(ACCESS, *REQUEST)
    hierarchy(logging.Logger("uvicorn.access"), standard).info(ACCESS, *REQUEST)
    assert short.records == 0 and standard.records == 1
    assert written(short) == written(standard)
    assert "token=user%3A12-...secured... HTTP/1.1" in written(short)


def drop_all(record: logging.LogRecord) -> bool:
    return False


def access_logger(handler: CountingHandler) -> logging.Logger:
    return hierarchy(logs._AccessLogger("uvicorn.access"), handler)


def test_another_handler_or_formatter_takes_the_standard_path() -> None:
    handler, other = CountingHandler(Stream()), CountingHandler(Stream())
    logger = access_logger(handler)
    logger.addHandler(other)
    logger.info(ACCESS, *REQUEST)
    assert (handler.records, other.records) == (1, 1)
    logger.removeHandler(other)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.info(ACCESS, *REQUEST)
    assert handler.records == 2
    assert written(handler).splitlines()[-1].startswith('INFO 127.0.0.1:5000 - "GET /v2/jobs/')


@pytest.mark.parametrize(
    "change",
    ["a filter on the logger", "a filter on the handler", "logger disabled", "handler at WARNING"],
)
def test_what_stops_a_record_stops_the_line(change: str) -> None:
    handler = CountingHandler(Stream())
    logger = access_logger(handler)
    if change == "a filter on the logger":
        logger.addFilter(drop_all)
    elif change == "a filter on the handler":
        handler.addFilter(drop_all)
    elif change == "logger disabled":
        logger.disabled = True
    else:
        handler.setLevel(logging.WARNING)
    logger.info(ACCESS, *REQUEST)
    assert written(handler) == ""


def test_keyword_arguments_and_a_mapping_take_the_standard_path() -> None:
    handler = CountingHandler(Stream())
    logger = hierarchy(logs._AccessLogger("uvicorn.access"), handler)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.info("failed", exc_info=True)
    logger.info("%(who)s came", {"who": "someone"})
    assert handler.records == 2
    text = written(handler)
    assert "ValueError: boom" in text and "uvicorn.access: someone came" in text


def test_another_record_factory_takes_the_standard_path() -> None:
    """An embedding application's factory may add fields: its records must be made."""
    handler = CountingHandler(Stream())
    logger = access_logger(handler)
    previous = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    try:
        logger.info(ACCESS, *REQUEST)
    finally:
        logging.setLogRecordFactory(previous)
    assert handler.records == 1


def test_a_message_that_does_not_format_is_reported_as_the_standard_path_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = CountingHandler(Stream())
    logger = access_logger(handler)
    logger.info("%d requests", "many")  # a TypeError, which logging reports and swallows
    assert handler.records == 1 and "--- Logging error ---" in capsys.readouterr().err


def test_a_level_above_info_writes_nothing() -> None:
    handler = CountingHandler(Stream())
    logger = hierarchy(logs._AccessLogger("uvicorn.access"), handler)
    logger.setLevel(logging.WARNING)
    logger.info(ACCESS, *REQUEST)
    assert written(handler) == "" and handler.records == 0
