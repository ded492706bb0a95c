"""ZlibStream: the gateway's zlib-stream transport compression, fed frame by frame."""

from __future__ import annotations

import json
import zlib

import pytest

from mjapi.transports.discord.zlib_stream import ZLIB_SUFFIX, ZlibStream, ZlibStreamError

LIMIT = 1 << 20


class Deflater:
    """The server side: one compress context, a sync flush after each message (like Discord)."""

    def __init__(self) -> None:
        self._compress = zlib.compressobj()

    def message(self, payload: object) -> bytes:
        data = self._compress.compress(json.dumps(payload).encode())
        return data + self._compress.flush(zlib.Z_SYNC_FLUSH)


def test_one_message_in_one_frame() -> None:
    server, stream = Deflater(), ZlibStream(LIMIT)
    frame = server.message({"op": 10, "d": {"heartbeat_interval": 41250}})

    assert frame.endswith(ZLIB_SUFFIX)
    assert json.loads(stream.feed(frame) or "") == {"op": 10, "d": {"heartbeat_interval": 41250}}


def test_a_message_split_over_frames_is_buffered_until_the_suffix() -> None:
    server, stream = Deflater(), ZlibStream(LIMIT)
    frame = server.message({"op": 0, "t": "READY", "d": {"guilds": ["x"] * 500}})
    # Cut inside the suffix too: only the complete 00 00 FF FF ends a message.
    pieces = [frame[:10], frame[10:-2], frame[-2:]]

    assert stream.feed(pieces[0]) is None
    assert stream.feed(pieces[1]) is None
    text = stream.feed(pieces[2])

    assert text is not None and json.loads(text)["t"] == "READY"


def test_later_messages_need_the_same_context() -> None:
    # Each message refers back to what the stream already carried (shared window): a fresh
    # decompressor per message would fail, one per connection works.
    server, stream = Deflater(), ZlibStream(LIMIT)
    payloads = [
        {"op": 0, "s": n, "t": "MESSAGE_UPDATE", "d": {"content": "same " * 50}} for n in range(5)
    ]
    frames = [server.message(p) for p in payloads]

    assert [json.loads(stream.feed(f) or "") for f in frames] == payloads
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(frames[3])


def test_garbage_is_a_stream_error() -> None:
    with pytest.raises(ZlibStreamError):
        ZlibStream(LIMIT).feed(b"not zlib at all" + ZLIB_SUFFIX)


def test_a_message_over_the_limit_is_refused_compressed_or_not() -> None:
    server = Deflater()
    big = server.message({"d": "a" * 10_000})  # compresses to far less than 10 kB

    with pytest.raises(ZlibStreamError, match="size limit"):
        ZlibStream(1_000).feed(big)
    with pytest.raises(ZlibStreamError, match="size limit"):
        ZlibStream(16).feed(b"\x00" * 17)


def test_invalid_utf8_is_a_stream_error() -> None:
    compress = zlib.compressobj()
    frame = compress.compress(b"\xff\xfe") + compress.flush(zlib.Z_SYNC_FLUSH)
    with pytest.raises(ZlibStreamError, match="UTF-8"):
        ZlibStream(LIMIT).feed(frame)
