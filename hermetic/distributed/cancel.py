"""Stopping a running build from outside: Dask never interrupts a running task by itself.

``hermetic.sandbox.run`` blocks until the sandbox is over, so the worker runs the build in a
thread and, when the run is cancelled, kills the sandbox's processes. They are found by the
overlay each build gets: its upper directory (a fresh temporary path per build) appears in the
mount options of every process of that sandbox, and of no other (``/proc/PID/mountinfo``).
Killing pid 1 ends its whole pid namespace; the rest are killed too for good measure.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path


def sandbox_pids(upper_dir: Path) -> list[int]:
    """Pids of the processes whose root overlay uses ``upper_dir`` as its upper layer."""
    upper = str(Path(upper_dir).resolve())
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/mountinfo") as mountinfo:
                text = mountinfo.read()
        except OSError:
            continue  # gone, or not ours to read
        if any(_upper_matches(value, upper) for value in _upper_dirs(text)):
            found.append(int(entry.name))
    return found


def _upper_matches(option_value: str, upper: str) -> bool:
    # Inside the sandbox the host's paths are seen under its old root (e.g. /oldroot/...).
    return option_value == upper or option_value.endswith(upper)


def kill_sandbox(upper_dir: Path) -> int:
    """SIGKILL every process of the sandbox using ``upper_dir``; how many were signalled."""
    count = 0
    for pid in sandbox_pids(upper_dir):
        try:
            os.kill(pid, signal.SIGKILL)
            count += 1
        except (ProcessLookupError, PermissionError):
            pass
    return count


def _upper_dirs(mountinfo: str) -> list[str]:
    values = []
    for line in mountinfo.splitlines():
        if " - overlay " not in line:
            continue
        for option in line.rsplit(" ", 1)[-1].split(","):
            if option.startswith("upperdir="):
                values.append(option[len("upperdir="):])
    return values


class CancelWatch:
    """While active, polls ``cancelled()`` and kills the sandbox of ``upper_dir`` once it says
    so (and again on every later poll, in case the sandbox was still starting)."""

    def __init__(self, upper_dir: Path, cancelled: Callable[[float], bool],
                 poll: float = 0.5) -> None:
        self.upper_dir = upper_dir
        self._cancelled = cancelled
        self._poll = poll
        self._done = threading.Event()
        self.fired = False
        self._thread = threading.Thread(target=self._watch, name="hermetic-cancel-watch",
                                        daemon=True)

    def __enter__(self) -> "CancelWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # No join: the thread may sit in a poll of up to ``poll`` seconds (a scheduler round
        # trip) and the build must not wait for it; once done is set it kills nothing more.
        self._done.set()

    def _watch(self) -> None:
        while not self._done.is_set():
            if self.fired or (self._cancelled(self._poll) and not self._done.is_set()):
                self.fired = True
                kill_sandbox(self.upper_dir)
                self._done.wait(self._poll)
