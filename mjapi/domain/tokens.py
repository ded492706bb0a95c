"""API tokens: shaped like useapi's (``user:<id>-<secret>``), stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets


def new_token(user_id: int) -> str:
    """A fresh API token for ``user_id``; 256 bits of secret."""
    return f"user:{user_id}-{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    """What the store keeps. The secret is random and long, so one SHA-256 round suffices;
    lookups by this hash compare no secret byte by byte."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
