"""A file's text to JSON and results back to text (pure)."""

from __future__ import annotations

import json
from typing import Any

from mjapi.errors import MjapiError


class InspectError(MjapiError):
    """The input cannot be inspected (not JSON); never reaches the HTTP API."""

    default_message = "the input cannot be inspected"


def parse_document(text: str) -> Any:
    """One JSON document, or JSON lines (one value per line, e.g. a gateway log) as a list."""
    text = text.removeprefix("\ufeff")  # editors on some systems save a byte-order mark
    if not text.strip():
        raise InspectError("the file is empty (expected JSON)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as whole:
        return _json_lines(text, whole)


def _json_lines(text: str, whole: json.JSONDecodeError) -> list[Any]:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    values: list[Any] = []
    for number, line in lines:
        try:
            values.append(json.loads(line))
        except json.JSONDecodeError as exc:
            # If even the first line is not JSON on its own, the file was meant as one document:
            # its own error (with the real line and column) says more than "line 1".
            if not values or len(lines) == 1:
                raise InspectError(_where("not valid JSON", whole)) from None
            raise InspectError(_where(f"not valid JSON lines (line {number})", exc)) from None
    return values


def _where(what: str, exc: json.JSONDecodeError) -> str:
    return f"{what}: {exc.msg} at line {exc.lineno}, column {exc.colno}"


def render(results: list[dict[str, Any]], *, compact: bool = False) -> str:
    """A JSON array: indented, or with one result per line (still one JSON document)."""
    if not compact:
        return json.dumps(results, indent=2, ensure_ascii=False)
    if not results:
        return "[]"
    lines = (json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in results)
    return "[\n" + ",\n".join(lines) + "\n]"
