"""The network: a private namespace in which only the loopback interface is up.

A fresh network namespace holds exactly one interface, ``lo``, and it is down. Raising it is one
``SIOCGIFFLAGS``/``SIOCSIFFLAGS`` ioctl pair on any socket of the namespace: microseconds, no
module to import, nothing to read from the host's files after the pivot. (pyroute2's netlink
exchange did the same job in milliseconds and cost 150 ms of imports in every helper.) The
kernel gives ``lo`` its 127.0.0.1/8 and ::1 addresses and routes as it comes up.
"""

from __future__ import annotations

import fcntl
import socket
import struct

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = "16sh22x"  # struct ifreq: the name, then ifr_flags in the 24-byte union


def bring_up_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        _, flags = struct.unpack(_IFREQ, fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | IFF_UP))


def loopback_is_up() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        reply = fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, struct.pack(_IFREQ, b"lo", 0))
        return bool(struct.unpack(_IFREQ, reply)[1] & IFF_UP)
