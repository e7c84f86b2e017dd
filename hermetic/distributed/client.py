"""The client side of ``--executor dask|dask-local:N``.

The build command plans and keys as for a local build; ``Builder`` asks this executor to build
only what no store or cache holds (``remote_build``). Before submitting a component, its input
objects (spec, sources, options, dependency RPMs) are uploaded to the team cache; the buildroot
is uploaded once per run if the cache lacks it. The Dask task carries digests only. Results are
adopted into the local store after checking that the entry's manifest hashes to the key asked
for and re-hashing every object downloaded.

Dask itself runs in the run's agent process (``hermetic.distributed.agent``), which the build
command spawns first thing, so it reaches the cluster while the pipeline plans; this module
talks to it through ``AgentLink`` and never imports Dask.

Ctrl-C cancels the run: nothing new is submitted, queued tasks are cancelled and every worker
is told to kill the sandboxes of this run.
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Any

from hermetic.distributed.security import SCHEDULER_ENV, Executor, TlsFiles, check_address
from hermetic.distributed.task import BuildTask, TaskResult, dask_key
from hermetic.errors import ConfigError, HermeticError

POLL_SECONDS = 0.5
# Components in flight (submitted or about to be) per build slot of the cluster: enough that no
# slot waits for the next task, few enough that the first tasks are not delayed by dozens of
# threads planning and uploading at once. Before the cluster's size is known: START_IN_FLIGHT.
IN_FLIGHT_PER_SLOT = 2
START_IN_FLIGHT = 4


class DaskExecutor:
    """Used as ``with DaskExecutor(…) as executor:`` around the whole pipeline: entering tells
    the run's agent (spawned by the build command, or here) which cluster to reach, which it
    does while the pipeline plans; ``run`` builds what needs building, waiting for the agent
    only when the first component must be submitted."""

    def __init__(self, store: Any, cache: Any, executor: Executor, *,
                 scheduler: str | None = None, tls: TlsFiles | None = None,
                 timeout: float | None = None, max_silent_time: float | None = None,
                 environ: dict[str, str] | None = None, link: Any = None) -> None:
        import os

        self.store = store
        self.executor = executor
        self.timeout = timeout
        self.max_silent_time = max_silent_time
        self.prepared: Any = None
        self.renderer: Any = None
        self.run_id = secrets.token_hex(8)
        self.cancelled = threading.Event()
        self.interrupted = False
        self.link: Any = link                   # AgentLink (spawned here if not given)
        self.capacity: Any = None               # the agent's Ready, once joined
        self._join_lock = threading.Lock()
        self._join_error: BaseException | None = None
        self._cancel_sent = False
        self._cancel_lock = threading.Lock()
        self._in_cache: set[str] = set()        # digests the team cache is known to hold
        self._absent: set[str] = set()          # digests it lacked at the survey
        self._cache_lock = threading.Lock()
        env = os.environ if environ is None else environ
        if not cache.push:
            raise ConfigError(f"--executor {_label(executor)} needs a team cache to move inputs "
                              "and outputs through",
                              hint="give --push URL (e.g. a `hermetic serve` on this network) "
                                   "or set push in the [cache] table")
        self.cache_url = cache.push[0]
        self.push_targets = len(cache.push)
        from hermetic.remote import read_token
        self.token = read_token(cache.token_file)
        self.secret_key = cache.secret_key
        self.scheduler = None
        if executor.kind == "dask":
            address = scheduler or env.get(SCHEDULER_ENV)
            if not address:
                raise ConfigError("--executor dask needs --scheduler ADDR "
                                  f"(or ${SCHEDULER_ENV})",
                                  hint="start one with `hermetic scheduler` and workers with "
                                       "`hermetic worker --scheduler ADDR`")
            self.scheduler = check_address(address, tls)
        self.tls = tls

    # -- lifetime ---------------------------------------------------------------------------

    def __enter__(self) -> "DaskExecutor":
        from hermetic.distributed.link import AgentLink
        from hermetic.remote import open_remote

        worker = None
        if self.executor.kind == "dask-local":
            # Same machine, same user: the workers share the client's store (no second copy
            # of the buildroot) and still move every input and output through the cache.
            worker = {"store": str(self.store.root), "cache_url": self.cache_url,
                      "token": self.token,
                      "secret_key": str(self.secret_key) if self.secret_key else None}
        tls = None if self.tls is None else {"ca": str(self.tls.ca), "cert": str(self.tls.cert),
                                             "key": str(self.tls.key)}
        try:
            if self.link is None:
                self.link = AgentLink.spawn(self.executor.kind)
            self.link.begin({"kind": self.executor.kind, "workers": self.executor.workers,
                             "scheduler": self.scheduler, "tls": tls, "worker": worker,
                             "run_id": self.run_id}, on_progress=self._on_progress)
            self.remote = open_remote(self.cache_url, self.token)
            info = self.remote.info()
            if not info.get("reachable", True):
                raise HermeticError(f"team cache {self.cache_url} is not reachable"
                                    + (f" ({info['error']})" if info.get("error") else ""))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _join(self) -> None:
        """What the first submission needs, done once: the buildroot in the cache, the cache
        survey, the cluster and the progress subscription. A run whose components are all
        cached or pulled never gets here, so it never waits for the cluster."""
        with self._join_lock:
            if self._join_error is not None:
                raise self._join_error
            if self.capacity is not None:
                return
            try:
                self._push_buildroot()
                self._survey_cache()
                self.capacity = self.link.ready()
            except BaseException as exc:
                self._join_error = exc
                self.cancel(interrupted=False)  # nothing can be built: end the run
                raise

    def _push_buildroot(self) -> None:
        from hermetic.remote import push_buildroot

        buildroot = self.prepared.buildroot
        if self.remote.get_buildroot_entry(buildroot.digest) is None:
            push_buildroot(self.store.root, buildroot.digest, [self.remote], name=buildroot.name)

    def close(self) -> None:
        if self.cancelled.is_set():
            self._announce_cancel()  # returns once every worker has set the run's event
        link, self.link = self.link, None
        if link is not None:
            link.close()

    # -- running the graph ------------------------------------------------------------------

    def run(self, prepared: Any, subgraph: Any, builder: Any, renderer: Any = None) -> Any:
        """``run_parallel`` with this executor building; Ctrl-C cancels the run (then raises
        KeyboardInterrupt once every waiting thread has returned)."""
        from hermetic.graph import run_parallel

        from hermetic.graph import critical_path_priorities

        buildroot = prepared.buildroot
        if buildroot is None or buildroot.path is None:
            raise ConfigError(f"--executor {_label(self.executor)} needs a stored buildroot "
                              "(the host buildroot cannot travel to workers)")
        self.prepared, self.renderer = prepared, renderer
        self.priorities = critical_path_priorities(subgraph)
        builder.settings.remote_build = self.remote_build
        if builder.settings.fail_fast:  # the first failure cancels the run on every worker
            builder.settings.stop = self.cancelled
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, lambda signum, frame: self.cancel())
        try:
            outcome = run_parallel(subgraph, self._in_flight, builder.build_one,
                                   stop=self.cancelled, priority=self.priorities)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if self.interrupted:
            raise KeyboardInterrupt
        if self._join_error is not None:
            raise self._join_error  # one line for the run, not one per component
        return outcome

    def cancel(self, interrupted: bool = True) -> None:
        """Stop the run (safe from a signal handler: it only sets flags)."""
        self.interrupted = self.interrupted or interrupted
        self.cancelled.set()

    def _cancel_reason(self) -> str:
        if self.interrupted:
            return "cancelled (interrupted)"
        from hermetic.builder import CANCELLED
        return CANCELLED

    def _in_flight(self) -> int:
        """How many components may be in flight now, from the cluster's capacity as the agent
        last reported it (``run_parallel`` asks again every second)."""
        latest = self.link.latest if self.link is not None else None
        if self.capacity is None or latest is None:
            return START_IN_FLIGHT
        return max(START_IN_FLIGHT, IN_FLIGHT_PER_SLOT * latest.slots)

    def _announce_cancel(self) -> None:
        with self._cancel_lock:
            if self._cancel_sent or self.link is None or self.capacity is None:
                return
            self._cancel_sent = True
        self.link.cancel()  # returns once every worker was told

    def _on_progress(self, message: dict[str, Any]) -> None:
        from hermetic.events import ComponentEvent

        if self.renderer is not None:
            self.renderer.emit(ComponentEvent(message["name"], "building", key=message["key"],
                                              detail=f"on {message['worker']}"))

    # -- one component ----------------------------------------------------------------------

    def task_for(self, builder: Any, name: str, key: str, manifest: dict[str, Any]) -> BuildTask:
        from hermetic import __version__
        from hermetic.pipeline import BUILD_CPU_COUNT
        from hermetic.sandbox.profile import PROFILE_VERSION

        item = self.prepared.components[name]
        dep_rpms = [output.digest
                    for dep in sorted(self.prepared.graph.dependencies[name])
                    for output in builder.results[dep].entry.outputs if output.kind == "rpm"]
        expensive = bool(item.component.config.build.hints.expensive)
        return BuildTask(
            key=key, name=name, manifest=manifest, spec_name=item.spec_name,
            files=dict(item.files), buildroot=self.prepared.buildroot.digest, dep_rpms=dep_rpms,
            source_date_epoch=item.source_date_epoch, check_skip=item.check_skip,
            cpu_count=BUILD_CPU_COUNT, timeout=self.timeout,
            max_silent_time=self.max_silent_time, expensive=expensive,
            hermetic_version=__version__, sandbox_profile=PROFILE_VERSION, run_id=self.run_id)

    def remote_build(self, builder: Any, name: str, key: str, manifest: dict[str, Any],
                     started: float) -> Any:
        """Builder's hook: build ``name`` on the cluster; a ComponentResult."""
        from hermetic.builder import ComponentResult

        from hermetic.distributed import phases as profile

        if self.cancelled.is_set():
            return ComponentResult(name, key, "failed", error=self._cancel_reason())
        steps = profile.Phases()
        steps.add("client_plan", time.monotonic() - started)
        with steps.step("client_join"):
            self._join()
        with steps.step("client_task"):
            task = self.task_for(builder, name, key, manifest)
        with steps.step("client_upload"):
            self._upload_inputs(task)
        try:
            with steps.step("client_wait"):
                answer = self._submit_and_wait(task)
        except _Cancelled:
            return ComponentResult(name, key, "failed", error=self._cancel_reason())
        except HermeticError as exc:
            return ComponentResult(name, key, "failed", error=str(exc))
        with steps.step("client_adopt"):
            result = self._adopt(answer)
        profile.record({"name": name, "status": answer.status, "worker": answer.worker,
                        **steps.rounded(), **answer.phases})
        return result

    def _survey_cache(self) -> None:
        """One ``missing`` call for the input files of every selected component, before any
        submission: a task whose inputs the cache already holds then costs no round trip.
        Nothing is uploaded yet (a component with a result is never submitted)."""
        digests = list(dict.fromkeys(digest for name in self.prepared.selected
                                     for digest in self.prepared.components[name].files.values()))
        absent = set(self.remote.missing(digests))
        with self._cache_lock:
            self._in_cache.update(d for d in digests if d not in absent)
            self._absent.update(absent)

    def _upload_inputs(self, task: BuildTask) -> None:
        """Upload what the cache lacks of this task's inputs before submitting it. Digests
        known to be there cost nothing; known-absent and small ones are sent at once (put is
        put-if-absent everywhere); only large unknown ones (dependency RPMs from an earlier
        run) are asked about first, in one ``missing`` call."""
        from hermetic.remote.uploader import ASK_FIRST_BYTES

        with self._cache_lock:
            unknown = [d for d in dict.fromkeys([*task.files.values(), *task.dep_rpms])
                       if d not in self._in_cache]
            known_absent = {d for d in unknown if d in self._absent}
        if not unknown:
            return
        objects = self.store.objects
        ask = [d for d in unknown if d not in known_absent
               and objects.path(d).stat().st_size >= ASK_FIRST_BYTES]
        asked = set(ask)
        send = [d for d in unknown if d not in asked]
        for digest in [*send, *(self.remote.missing(ask) if ask else [])]:
            self.remote.put_object(digest, objects.path(digest))
        with self._cache_lock:
            self._in_cache.update(unknown)

    def _submit_and_wait(self, task: BuildTask, attempt: int = 0) -> TaskResult:
        # After _join the link always holds the capacity the agent last reported.
        resource = "big" if task.expensive and self.link.latest.has_big else "slots"
        pending = self.link.submit(task.to_wire(), key=dask_key(task.key, attempt),
                                   priority=self.priorities.get(task.name, 0),
                                   resource=resource)
        # Wait here, in this build's thread: the agent answers every task exactly once.
        while not pending.wait(POLL_SECONDS):
            if self.cancelled.is_set():
                self._announce_cancel()
                raise _Cancelled
        if pending.dropped or (pending.error is not None and self.cancelled.is_set()):
            raise _Cancelled
        if pending.error is not None:
            from hermetic.distributed.link import TaskCrashed

            if isinstance(pending.error, TaskCrashed):
                raise HermeticError(f"{task.name}: the build task failed on the cluster "
                                    f"(after a retry): {pending.error.message}")
            raise pending.error
        answer = TaskResult.from_wire(pending.wire)
        if answer.status == "cancelled" and not self.cancelled.is_set() and attempt == 0:
            # Another client's cancel stopped a task we shared through its key: run it anew.
            return self._submit_and_wait(task, attempt=1)
        if answer.status == "cancelled":
            raise _Cancelled
        return answer

    def _adopt(self, answer: TaskResult) -> Any:
        from hermetic.builder import ComponentResult
        from hermetic.keys import compute_key
        from hermetic.store import ActionEntry

        name, key = answer.name, answer.key
        if answer.status == "failed":
            log_path = self._fetch_log(name, answer.log)
            where = f" on {answer.worker}" if answer.worker else ""
            return ComponentResult(name, key, "failed", error=f"{answer.error}{where}",
                                   log_path=log_path)
        entry = ActionEntry.decode(answer.entry or b"", where=f"{name}: entry from the cluster")
        if entry.key != key or compute_key(entry.manifest) != key:
            return ComponentResult(name, key, "failed",
                                   error=f"the cluster answered with an entry for another key "
                                         f"({entry.key[:16]}…)")
        from hermetic.distributed.execute import fetch_objects
        fetch_objects(self.store, [self.remote], [o.digest for o in entry.outputs])
        if not self.store.actions.has(key):
            self.store.actions.put(key, entry, sign=False)
        stored = self.store.actions.get(key)
        with self._cache_lock:  # the worker pushed them: dependents need not ask again
            self._in_cache.update(o.digest for o in entry.outputs)
        status = "built" if answer.status == "built" else "pulled"
        # The worker pushed outputs and entry to the cache; with no other --push target the
        # build command's uploader has nothing left to do for this result.
        return ComponentResult(name, key, status, entry=stored,
                               pushed=self.push_targets == 1)

    def _fetch_log(self, name: str, digest: str | None) -> Path | None:
        import shutil

        from hermetic.distributed.execute import fetch_objects
        if digest is None:
            return None
        try:
            fetch_objects(self.store, [self.remote], [digest])
        except HermeticError:
            return None
        target = Path(self.store.root) / "failed" / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.store.objects.path(digest), target / "build.log")
        return target / "build.log"


class _Cancelled(Exception):
    pass


def _label(executor: Executor) -> str:
    return executor.kind if executor.kind != "dask-local" else f"dask-local:{executor.workers}"
