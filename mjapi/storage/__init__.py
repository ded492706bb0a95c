"""Persistence. The engine sees only the protocols in ``mjapi.storage.base``."""
