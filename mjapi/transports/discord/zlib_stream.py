"""The gateway's ``compress=zlib-stream`` transport compression, decoded (pure).

With zlib-stream the whole connection is ONE zlib stream: every gateway message is deflated with
the same context and ends in a sync flush, whose empty stored block is the bytes ``00 00 FF FF``.
A message may be split over several websocket frames, so binary frames are buffered until the
buffer ends with that suffix, then inflated with the connection's single decompressor (reference
§2.1; a new decompressor per message would lose the shared dictionary and fail).
"""

from __future__ import annotations

import zlib

#: The end of a sync flush: a complete message has been received.
ZLIB_SUFFIX = b"\x00\x00\xff\xff"


class ZlibStreamError(Exception):
    """The stream is corrupt (or a message grew past the limit): only a new connection helps."""


class ZlibStream:
    """The inflate side of one gateway connection; make a new one per connection."""

    def __init__(self, max_message_bytes: int) -> None:
        self._inflate = zlib.decompressobj()
        self._buffer = bytearray()
        self._max = max_message_bytes

    def feed(self, chunk: bytes) -> str | None:
        """The JSON text completed by ``chunk``, or None while the message is still partial."""
        self._buffer += chunk
        if len(self._buffer) > self._max:
            raise ZlibStreamError("gateway message exceeds the size limit")
        if not self._buffer.endswith(ZLIB_SUFFIX):
            return None
        data, self._buffer = bytes(self._buffer), bytearray()
        try:
            # Decompress.decompress() inflates with Z_SYNC_FLUSH: all input is consumed and all
            # output up to the flush point is returned, which is what the suffix promises.
            text = self._inflate.decompress(data, self._max)
        except zlib.error as exc:
            raise ZlibStreamError(f"corrupt zlib stream ({exc})") from None
        if self._inflate.unconsumed_tail:
            raise ZlibStreamError("gateway message exceeds the size limit")
        try:
            return text.decode()
        except UnicodeDecodeError:
            raise ZlibStreamError("gateway message is not UTF-8") from None
