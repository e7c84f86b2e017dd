"""The status channel from the sandbox to the runner: small msgpack maps on a SOCK_SEQPACKET
socket pair (one record per message, so writes from several processes never interleave).

Messages (all maps with an ``event`` key):
``started`` (from pid 1, carrying a pidfd of pid 1 as SCM_RIGHTS, and ``cgroup``: cgroups the
runner must remove, or None), ``error`` (``message``, ``hint``) and ``exit`` (``code`` or
``signal``: the payload's fate, sent by pid 1).

The pidfd is how the runner knows the sandbox is over: it becomes readable only when pid 1 has
exited, which the kernel lets happen only after every other process of its pid namespace has
been killed and reaped.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import msgpack

MAX_MESSAGE = 65536


def channel() -> tuple[socket.socket, socket.socket]:
    """(runner's end, sandbox's end)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


class StatusWriter:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, **message: Any) -> None:
        try:
            os.write(self.fd, msgpack.packb(message))
        except OSError:
            pass  # the runner is gone; nothing left to tell

    def send_with_fd(self, fd: int, **message: Any) -> None:
        sock = socket.socket(fileno=self.fd)
        try:
            socket.send_fds(sock, [msgpack.packb(message)], [fd])
        except OSError:
            pass
        finally:
            sock.detach()  # the fd stays ours


class StatusReader:
    def __init__(self) -> None:
        self._unpacker = msgpack.Unpacker(raw=False)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._unpacker.feed(data)
        return list(self._unpacker)


def receive(sock: socket.socket) -> tuple[bytes, list[int]]:
    """One record and the descriptors that came with it (``b""`` at end of stream)."""
    # MSG_CMSG_CLOEXEC: the caller may have threads that start processes meanwhile.
    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, 4, socket.MSG_CMSG_CLOEXEC)
    return data, fds
