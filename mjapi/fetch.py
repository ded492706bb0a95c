"""Downloading the images clients name by URL (``blendUrls``, ``describeUrl``).

The client must be an ``mjapi.net.Outbound`` client: its connections only reach addresses the URL
guard allowed. Redirects are followed here, one hop at a time, so that a refused hop is reported
with its own URL and the number of hops is ours to limit.
"""

from __future__ import annotations

import asyncio
import posixpath
from urllib.parse import urlsplit

import httpx

from mjapi.errors import BadRequest
from mjapi.net.guard import Refused, refused_url, target_of
from mjapi.transports.base import Upload

MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: Seconds one image may take, redirects and body included (the client's timeout is per read).
DOWNLOAD_TIME_LIMIT = 30.0
MAX_REDIRECTS = 5
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class HttpFetcher:
    """Fetches images over HTTP(S) with a size cap, a time limit and a content-type check."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        max_bytes: int = MAX_IMAGE_BYTES,
        *,
        time_limit: float = DOWNLOAD_TIME_LIMIT,
        max_redirects: int = MAX_REDIRECTS,
    ) -> None:
        self._client = client
        self._max_bytes = max_bytes
        self._time_limit = time_limit
        self._max_redirects = max_redirects

    async def image(self, url: str) -> Upload:
        try:
            async with asyncio.timeout(self._time_limit):
                return await self._follow(url)
        except TimeoutError:
            raise BadRequest(
                f"URL {url} can not be retrieved (took more than {self._time_limit:g} seconds)"
            ) from None

    async def _follow(self, url: str) -> Upload:
        hop = url
        for _ in range(self._max_redirects + 1):
            response = await self._get(url, hop)
            try:
                location = _redirect_target(url, response)
                if location is None:
                    return await self._image_from(url, response)
            finally:
                await response.aclose()
            hop = location
        raise BadRequest(f"URL {url} redirects more than {self._max_redirects} times")

    async def _get(self, url: str, hop: str) -> httpx.Response:
        """The answer to GET ``hop``, body unread; a refused hop is a 400 naming that hop."""
        via = url if hop != url else None
        try:
            target_of(hop)  # the scheme rule; addresses are checked as the connection opens
            return await self._client.send(self._client.build_request("GET", hop), stream=True)
        except Refused as refusal:
            raise refused_url(hop, refusal, redirected_from=via) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise BadRequest(f"URL {url} can not be retrieved ({type(exc).__name__})") from exc

    async def _image_from(self, url: str, response: httpx.Response) -> Upload:
        if not response.is_success:
            raise BadRequest(f"URL {url} can not be retrieved (HTTP {response.status_code})")
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in IMAGE_TYPES:
            raise BadRequest(f"URL {url} is not an image ({kind or 'no content type'})")
        try:
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


def _redirect_target(url: str, response: httpx.Response) -> str | None:
    """The absolute URL a redirect answer points to, or None for any other answer."""
    location = response.headers.get("location")
    if response.status_code not in REDIRECT_CODES or not location:
        return None
    try:
        return str(response.url.join(location))
    except httpx.InvalidURL:
        raise BadRequest(f"URL {url} redirects to an invalid URL") from None


def _filename(url: str, extension: str) -> str:
    """A tidy file name for Discord: the URL's last path part, with the right extension."""
    stem = posixpath.splitext(posixpath.basename(urlsplit(url).path))[0]
    safe = "".join(c for c in stem if c.isalnum() or c in "-_")[:60] or "image"
    return f"{safe}.{extension}"
