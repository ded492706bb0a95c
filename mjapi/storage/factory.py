"""Choose the store ``settings.database_url`` names: SQLite by default, else PostgreSQL."""

from __future__ import annotations

from mjapi.settings import Settings
from mjapi.storage.base import Store
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.sqlite import SqliteStore

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(settings: Settings, cipher: TokenCipher) -> Store:
    """The store for ``settings``, not yet connected: the caller awaits ``open()``/``close()``.

    Empty ``database_url`` or ``sqlite:///path`` -> SQLite; ``postgresql://`` or ``postgres://``
    -> PostgreSQL (asyncpg is imported only then: it is the optional ``mjapi[postgres]``).
    """
    url = settings.database_url
    if not url or url.startswith("sqlite:///"):
        return SqliteStore(settings.sqlite_path(), cipher)
    if url.startswith(_POSTGRES_SCHEMES):
        return _postgres_store(url, cipher)
    # Only the scheme is echoed: the rest of a URL may hold a password.
    scheme = url.split(":", 1)[0]
    raise ValueError(
        f"unsupported database_url scheme {scheme!r}: use sqlite:///<path> or postgresql://..."
    )


def _postgres_store(dsn: str, cipher: TokenCipher) -> Store:
    try:
        from mjapi.storage.postgres import PostgresStore
    except ModuleNotFoundError as error:
        if error.name != "asyncpg":
            raise
        raise RuntimeError(
            "database_url names PostgreSQL but asyncpg is not installed: install mjapi[postgres]"
        ) from error
    return PostgresStore(dsn, cipher)
