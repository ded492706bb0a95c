"""Recently verified API tokens, so that a request does not cost a database read.

Entries are found by a short selector (the first 16 hex digits of the token's SHA-256) and then
checked with ``hmac.compare_digest`` against the whole hash: the check takes the same time
whichever byte differs, so response times tell nothing about a stored token. Entries expire
after ``ttl`` seconds, so a token removed from the database stops working within that time.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

#: Hex digits of the hash used to find an entry.
SELECTOR = 16


class TokenCache:
    def __init__(self, monotonic: Callable[[], float], ttl: float = 60.0, size: int = 10_000):
        self._monotonic = monotonic
        self._ttl = ttl
        self._size = size
        self._entries: dict[str, tuple[str, int, float]] = {}

    def owner(self, token_hash: str) -> int | None:
        entry = self._entries.get(token_hash[:SELECTOR])
        if entry is None:
            return None
        full, owner, expires = entry
        if expires < self._monotonic() or not hmac.compare_digest(full, token_hash):
            return None
        return owner

    def remember(self, token_hash: str, owner: int) -> None:
        if len(self._entries) >= self._size:
            self._entries.clear()  # rare: more live tokens than the cache holds
        self._entries[token_hash[:SELECTOR]] = (token_hash, owner, self._monotonic() + self._ttl)
