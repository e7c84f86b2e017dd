"""The status channel from the helper to the runner: a stream of small msgpack maps on a pipe.

Messages (all maps with an ``event`` key):
``started`` (``helper``, ``pid1``: host pids), ``error`` (``message``, ``hint``) and
``exit`` (``code`` or ``signal``: the payload's fate, sent by pid 1).
Each message is far below PIPE_BUF, so writes from several processes never interleave.
"""

from __future__ import annotations

import os
from typing import Any

import msgpack


class StatusWriter:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, **message: Any) -> None:
        try:
            os.write(self.fd, msgpack.packb(message))
        except OSError:
            pass  # the runner is gone; nothing left to tell


class StatusReader:
    def __init__(self) -> None:
        self._unpacker = msgpack.Unpacker(raw=False)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._unpacker.feed(data)
        return list(self._unpacker)
