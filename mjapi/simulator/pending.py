"""Modals and iframes the bot opened and a client may still submit (reference §1.6)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from mjapi.simulator.custom_ids import ButtonAction

#: open modals remembered per simulator; the oldest are forgotten first
_LIMIT = 1000


@dataclass(frozen=True)
class PendingModal:
    """An ``INTERACTION_MODAL_CREATE`` the user has not submitted yet."""

    #: ``d.id`` of the modal event: what the type 5 submit names in ``data.id``
    modal_id: str
    user_id: str
    channel_id: str
    custom_id: str
    #: the text input whose value is the prompt
    field_id: str
    #: the click that opened it, played with the submitted prompt
    action: ButtonAction
    message_id: str
    clicked_custom_id: str
    origin: str


@dataclass(frozen=True)
class PendingIframe:
    """A Vary (Region) editor opened by ``INTERACTION_IFRAME_MODAL_CREATE``."""

    token: str
    user_id: str
    channel_id: str
    message_id: str
    clicked_custom_id: str
    #: the click's nonce: the region job's first message carries it
    nonce: str | None
    origin: str


T = TypeVar("T")


class Pending(Generic[T]):
    """Open modals (or iframes) by id; each may be submitted once."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, T] = OrderedDict()

    def add(self, key: str, item: T) -> None:
        self._items[key] = item
        while len(self._items) > _LIMIT:
            self._items.popitem(last=False)

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def take(self, key: str) -> T | None:
        return self._items.pop(key, None)
