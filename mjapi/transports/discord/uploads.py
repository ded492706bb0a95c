"""Discord's attachment upload flow for /blend and /describe (reference §1.9).

1. ``POST /channels/{id}/attachments`` ``{"files": [{filename, file_size, id}]}`` -> upload slots
   ``{id, upload_url, upload_filename}`` (ERT ``UploadSlot``);
2. ``PUT upload_url`` with the bytes and their ``Content-Type``, without Discord's token (the URL
   is a signed storage URL, NZK ``putFile``);
3. the interaction names each file as ``{id, filename, uploaded_filename}`` in
   ``data.attachments`` and as a type-11 option whose value is that id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from mjapi.errors import TransportError
from mjapi.transports.base import Upload
from mjapi.transports.discord.interactions import Uploaded
from mjapi.transports.discord.rest import DiscordRest


async def upload_all(rest: DiscordRest, channel_id: str, files: Sequence[Upload]) -> list[Uploaded]:
    """Upload ``files`` for an interaction in ``channel_id``; ids are "0", "1", ... in order."""
    requests = [
        {"filename": file.filename, "file_size": len(file.data), "id": str(i)}
        for i, file in enumerate(files)
    ]
    slots = {str(slot.get("id")): slot for slot in await rest.upload_slots(channel_id, requests)}
    uploaded = [_uploaded(str(i), file, slots.get(str(i))) for i, file in enumerate(files)]
    await asyncio.gather(
        *(
            rest.put_upload(str(slots[item.id]["upload_url"]), file.data, file.content_type)
            for item, file in zip(uploaded, files, strict=True)
        )
    )
    return uploaded


def _uploaded(file_id: str, file: Upload, slot: dict[str, Any] | None) -> Uploaded:
    if slot is None or not isinstance(slot.get("upload_url"), str):
        raise TransportError(f"Discord returned no upload slot for file {file_id}")
    name = slot.get("upload_filename")
    if not isinstance(name, str) or not name:
        raise TransportError(f"Discord returned no upload filename for file {file_id}")
    return Uploaded(id=file_id, filename=file.filename, uploaded_filename=name)
