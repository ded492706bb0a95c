from __future__ import annotations

import logging
import sys

from hypothesis import given
from hypothesis import strategies as st

from mjapi import logs
from mjapi.domain.accounts import mask_token
from mjapi.logs import LINE_FORMAT, RedactingFormatter, install_redaction, redact, register_secret


def test_registered_secret_is_masked() -> None:
    register_secret("plain-secret-value-123")
    assert redact("token=plain-secret-value-123 end") == "token=pla...secured...123 end"


def test_token_shaped_strings_are_masked_even_when_unknown() -> None:
    discord_like = "MTA4Mzc4ODY2ODQ3MDMwNDc4OA.GaBcDe.abcdefghijklmnopqrstuvwxyz012345"
    assert discord_like not in redact(f"Authorization: {discord_like}")
    assert "s3cretpart" not in redact("Bearer user:12-s3cretpartXYZ")


def test_formatter_redacts_exception_text() -> None:
    register_secret("another-secret-token-456")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed for %s", None, None)
    record.args = ("another-secret-token-456",)
    assert "another-secret-token-456" not in RedactingFormatter("%(message)s").format(record)


def test_records_are_redacted_for_any_handler() -> None:
    from mjapi.logs import install_redaction

    install_redaction()
    register_secret("yet-another-secret-token-789")
    record = logging.getLogger("elsewhere").makeRecord(
        "elsewhere", logging.INFO, __file__, 1, "token %s", ("yet-another-secret-token-789",), None
    )
    assert "yet-another-secret-token-789" not in logging.Formatter().format(record)


def test_percent_encoded_api_tokens_are_masked() -> None:
    """How a token put in a query string reaches the access log."""
    line = redact('"GET /health?token=user%3A12-s3cretpartXYZ HTTP/1.1" 200')
    assert "s3cretpart" not in line and "user%3A12-...secured..." in line


def redacted_record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    from mjapi.logs import install_redaction

    install_redaction()
    return logging.getLogger("mjapi.test").makeRecord(
        "mjapi.test", logging.ERROR, __file__, 1, msg, args, None, extra=extra or None
    )


def test_the_configured_line_masks_a_redacted_record() -> None:
    register_secret("line-format-secret-0001")
    record = redacted_record("token %s", "line-format-secret-0001")
    line = RedactingFormatter(LINE_FORMAT).format(record)
    assert "line-format-secret-0001" not in line and line.endswith(
        "mjapi.test: token lin...secured...001"
    )


def test_the_exception_text_of_a_redacted_record_is_masked() -> None:
    register_secret("exception-secret-0002")
    record = redacted_record("failed")
    try:
        raise ValueError("bad token exception-secret-0002")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert "exception-secret-0002" not in RedactingFormatter(LINE_FORMAT).format(record)


def test_a_field_from_extra_is_masked() -> None:
    """Only a line made of known fields may skip the second pass: ``extra`` carries anything."""
    register_secret("extra-field-secret-0003")
    record = redacted_record("account", account="extra-field-secret-0003")
    line = RedactingFormatter("%(message)s %(account)s").format(record)
    assert "extra-field-secret-0003" not in line


# -- the shortcuts the access log takes ---------------------------------------------------------


def reference_redact(text: str) -> str:
    """``redact`` as it was before its shortcut: every regular expression on every line."""
    for secret in logs._known[0]:
        if secret in text:
            text = text.replace(secret, mask_token(secret))
    text = logs._DISCORD_TOKEN.sub(lambda m: mask_token(m.group(0)), text)
    return logs._API_TOKEN.sub(lambda m: m.group(1) + "...secured...", text)


#: known secrets: one with a Discord token's middle part that holds one without, one with a dot
KNOWN = ["zz9.middle.plain-known-0004", "plain-known-0004", "one.dot-known-0005"]

#: pieces of lines: token-shaped runs and dots, known secrets, and tokens of both kinds
PIECES = st.one_of(
    st.text(alphabet="ab9_-.:/ %3AuserHTTP", max_size=40),
    st.sampled_from(["a" * 18, "b" * 5, "b" * 4, "c" * 20, ".", "user:1-", *KNOWN]),
    st.from_regex(logs._DISCORD_TOKEN, fullmatch=True),
    st.from_regex(logs._API_TOKEN, fullmatch=True),
)


@given(st.lists(PIECES, max_size=12))
def test_redact_shortcut_changes_no_line(parts: list[str]) -> None:
    for secret in KNOWN:
        register_secret(secret)
    text = "".join(parts)
    assert redact(text) == reference_redact(text)


def test_time_text_matches_the_standard_formatter_across_seconds_and_formats() -> None:
    ours, standard = RedactingFormatter(), logging.Formatter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    for created, datefmt in [
        (1_700_000_000.25, None),
        (1_700_000_000.75, None),
        (1_700_000_001.5, None),  # the next second: not the kept text
        (1_700_000_001.5, "%H:%M:%S"),
        (1_700_000_001.9, "%Y"),
        (1_700_000_061.0, None),
    ]:
        record.created, record.msecs = created, (created % 1) * 1000
        assert ours.formatTime(record, datefmt) == standard.formatTime(record, datefmt)


def test_a_plain_line_is_what_the_standard_formatter_makes() -> None:
    """The short way ``RedactingFormatter`` formats ``LINE_FORMAT`` records changes nothing."""
    ours, standard = RedactingFormatter(LINE_FORMAT), logging.Formatter(LINE_FORMAT)
    for level, name, message, args in [
        (
            logging.INFO,
            "uvicorn.access",
            '%s - "%s %s HTTP/%s" %d',
            ("1.2.3.4:5", "GET", "/", "1.1", 200),
        ),
        (logging.WARNING, "mjapi.engine", "job %s: %d%%", ("job:1", 50)),
        (logging.DEBUG, "x", "no arguments", ()),
    ]:
        install_redaction()
        record = logging.getLogger(name).makeRecord(name, level, __file__, 1, message, args, None)
        assert ours.format(record) == standard.format(record)
        assert record.message == (message % args if args else message)
