"""Each API user's callback signing secret: made on first need, kept encrypted by the store."""

from __future__ import annotations

import asyncio

from mjapi.storage.base import DeliveryStore
from mjapi.webhooks.signing import new_secret


class SecretBook:
    """Reads secrets once and caches them; creates a user's secret the first time it is asked."""

    def __init__(self, store: DeliveryStore) -> None:
        self._store = store
        self._known: dict[int, str] = {}
        # One lock: two first callbacks of one user must not create two different secrets.
        self._lock = asyncio.Lock()

    async def secret(self, user_id: int) -> str:
        known = self._known.get(user_id)
        if known is not None:
            return known
        async with self._lock:
            stored = await self._store.webhook_secret(user_id)
            if stored is None:
                stored = new_secret()
                await self._store.put_webhook_secret(user_id, stored)
            self._known[user_id] = stored
            return stored

    async def rotate(self, user_id: int) -> str:
        """Replace the user's secret; callbacks from now on are signed with the new one."""
        async with self._lock:
            fresh = new_secret()
            await self._store.put_webhook_secret(user_id, fresh)
            self._known[user_id] = fresh
            return fresh
