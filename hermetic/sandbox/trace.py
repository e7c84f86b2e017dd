"""Phase time stamps for profiling start-up: ``HERMETIC_SANDBOX_TRACE=/path/file`` appends one
``<host-monotonic-ns> <pid> <phase>`` line per phase from every sandbox process.

Off (one dictionary lookup at import) unless the variable is set when the module is imported:
in the fork server that is when the caller first calls ``run()``.
"""

from __future__ import annotations

import os
import time

_fd = -1
_path = os.environ.get("HERMETIC_SANDBOX_TRACE")
if _path:
    _fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)


def mark(phase: str) -> None:
    if _fd >= 0:
        os.write(_fd, f"{time.monotonic_ns()} {os.getpid()} {phase}\n".encode())
