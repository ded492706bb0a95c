from __future__ import annotations

import logging

from mjapi.logs import RedactingFormatter, redact, register_secret


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
