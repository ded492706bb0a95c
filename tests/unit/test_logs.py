from __future__ import annotations

import logging
import sys

from mjapi.logs import LINE_FORMAT, RedactingFormatter, redact, register_secret


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
