"""Messages between a build and its Dask agent (pure): msgpack maps, each behind a 4-byte length.

A message is a map with an ``op`` key; see ``hermetic.distributed.agent`` for the ops. Frames are
capped so that a corrupt length can never make a reader allocate gigabytes.
"""

from __future__ import annotations

import struct
import threading
from typing import Any, BinaryIO

import msgpack

MAX_FRAME_BYTES = 64 << 20
_LENGTH = struct.Struct(">I")


class FrameError(Exception):
    """The other end sent something that is not a frame (or closed mid-frame)."""


def encode(message: dict[str, Any]) -> bytes:
    body = msgpack.packb(message, use_bin_type=True)
    if len(body) > MAX_FRAME_BYTES:
        raise FrameError(f"message {message.get('op')!r} is {len(body)} bytes, over the "
                         f"{MAX_FRAME_BYTES}-byte limit")
    return _LENGTH.pack(len(body)) + body


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    """The next message, or None at a clean end of stream."""
    header = _read_exactly(stream, _LENGTH.size, allow_eof=True)
    if header is None:
        return None
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {length} bytes announced, over the {MAX_FRAME_BYTES} limit")
    body = _read_exactly(stream, length, allow_eof=False)
    message = msgpack.unpackb(body, raw=False)
    if not isinstance(message, dict) or "op" not in message:
        raise FrameError("a frame without an op")
    return message


def _read_exactly(stream: BinaryIO, size: int, *, allow_eof: bool) -> bytes | None:
    chunks = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            if allow_eof and remaining == size:
                return None
            raise FrameError(f"the stream ended {remaining} bytes short of a frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class FrameWriter:
    """Writes whole frames from any thread."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, op: str, **fields: Any) -> None:
        data = encode({"op": op, **fields})
        with self._lock:
            self._stream.write(data)
            self._stream.flush()
