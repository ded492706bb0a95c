"""The CDN: every file the bot produced, served at a Discord-style signed URL.

Real attachment URLs look like ``https://cdn.discordapp.com/attachments/<channel>/<attachment>/
<file>?ex=<hex>&is=<hex>&hm=<hex>&`` (capture 20) and ``proxy_url`` points at media.discordapp.net.
Here both live on the simulator: ``/attachments/...`` and ``/media/attachments/...``. Like Discord
the CDN needs no token; the ``ex/is/hm`` parameters are handed out but not checked when serving.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mjapi.clock import Clock
from mjapi.simulator.objects import JsonObject

#: signed URLs say they expire after a day, like Discord's
_URL_LIFETIME_S = 24 * 3600


@dataclass(frozen=True)
class StoredFile:
    """One attachment's bytes and metadata."""

    channel_id: str
    attachment_id: str
    filename: str
    content_type: str
    data: bytes
    width: int
    height: int


class Cdn:
    """Keeps the files (bounded, oldest forgotten first) and builds their attachment objects."""

    def __init__(self, clock: Clock, limit: int) -> None:
        self._clock = clock
        self._limit = limit
        self._files: OrderedDict[tuple[str, str], StoredFile] = OrderedDict()
        self._secret = secrets.token_bytes(32)

    def publish(self, file: StoredFile, origin: str) -> JsonObject:
        """Store ``file``; return its Discord attachment object with URLs under ``origin``."""
        self._files[(file.channel_id, file.attachment_id)] = file
        while len(self._files) > self._limit:
            self._files.popitem(last=False)
        path = f"/attachments/{file.channel_id}/{file.attachment_id}/{file.filename}"
        query = self._signed_query(path)
        return {
            "id": file.attachment_id,
            "filename": file.filename,
            "size": len(file.data),
            "url": f"{origin}{path}?{query}",
            "proxy_url": f"{origin}/media{path}?{query}",
            "width": file.width,
            "height": file.height,
            "content_type": file.content_type,
        }

    def get(self, channel_id: str, attachment_id: str, filename: str) -> StoredFile | None:
        """The stored file, if this exact path was published and is still kept."""
        file = self._files.get((channel_id, attachment_id))
        return file if file is not None and file.filename == filename else None

    def __len__(self) -> int:
        return len(self._files)

    async def serve(self, request: Request) -> Response:
        """``GET /attachments/{channel_id}/{attachment_id}/{filename}`` (and under /media)."""
        params = request.path_params
        file = self.get(params["channel_id"], params["attachment_id"], params["filename"])
        if file is None:
            # Discord's CDN answers a plain-text 404; JSON keeps clients' error paths simple.
            return JSONResponse({"message": "404: Not Found", "code": 0}, status_code=404)
        return Response(file.data, media_type=file.content_type)

    def _signed_query(self, path: str) -> str:
        issued = int(self._clock.now().timestamp())
        expires = issued + _URL_LIFETIME_S
        ex, is_ = f"{expires:08x}", f"{issued:08x}"
        # the one-shot digest: the same MAC as hmac.new(...).hexdigest(), at a fraction of the cost
        mac = hmac.digest(self._secret, f"{path}|{ex}|{is_}".encode(), "sha256").hex()
        return f"ex={ex}&is={is_}&hm={mac}&"
