"""``mjapi inspect``: what mjapi reads from a captured Discord payload, as plain data (pure).

``parse_document`` turns a file's text into JSON (one document, or JSON lines: one gateway frame per
line); ``inspect_payload`` turns that into one result dict per message or payload, in file order;
``render`` prints the results. No I/O here: the CLI reads the file and writes stdout.
"""

from __future__ import annotations

from mjapi.inspect.document import InspectError, parse_document, render
from mjapi.inspect.walk import inspect_payload

__all__ = ["InspectError", "inspect_payload", "parse_document", "render"]
