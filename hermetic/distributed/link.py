"""The build process's end of its Dask agent (``hermetic.distributed.agent``): no Dask here.

``AgentLink.start`` launches the agent at once; ``ready`` waits until it has reached the
cluster. ``submit`` returns a ``Pending`` that a build thread waits on; one reader thread turns
the agent's answers into results. If the agent dies, every waiting build fails with one line.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hermetic.distributed.frames import FrameError, FrameWriter, read_frame
from hermetic.errors import HermeticError

CLOSE_SECONDS = 10.0   # the agent closes its client and LocalCluster within this, or is killed
CANCEL_SECONDS = 30.0  # every worker told to kill the run's sandboxes within this


class TaskCrashed(HermeticError):
    """A task raised something other than a HermeticError on its worker (after Dask's retry):
    a bug or an infrastructure failure, with the innermost frame where it happened."""


@dataclass
class Ready:
    has_big: bool
    slots: int


class Pending:
    """One submitted task: ``wait`` until answered, then ``outcome``."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.wire: dict[str, Any] | None = None
        self.error: HermeticError | None = None
        self.dropped = False  # cancelled before it ran

    def wait(self, timeout: float | None = None) -> bool:
        return self.event.wait(timeout)

    def _answer(self, *, wire: Any = None, error: HermeticError | None = None,
                dropped: bool = False) -> None:
        self.wire, self.error, self.dropped = wire, error, dropped
        self.event.set()


class AgentLink:
    """``spawn`` as early as possible (the agent starts importing Dask at once), then ``begin``
    with the run's settings when they are known."""

    def __init__(self) -> None:
        self.on_progress: Callable[[dict[str, Any]], None] | None = None
        self._process: subprocess.Popen | None = None
        self._begun = False
        self._writer: FrameWriter | None = None
        self._ready = threading.Event()
        self._ready_answer: Ready | HermeticError | None = None
        self.latest: Ready | None = None  # the cluster's capacity as last reported
        self._cancelled = threading.Event()
        self._pending: dict[int, Pending] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._fatal: HermeticError | None = None
        self._reader: threading.Thread | None = None

    # -- lifetime -----------------------------------------------------------------------------

    @classmethod
    def spawn(cls, kind: str) -> "AgentLink":
        """Start the agent of an executor ``kind`` (dask or dask-local)."""
        link = cls()
        link._launch(kind)
        return link

    def begin(self, settings: dict[str, Any],
              on_progress: Callable[[dict[str, Any]], None] | None = None) -> "AgentLink":
        """Tell the agent which cluster to reach (see ``hermetic.distributed.agent``)."""
        self.on_progress = on_progress
        self._begun = True
        self._send("start", **settings)
        return self

    def _launch(self, kind: str) -> None:
        import hermetic

        package_root = str(Path(hermetic.__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root,
                                                          env.get("PYTHONPATH")]))
        env["HERMETIC_AGENT_PARENT"] = str(os.getpid())
        env["HERMETIC_AGENT_KIND"] = kind
        self._process = subprocess.Popen(
            [sys.executable, "-m", "hermetic.distributed.agent"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, close_fds=True)
        self._writer = FrameWriter(self._process.stdin)  # type: ignore[arg-type]
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name="hermetic-agent-reader")
        self._reader.start()

    def ready(self) -> Ready:
        """The cluster's capacity once the agent reached it; raises why it could not."""
        self._ready.wait()
        answer = self._ready_answer
        if isinstance(answer, HermeticError):
            raise answer
        assert answer is not None
        return answer

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if not self._begun:  # never used (nothing to build, or a bad option): no need to wait
            process.kill()
            process.wait()
            return
        try:
            self._send("close")
            process.stdin.close()  # type: ignore[union-attr]
        except (OSError, ValueError, HermeticError):
            pass  # the agent is gone already
        try:
            process.wait(CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    # -- tasks --------------------------------------------------------------------------------

    def submit(self, wire: dict[str, Any], *, key: str, priority: int,
               resource: str) -> Pending:
        pending = Pending()
        with self._lock:
            if self._fatal is not None:
                pending._answer(error=self._fatal)
                return pending
            request = next(self._ids)
            self._pending[request] = pending
        self._send("submit", id=request, wire=wire, key=key, priority=priority,
                   resource=resource)
        return pending

    def cancel(self) -> None:
        """Cancel queued tasks and have every worker kill this run's sandboxes; returns once
        the workers were told (or the agent is gone)."""
        if self._process is None or self._fatal is not None:
            return
        try:
            self._send("cancel")
        except HermeticError:
            return
        self._cancelled.wait(CANCEL_SECONDS)

    # -- the reader thread --------------------------------------------------------------------

    def _send(self, op: str, **fields: Any) -> None:
        try:
            assert self._writer is not None
            self._writer.send(op, **fields)
        except (OSError, ValueError) as exc:
            raise self._fatal or HermeticError(f"the Dask agent is gone ({exc})") from None

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stream = self._process.stdout
        try:
            while True:
                message = read_frame(stream)
                if message is None:
                    break
                self._dispatch(message)
        except FrameError as exc:
            self._fail(HermeticError(f"the Dask agent sent garbage: {exc}"))
            return
        status = self._process.poll() if self._process else None
        self._fail(HermeticError("the Dask agent exited"
                                 + (f" with status {status}" if status else ""),
                                 hint="its error is printed above"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message["op"]
        if op in ("ready", "capacity"):
            self.latest = Ready(bool(message["has_big"]), int(message["slots"]))
            if op == "ready":
                self._ready_answer = self.latest
                self._ready.set()
        elif op == "error":
            self._ready_answer = HermeticError(message["message"], hint=message.get("hint"))
            self._ready.set()
        elif op in ("done", "raised", "dropped"):
            with self._lock:
                pending = self._pending.pop(message["id"], None)
            if pending is None:
                return
            if op == "done":
                pending._answer(wire=message["wire"])
            elif op == "raised":
                kind = HermeticError if message.get("hermetic") else TaskCrashed
                pending._answer(error=kind(message["message"], hint=message.get("hint")))
            else:
                pending._answer(dropped=True)
        elif op == "progress" and self.on_progress is not None:
            self.on_progress(message["message"])
        elif op == "cancelled":
            self._cancelled.set()
        elif op == "no-workers":
            self._fail(HermeticError(f"the Dask cluster has had no worker for "
                                     f"{message['seconds']} s",
                                     hint="start `hermetic worker --scheduler ADDR` somewhere"))

    def _fail(self, error: HermeticError) -> None:
        """Every waiting task and any later one fails with ``error``."""
        with self._lock:
            self._fatal = self._fatal or error
            pending, self._pending = list(self._pending.values()), {}
        if not self._ready.is_set():
            self._ready_answer = error
            self._ready.set()
        self._cancelled.set()
        for item in pending:
            item._answer(error=error)

