"""``python -I -m hermetic.sandbox STATUS_FD``: the one-shot helper (spec as msgpack on stdin).

``python -I -m hermetic.sandbox --server SOCKET_FD``: the fork server used by ``run()``.
"""

from __future__ import annotations

import os
import sys

import msgpack

from hermetic.sandbox.spec import SandboxSpec
from hermetic.sandbox.status import StatusWriter


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--server"]:
        from hermetic.sandbox import forkserver
        return forkserver.serve(int(argv[1]))
    os.set_inheritable(int(argv[0]), False)  # the payload must not inherit the status pipe
    status = StatusWriter(int(argv[0]))
    spec = SandboxSpec.from_wire(msgpack.unpackb(_read_all(0), raw=False))
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    from hermetic.sandbox.helper import run_helper
    return run_helper(spec, status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
