"""A build's Dask client, in a process of its own: ``python -m hermetic.distributed.agent``.

``hermetic build --executor dask|dask-local:N`` starts this process first thing and goes on
loading, fetching, rendering and keying; meanwhile the agent imports Dask, reaches the
cluster (or starts the ``LocalCluster`` of ``dask-local``) and waits for tasks. Importing Dask
alone costs about 0.75 s of CPU, and in the build process it could only run after the pipeline
(one interpreter runs one thread at a time), so it would delay every run by that much; here it
runs on another core while the pipeline plans (figures in docs/performance.md). The build
process never imports Dask.

``dask-local:N`` runs its N workers in this process, on Dask's event loop and their own
threads, talking to the scheduler over loopback TCP; each build is a sandboxed child process as
always. Worker *processes* would each pay Dask's start-up again to host threads that only wait
for sandboxes. Separate ``hermetic worker`` processes are what ``--executor dask`` is for.

Messages (``hermetic.distributed.frames``) from the build process::

    start  {kind, workers, scheduler, tls, worker, run_id}   first, once
    submit {id, wire, key, priority, resource}                a BuildTask's wire form
    cancel {}                     cancel queued tasks; every worker kills this run's sandboxes
    close  {}                     close the client (and the LocalCluster), then exit

and to it::

    ready  {has_big, slots} | error {message, hint}   answer to start
    capacity {has_big, slots}    the cluster's workers changed (checked every few seconds)
    done {id, wire} | raised {id, message, hint, hermetic} | dropped {id}   one per submit
    progress {message}           a worker started a task of this run
    cancelled {}                 answer to cancel, once every worker was told
    no-workers {seconds}         the cluster has had no worker that long: the run fails

The agent exits when its input ends or its parent dies (SIGTERM by ``PR_SET_PDEATHSIG``), and
ignores SIGINT: Ctrl-C reaches the build process, which cancels the run through ``cancel``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from hermetic.distributed.frames import FrameWriter, read_frame
from hermetic.errors import HermeticError

CONNECT_TIMEOUT = "20s"
NO_WORKER_TIMEOUT = 120.0   # a cluster without workers this long fails the run
WORKER_CHECK_EVERY = 5.0   # also how soon the build learns of workers that joined or left
RETRIES = 1                 # an infrastructure error is retried once, possibly elsewhere


class Agent:
    def __init__(self, start: dict[str, Any], out: FrameWriter) -> None:
        self.start = start
        self.out = out
        self.run_id: str = start["run_id"]
        self.client: Any = None
        self.cluster: Any = None
        self._futures: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()

    # -- connecting ---------------------------------------------------------------------------

    def connect(self) -> None:
        from hermetic.distributed.daskconfig import install_defaults

        install_defaults()
        from distributed import Client

        if self.start["kind"] == "dask-local":
            from distributed import LocalCluster

            from hermetic.distributed.cluster import HermeticPlugin, worker_resources
            from hermetic.distributed.workerconfig import WorkerConfig

            # N workers in this process build N at a time (like local -j N), through one
            # process-wide gate; Dask admits one task more per worker, whose entry check,
            # fetch and lay-out and the previous task's push then overlap the builds.
            workers = self.start["workers"]
            self.cluster = LocalCluster(
                n_workers=workers, threads_per_worker=3, processes=False,
                protocol="tcp", host="127.0.0.1", dashboard_address=None,
                silence_logs=logging.ERROR, resources=worker_resources(2, 1))
            self.client = Client(self.cluster)
            settings = dict(self.start["worker"])
            config = WorkerConfig(store=Path(settings["store"]), cache_url=settings["cache_url"],
                                  token=settings.get("token"),
                                  secret_key=Path(settings["secret_key"])
                                  if settings.get("secret_key") else None,
                                  sandbox_slots=workers)
            self.client.register_plugin(HermeticPlugin(config, self_test=True))
        else:
            from hermetic.distributed.security import TlsFiles

            tls = self.start.get("tls")
            security = TlsFiles(**{k: Path(v) for k, v in tls.items()}).security() \
                if tls else None
            try:
                self.client = Client(self.start["scheduler"], security=security,
                                     timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                raise HermeticError(f"cannot reach the Dask scheduler "
                                    f"{self.start['scheduler']}: {exc}",
                                    hint="is `hermetic scheduler` running there?") from None
        from hermetic.distributed.execute import progress_topic

        self.client.subscribe_topic(progress_topic(self.run_id), self._on_progress)

    def capacity(self) -> tuple[bool, int]:
        """(some worker offers a big slot, the ordinary and big slots of all workers)."""
        workers = self.client.scheduler_info().get("workers", {})
        resources = [w.get("resources", {}) for w in workers.values()]
        has_big = any(r.get("big", 0) > 0 for r in resources)
        slots = sum(int(r.get("slots", 0)) + int(r.get("big", 0)) for r in resources)
        return has_big, slots

    # -- serving the build process ------------------------------------------------------------

    def serve(self, stream: Any) -> None:
        watchdog = threading.Thread(target=self._watch_workers, daemon=True,
                                    name="hermetic-agent-workers")
        watchdog.start()
        while True:
            message = read_frame(stream)
            if message is None or message["op"] == "close":
                return
            if message["op"] == "submit":
                self._submit(message)
            elif message["op"] == "cancel":
                self._cancel()

    def _submit(self, message: dict[str, Any]) -> None:
        from hermetic.distributed.execute import run_build_task

        request = message["id"]
        future = self.client.submit(
            run_build_task, message["wire"], key=message["key"], pure=False,
            resources={message["resource"]: 1}, priority=message["priority"], retries=RETRIES)
        with self._lock:
            self._futures[request] = future
        future.add_done_callback(lambda done: self._finished(request, done))

    def _finished(self, request: int, future: Any) -> None:
        with self._lock:
            self._futures.pop(request, None)
        try:
            if future.cancelled():
                self.out.send("dropped", id=request)
                return
            error = future.exception()
            if error is None:
                self.out.send("done", id=request, wire=future.result())
                return
        except Exception as exc:  # noqa: BLE001 - the scheduler went away meanwhile
            error = exc
        if isinstance(error, HermeticError):
            self.out.send("raised", id=request, message=error.message, hint=error.hint,
                          hermetic=True)
        else:
            self.out.send("raised", id=request, hermetic=False, hint=None,
                          message=f"{type(error).__name__}: {error}{_where(error)}")

    def _cancel(self) -> None:
        from hermetic.distributed.cancel import cancel_run

        with self._lock:
            futures = list(self._futures.values())
        try:
            if futures:
                self.client.cancel(futures)  # queued tasks never start
            # Running ones: every worker sets the run's event, which kills their sandboxes.
            self.client.run(cancel_run, self.run_id, on_error="ignore")
        except Exception:  # noqa: BLE001 - the scheduler is gone: so are its tasks
            pass
        self.out.send("cancelled")

    def _on_progress(self, event: Any) -> None:
        _, message = event
        if isinstance(message, dict):
            self.out.send("progress", message=message)

    def _watch_workers(self) -> None:
        """Tell the build when the cluster's capacity changes (workers join or leave), and
        when it has had no worker for NO_WORKER_TIMEOUT seconds while tasks wait, rather than
        let it wait forever."""
        seen = time.monotonic()
        reported = self.capacity()
        while not self._closing.wait(WORKER_CHECK_EVERY):
            with self._lock:
                waiting = bool(self._futures)
            try:
                has_big, slots = self.capacity()
            except Exception:  # noqa: BLE001 - the scheduler is unreachable: as good as none
                has_big, slots = False, 0
            if (has_big, slots) != reported and slots:
                self.out.send("capacity", has_big=has_big, slots=slots)
                reported = (has_big, slots)
            now = time.monotonic()
            if slots or not waiting:
                seen = now
            elif now - seen > NO_WORKER_TIMEOUT:
                self.out.send("no-workers", seconds=int(NO_WORKER_TIMEOUT))
                seen = now

    def close(self) -> None:
        self._closing.set()
        for closable in (self.client, self.cluster):
            if closable is None:
                continue
            try:
                closable.close()
            except Exception:  # noqa: BLE001 - leaving anyway
                pass


def _where(exc: BaseException) -> str:
    """`` (at FILE:LINE)`` of the innermost frame of a worker's exception (Dask ships the
    traceback), so a bug on a worker can be found from the build's one-line error."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f" (at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})"


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = int(os.environ.get("HERMETIC_AGENT_PARENT", "0"))
    from hermetic.sandbox.libc import set_pdeathsig
    set_pdeathsig(signal.SIGTERM)
    if parent and os.getppid() != parent:
        return 1  # the build already ended
    # The protocol owns the original stdout; anything printed goes to stderr instead.
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    # Launched before the build knows its settings: start what needs none of them at once.
    if os.environ.get("HERMETIC_AGENT_KIND") == "dask-local":
        from hermetic.sandbox import warm_up

        warm_up()  # the in-process workers' sandbox server starts while Dask is imported
    from hermetic.distributed.daskconfig import install_defaults

    out = FrameWriter(protocol_out)
    try:
        install_defaults()  # imports Dask
    except ImportError as exc:
        out.send("error", message=f"the Dask executors need Dask, which is not installed "
                                  f"({exc})", hint="pip install 'hermetic[dask]'")
        return 0
    return run(sys.stdin.buffer, out)


def run(stream: Any, out: FrameWriter) -> int:
    """Serve one build on ``stream`` (its messages) and ``out`` (the answers)."""
    start = read_frame(stream)
    if start is None or start["op"] != "start":
        return 1
    agent = Agent(start, out)
    try:
        try:
            agent.connect()
            has_big, slots = agent.capacity()
        except HermeticError as exc:
            out.send("error", message=exc.message, hint=exc.hint)
            return 0
        except Exception as exc:  # noqa: BLE001 - reported to the build as one line
            out.send("error", message=f"starting the Dask client failed: "
                                      f"{type(exc).__name__}: {exc}", hint=None)
            return 0
        out.send("ready", has_big=has_big, slots=slots)
        agent.serve(stream)
        return 0
    finally:
        agent.close()


if __name__ == "__main__":
    code = main()
    # The client, the cluster and the fork server are closed: skip the interpreter's teardown
    # of Dask's threads and modules (a quarter of a second the build would wait for).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
