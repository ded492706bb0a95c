"""Downloading the images clients name by URL (``blendUrls``, ``describeUrl``)."""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

import httpx

from mjapi.errors import BadRequest
from mjapi.transports.base import Upload

MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


class HttpFetcher:
    """Fetches images over HTTP(S) with a size cap and a content-type check."""

    def __init__(self, client: httpx.AsyncClient, max_bytes: int = MAX_IMAGE_BYTES) -> None:
        self._client = client
        self._max_bytes = max_bytes

    async def image(self, url: str) -> Upload:
        try:
            async with self._client.stream("GET", url) as response:
                if not response.is_success:
                    raise BadRequest(
                        f"URL {url} can not be retrieved (HTTP {response.status_code})"
                    )
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in IMAGE_TYPES:
                    raise BadRequest(f"URL {url} is not an image ({kind or 'no content type'})")
                data = await self._read_capped(response, url)
        except httpx.HTTPError as exc:
            raise BadRequest(f"URL {url} can not be retrieved ({type(exc).__name__})") from exc
        return Upload(_filename(url, IMAGE_TYPES[kind]), kind, data)

    async def _read_capped(self, response: httpx.Response, url: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise BadRequest(f"URL {url} is larger than {self._max_bytes} bytes")
            chunks.append(chunk)
        if not size:
            raise BadRequest(f"URL {url} returned an empty body")
        return b"".join(chunks)


def _filename(url: str, extension: str) -> str:
    """A tidy file name for Discord: the URL's last path part, with the right extension."""
    stem = posixpath.splitext(posixpath.basename(urlsplit(url).path))[0]
    safe = "".join(c for c in stem if c.isalnum() or c in "-_")[:60] or "image"
    return f"{safe}.{extension}"
