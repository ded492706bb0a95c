"""SQLite store: the default, one file under the data folder."""

from mjapi.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
