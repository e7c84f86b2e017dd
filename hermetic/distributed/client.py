"""The client side of ``--executor dask|dask-local:N``.

The build command plans and keys as for a local build; ``Builder`` asks this executor to build
only what no store or cache holds (``remote_build``). Before submitting a component, its input
objects (spec, sources, options, dependency RPMs) are uploaded to the team cache; the buildroot
is uploaded once per run if the cache lacks it. The Dask task carries digests only. Results are
adopted into the local store after checking that the entry's manifest hashes to the key asked
for and re-hashing every object downloaded.

Ctrl-C cancels the run: nothing new is submitted, queued tasks are cancelled and the run's
cancel event (a Dask ``Event``) makes every worker kill the sandboxes of this run.
"""

from __future__ import annotations

import logging
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
MAX_IN_FLIGHT = 256       # threads waiting on futures; Dask orders the ready ones by priority
CONNECT_TIMEOUT = "20s"
NO_WORKER_TIMEOUT = 120.0  # a cluster without workers this long fails the run instead of hanging
WORKER_CHECK_EVERY = 10.0


class DaskExecutor:
    def __init__(self, prepared: Any, cache: Any, executor: Executor, *,
                 scheduler: str | None = None, tls: TlsFiles | None = None,
                 timeout: float | None = None, max_silent_time: float | None = None,
                 renderer: Any = None, environ: dict[str, str] | None = None) -> None:
        import os

        self.prepared = prepared
        self.store = prepared.store
        self.executor = executor
        self.timeout = timeout
        self.max_silent_time = max_silent_time
        self.renderer = renderer
        self.run_id = secrets.token_hex(8)
        self.cancelled = threading.Event()
        self.interrupted = False
        self.client: Any = None
        self.cluster: Any = None
        self._futures: set[Any] = set()
        self._futures_lock = threading.Lock()
        self._event_set = False
        self.submitted: list[str] = []          # component names, in submission order
        self._workers_seen = time.monotonic()
        self._workers_checked = 0.0
        self._check_lock = threading.Lock()
        self._in_cache: set[str] = set()        # digests the team cache is known to hold
        self._cache_lock = threading.Lock()
        env = os.environ if environ is None else environ
        if not cache.push:
            raise ConfigError(f"--executor {_label(executor)} needs a team cache to move inputs "
                              "and outputs through",
                              hint="give --push URL (e.g. a `hermetic serve` on this network) "
                                   "or set push in the [cache] table")
        buildroot = prepared.buildroot
        if buildroot is None or buildroot.path is None:
            raise ConfigError(f"--executor {_label(executor)} needs a stored buildroot "
                              "(the host buildroot cannot travel to workers)")
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
        from hermetic.remote import open_remote
        from hermetic.graph import critical_path_priorities
        from hermetic.graph import Graph

        self.remote = open_remote(self.cache_url, self.token)
        info = self.remote.info()
        if not info.get("reachable", True):
            raise HermeticError(f"team cache {self.cache_url} is not reachable"
                                + (f" ({info['error']})" if info.get("error") else ""))
        try:
            self._connect()
            selected = self.prepared.selected
            self.priorities = critical_path_priorities(Graph(
                {n: self.prepared.graph.dependencies[n] for n in selected}))
            self._push_buildroot()
            self._survey_cache()
            from hermetic.distributed.execute import progress_topic
            self.client.subscribe_topic(progress_topic(self.run_id), self._on_progress)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> None:
        from distributed import Client

        if self.executor.kind == "dask-local":
            from distributed import LocalCluster

            from hermetic.distributed.cluster import HermeticPlugin, worker_resources
            from hermetic.distributed.workerconfig import WorkerConfig

            self.cluster = LocalCluster(
                n_workers=self.executor.workers, threads_per_worker=2, processes=True,
                host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                resources=worker_resources(1, 1))
            self.client = Client(self.cluster)
            # Same machine, same user: the workers share the client's store (no second copy
            # of the buildroot) and still move every input and output through the cache.
            config = WorkerConfig(store=Path(self.store.root), cache_url=self.cache_url,
                                  token=self.token, secret_key=self.secret_key)
            self.client.register_plugin(HermeticPlugin(config, self_test=True))
        else:
            security = self.tls.security() if self.tls else None
            try:
                self.client = Client(self.scheduler, security=security,
                                     timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                raise HermeticError(f"cannot reach the Dask scheduler {self.scheduler}: {exc}",
                                    hint="is `hermetic scheduler` running there?") from None
        workers = self.client.scheduler_info().get("workers", {})
        self.has_big = any(w.get("resources", {}).get("big", 0) > 0 for w in workers.values())

    def _push_buildroot(self) -> None:
        from hermetic.remote import push_buildroot

        buildroot = self.prepared.buildroot
        if self.remote.get_buildroot_entry(buildroot.digest) is None:
            push_buildroot(self.store.root, buildroot.digest, [self.remote], name=buildroot.name)

    def close(self) -> None:
        if self.cancelled.is_set():
            self._announce_cancel()  # returns once every worker has set the run's event
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - leaving anyway
                pass
        if cluster is not None:
            try:
                cluster.close()
            except Exception:  # noqa: BLE001
                pass

    # -- running the graph ------------------------------------------------------------------

    def run(self, subgraph: Any, builder: Any) -> Any:
        """``run_parallel`` with this executor building; Ctrl-C cancels the run (then raises
        KeyboardInterrupt once every waiting thread has returned)."""
        from hermetic.graph import run_parallel

        builder.settings.remote_build = self.remote_build
        if builder.settings.fail_fast:  # the first failure cancels the run on every worker
            builder.settings.stop = self.cancelled
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, lambda signum, frame: self.cancel())
        try:
            jobs = max(1, min(MAX_IN_FLIGHT, len(subgraph.dependencies)))
            outcome = run_parallel(subgraph, jobs, builder.build_one, stop=self.cancelled)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if self.interrupted:
            raise KeyboardInterrupt
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

    def _announce_cancel(self) -> None:
        if self._event_set or self.client is None:
            return
        self._event_set = True
        from hermetic.distributed.cancel import cancel_run
        try:
            with self._futures_lock:
                futures = list(self._futures)
            if futures:
                self.client.cancel(futures)  # queued tasks never start
            # Running ones: every worker sets the run's event, which kills their sandboxes.
            self.client.run(cancel_run, self.run_id, on_error="ignore")
        except Exception:  # noqa: BLE001 - the scheduler is gone: so are its tasks
            pass

    def _on_progress(self, event: Any) -> None:
        from hermetic.events import ComponentEvent

        _, message = event
        if self.renderer is not None and isinstance(message, dict):
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

    def _upload_inputs(self, task: BuildTask) -> None:
        """Upload what the cache lacks of this task's inputs (one batched ``missing`` call,
        and only for digests not already known to be there)."""
        with self._cache_lock:
            unknown = [d for d in dict.fromkeys([*task.files.values(), *task.dep_rpms])
                       if d not in self._in_cache]
        if not unknown:
            return
        for digest in self.remote.missing(unknown):
            self.remote.put_object(digest, self.store.objects.path(digest))
        with self._cache_lock:
            self._in_cache.update(unknown)

    def _submit_and_wait(self, task: BuildTask) -> TaskResult:
        from hermetic.distributed.execute import run_build_task

        resource = "big" if task.expensive and self.has_big else "slots"
        future = self.client.submit(
            run_build_task, task.to_wire(), key=dask_key(task.key), pure=False,
            resources={resource: 1}, priority=self.priorities.get(task.name, 0), retries=1)
        finished = threading.Event()
        future.add_done_callback(lambda _: finished.set())
        with self._futures_lock:
            self._futures.add(future)
            self.submitted.append(task.name)
        try:
            while True:
                if self.cancelled.is_set():
                    self._announce_cancel()
                    raise _Cancelled
                # Wait here, not in the client's event loop: many waiting threads then cost
                # nothing until their future is done (or the run is cancelled).
                if not finished.wait(POLL_SECONDS):
                    self._check_workers()
                    continue
                try:
                    wire = future.result()
                    break
                except HermeticError:
                    raise
                except Exception as exc:  # noqa: BLE001 - retried once already by Dask
                    if self.cancelled.is_set():
                        raise _Cancelled from None
                    raise HermeticError(f"{task.name}: the build task failed on the cluster "
                                        f"(after a retry): {type(exc).__name__}: {exc}"
                                        f"{_where(exc)}") from None
        finally:
            with self._futures_lock:
                self._futures.discard(future)
        answer = TaskResult.from_wire(wire)
        if answer.status == "cancelled" and not self.cancelled.is_set():
            # Another client's cancel stopped a task we shared through its key: run it anew.
            return self._resubmit(task)
        if answer.status == "cancelled":
            raise _Cancelled
        return answer

    def _check_workers(self) -> None:
        """Fail rather than wait forever when the cluster has had no worker for a while."""
        now = time.monotonic()
        with self._check_lock:
            if now - self._workers_checked < WORKER_CHECK_EVERY:
                return
            self._workers_checked = now
            try:
                count = len(self.client.nthreads())
            except Exception:  # noqa: BLE001 - the scheduler is unreachable: as good as none
                count = 0
            if count:
                self._workers_seen = now
                return
            if now - self._workers_seen > NO_WORKER_TIMEOUT:
                raise HermeticError(f"the Dask cluster has had no worker for "
                                    f"{int(NO_WORKER_TIMEOUT)} s",
                                    hint="start `hermetic worker --scheduler ADDR` somewhere")

    def _resubmit(self, task: BuildTask) -> TaskResult:
        from hermetic.distributed.execute import run_build_task

        future = self.client.submit(run_build_task, task.to_wire(), key=dask_key(task.key, 1),
                                    pure=False, resources={"slots": 1}, retries=1)
        return TaskResult.from_wire(future.result())

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


def _where(exc: BaseException) -> str:
    """`` (at FILE:LINE)`` of the innermost frame of a worker's exception (Dask ships the
    traceback), so a bug on a worker can be found from the client's one-line error."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f" (at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})"


def _label(executor: Executor) -> str:
    return executor.kind if executor.kind != "dask-local" else f"dask-local:{executor.workers}"
