"""Stopping a run's builds on a worker: Dask never interrupts a running task by itself.

Each process running workers (a ``hermetic worker``, or the agent of ``dask-local``) keeps one
``threading.Event`` per run it is building for (``RUNS``). A
build task runs its sandbox inside ``hermetic.sandbox.cancelling(event)``, so setting the event
kills that sandbox (pid 1 through its pidfd: the whole pid namespace goes) within a tenth of a
second. The build's agent sets it on every worker at once with ``Client.run(cancel_run,
run_id)``: a push, so no task polls the scheduler while it builds. A run cancelled before one of its tasks
starts is remembered (a bounded list), so a task that starts late stops at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator

REMEMBERED_CANCELS = 1024


class RunCancels:
    """The cancel events of the runs this process builds for."""

    def __init__(self, remembered: int = REMEMBERED_CANCELS) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}
        self._users: dict[str, int] = {}
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered

    @contextlib.contextmanager
    def active(self, run_id: str) -> Iterator[threading.Event]:
        """The event of ``run_id`` while a task of that run is building here (already set if
        the run was cancelled before)."""
        with self._lock:
            event = self._events.setdefault(run_id, threading.Event())
            self._users[run_id] = self._users.get(run_id, 0) + 1
            if run_id in self._cancelled:
                event.set()
        try:
            yield event
        finally:
            with self._lock:
                self._users[run_id] -= 1
                if not self._users[run_id]:
                    del self._users[run_id]
                    del self._events[run_id]

    def cancel(self, run_id: str) -> int:
        """Cancel ``run_id`` here; how many of its tasks were building."""
        with self._lock:
            self._cancelled[run_id] = None
            while len(self._cancelled) > self._remembered:
                self._cancelled.popitem(last=False)
            event = self._events.get(run_id)
            if event is not None:
                event.set()
            return self._users.get(run_id, 0)

    def is_cancelled(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._cancelled


RUNS = RunCancels()


def cancel_run(run_id: str) -> int:
    """Run on every worker by the client (``Client.run``): kill the run's sandboxes here."""
    return RUNS.cancel(run_id)
