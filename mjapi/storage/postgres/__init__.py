"""PostgreSQL store, for several replicas sharing one database (needs ``mjapi[postgres]``)."""

from mjapi.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
