"""SQL kept in ``.sql`` files inside the package: named queries and numbered migrations.

A queries file is a sequence of blocks, each introduced by a header line::

    -- name: get_job
    -- Optional comment lines describing the query.
    SELECT * FROM jobs WHERE jobid = :jobid

Migrations are ``migrations/NNNN_description.sql`` files next to it, applied in version order.
Both dialects (``storage/sqlite``, ``storage/postgres``) use this one loader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*(\S+)[ \t]*$", re.MULTILINE)
_VALID_NAME = re.compile(r"[a-z][a-z0-9_]*")
_MIGRATION_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


class Queries(dict[str, str]):
    """Named SQL statements; looking up an unknown name raises a KeyError naming the file."""

    def __init__(self, source: str, queries: dict[str, str]) -> None:
        super().__init__(queries)
        self.source = source

    def __missing__(self, name: str) -> str:
        known = ", ".join(sorted(self)) or "none"
        raise KeyError(f"no query named {name!r} in {self.source} (known: {known})")


@dataclass(frozen=True)
class Migration:
    """One numbered schema migration file."""

    version: int
    name: str
    sql: str


def parse_queries(text: str, source: str = "<string>") -> Queries:
    """Split a queries file into its named blocks (comment lines under a header are dropped)."""
    parts = _HEADER.split(text)
    _check_preamble(parts[0], source)
    queries: dict[str, str] = {}
    for name, block in zip(parts[1::2], parts[2::2], strict=True):
        _check_name(name, queries, source)
        body = _strip_comment_lines(block)
        if not body:
            raise ValueError(f"query {name!r} in {source} has no SQL")
        queries[name] = body
    return Queries(source, queries)


def load_queries(package: str, filename: str = "queries.sql") -> Queries:
    """The named queries of ``<package>/<filename>``, read through importlib.resources."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    return parse_queries(text, f"{package}/{filename}")


def load_migrations(package: str) -> list[Migration]:
    """Every ``<package>/migrations/NNNN_name.sql``, sorted by version (gaps are refused)."""
    folder = resources.files(package).joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.fullmatch(entry.name)
        if match is None:
            if entry.name.endswith(".sql"):
                raise ValueError(f"migration file {entry.name!r} is not named NNNN_name.sql")
            continue
        sql = entry.read_text(encoding="utf-8")
        found.append(Migration(int(match[1]), match[2], sql))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"migrations of {package} must be numbered 1..N, found {versions}")
    return found


def _check_preamble(preamble: str, source: str) -> None:
    # Only comments may precede the first header: stray SQL there would silently never run.
    if _strip_comment_lines(preamble):
        raise ValueError(f"{source}: SQL before the first '-- name:' header")


def _check_name(name: str, seen: dict[str, str], source: str) -> None:
    if not _VALID_NAME.fullmatch(name):
        raise ValueError(f"{source}: invalid query name {name!r}")
    if name in seen:
        raise ValueError(f"{source}: query {name!r} is defined twice")


def _strip_comment_lines(block: str) -> str:
    lines = [line for line in block.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip()
