"""The build task as it runs on a worker: fetch by digest, build in the sandbox, push, answer.

``run_build_task`` is what the client submits to Dask; it finds the worker's own settings (its
store, cache, token and key: never the client's) through the ``hermetic`` worker plugin, then
calls ``execute``, which needs no Dask and is what the tests drive directly too.

A build failure is an answer (status ``failed`` with the log's digest, pushed to the cache);
an infrastructure problem (cache down, disk full, a damaged download) raises, so Dask retries
the task once, possibly elsewhere. Objects go to the cache before the entry, and the entry is
put-if-absent there: a task re-run after its worker died finds the entry and answers ``cached``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hermetic.distributed.phases import Phases
from hermetic.distributed.task import BuildTask, TaskResult
from hermetic.distributed.workerconfig import WorkerConfig
from hermetic.errors import HermeticError

PLUGIN_NAME = "hermetic"
PROGRESS_TOPIC_PREFIX = "hermetic-run-"
_buildroot_locks: dict[str, threading.Lock] = {}
_buildroot_locks_guard = threading.Lock()
_sandbox_gates: dict[str, threading.Semaphore] = {}
_sandbox_gates_guard = threading.Lock()
GATE_POLL_SECONDS = 0.1


class WorkerRefused(HermeticError):
    """This worker will not run the task (another hermetic version or sandbox profile)."""


def progress_topic(run_id: str) -> str:
    return f"{PROGRESS_TOPIC_PREFIX}{run_id}"


def run_build_task(wire: dict[str, Any]) -> dict[str, Any]:
    """The Dask task function (runs on a worker): see the module docstring."""
    from distributed import get_worker

    from hermetic.distributed.cancel import RUNS

    began, began_at = time.perf_counter(), time.time()
    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN_NAME)
    if plugin is None:
        raise WorkerRefused(f"worker {worker.address} was not started by `hermetic worker` "
                            "(no hermetic settings)")
    phases = Phases()
    task = BuildTask.from_wire(wire)
    check_compatible(task)
    worker.log_event(progress_topic(task.run_id),
                     {"name": task.name, "key": task.key, "state": "building",
                      "worker": worker.address})
    phases.add("worker_start", time.perf_counter() - began)
    phases.mark("worker_began_at", began_at)
    with RUNS.active(task.run_id) as cancel:
        return execute(task, plugin.config, cancel, worker.address, phases).to_wire()


def check_compatible(task: BuildTask) -> None:
    """Refuse a client of a different hermetic version or sandbox profile, and a manifest that
    does not hash to the key it claims."""
    from hermetic import __version__
    from hermetic.keys import compute_key
    from hermetic.sandbox.profile import PROFILE_VERSION

    if task.hermetic_version != __version__:
        raise WorkerRefused(f"{task.name}: the client runs hermetic {task.hermetic_version}, "
                            f"this worker {__version__}")
    if task.sandbox_profile != PROFILE_VERSION:
        raise WorkerRefused(f"{task.name}: the client's sandbox profile is "
                            f"{task.sandbox_profile}, this worker's {PROFILE_VERSION}")
    if compute_key(task.manifest) != task.key:
        raise WorkerRefused(f"{task.name}: the manifest does not hash to key {task.key[:16]}…")


def execute(task: BuildTask, config: WorkerConfig,
            cancel: threading.Event | None = None, worker: str = "",
            phases: Phases | None = None) -> TaskResult:
    """Build ``task`` with the worker's ``config``; setting ``cancel`` kills its sandbox."""
    from hermetic.store import Store

    phases = phases or Phases()
    cancel = cancel or threading.Event()
    started = time.monotonic()
    if cancel.is_set():
        return TaskResult(task.key, task.name, "cancelled", worker,
                          error="cancelled by the client")
    store = Store(config.store)
    remote = config.remote()
    with phases.step("worker_entry_check"):
        existing = remote.get_entry(task.key)
    if existing is not None:  # built meanwhile, or by an earlier attempt of this very task
        return TaskResult(task.key, task.name, "cached", worker, entry=existing,
                          elapsed=time.monotonic() - started, phases=phases.rounded())
    with phases.step("worker_fetch"):
        fetch_inputs(store, config, [*task.files.values(), *task.dep_rpms])
        buildroot = ensure_buildroot(store, config, task.buildroot)
    result = _build(task, config, store, buildroot, cancel, worker, started, phases)
    phases.mark("worker_ended_at", time.time())
    return dataclasses.replace(result, phases=phases.rounded())


def fetch_inputs(store: Any, config: WorkerConfig, digests: list[str]) -> int:
    """Download every object in ``digests`` the worker's store lacks (see ``fetch_objects``)."""
    return fetch_objects(store, config.fetch_remotes(), digests)


def fetch_objects(store: Any, remotes: list[Any], digests: list[str]) -> int:
    """Download every object in ``digests`` the local store lacks from the first of ``remotes``
    that has it, re-hashed on the way in. Returns how many were downloaded."""
    from hermetic.remote import IntegrityError
    from hermetic.remote.localstore import adopt_object, download_path

    missing = store.objects.missing(digests)
    for digest in missing:
        errors = []
        for remote in remotes:
            staged = download_path(store)
            try:
                remote.get_object(digest, staged)
            except IntegrityError as exc:
                errors.append(str(exc))
                continue
            adopt_object(store, digest, staged)
            break
        else:
            raise IntegrityError(f"object {digest[:16]}… is in no cache: " + "; ".join(errors))
    return len(missing)


def ensure_buildroot(store: Any, config: WorkerConfig, digest: str) -> Any:
    """The stored buildroot tree ``digest``, pulled from the cache first if the store lacks it."""
    from hermetic.buildroot.store import lookup_digest
    from hermetic.remote import IntegrityError, pull_buildroot

    name = f"dask-{digest[:12]}"
    found = lookup_digest(store.root, name, digest)
    if found is not None:
        return found
    with _buildroot_locks_guard:
        lock = _buildroot_locks.setdefault(digest, threading.Lock())
    with lock:  # two tasks needing the same tree pull it once
        found = lookup_digest(store.root, name, digest)
        if found is not None:
            return found
        for remote in config.fetch_remotes():
            if pull_buildroot(store.root, digest, remote, name=name) is not None:
                return lookup_digest(store.root, name, digest)
    raise IntegrityError(f"buildroot {digest[:16]}… is in no cache the worker knows")


def _build(task: BuildTask, config: WorkerConfig, store: Any, buildroot: Any,
           cancel: threading.Event, worker: str, started: float,
           phases: Phases) -> TaskResult:
    gate = _sandbox_gate(config)
    with phases.step("worker_gate"):
        while gate is not None and not gate.acquire(timeout=GATE_POLL_SECONDS):
            if cancel.is_set():
                return TaskResult(task.key, task.name, "cancelled", worker,
                                  error="cancelled by the client",
                                  elapsed=time.monotonic() - started)
    turn = _SandboxTurn(gate)
    try:
        return _build_in_turn(task, config, store, buildroot, cancel, worker, started, phases,
                              turn)
    finally:
        turn.release()


def _sandbox_gate(config: WorkerConfig) -> threading.Semaphore | None:
    """The process-wide limit on sandboxes of ``config.sandbox_slots`` (None: no limit)."""
    if not config.sandbox_slots:
        return None
    with _sandbox_gates_guard:
        return _sandbox_gates.setdefault(str(config.store),
                                         threading.Semaphore(config.sandbox_slots))


class _SandboxTurn:
    """One acquired slot of a sandbox gate (or none), released at most once."""

    def __init__(self, gate: threading.Semaphore | None) -> None:
        self.gate = gate

    def release(self) -> None:
        gate, self.gate = self.gate, None
        if gate is not None:
            gate.release()


def _build_in_turn(task: BuildTask, config: WorkerConfig, store: Any, buildroot: Any,
                   cancel: threading.Event, worker: str, started: float, phases: Phases,
                   turn: _SandboxTurn) -> TaskResult:
    from hermetic.builder import capture
    from hermetic.rpm import build_in_sandbox
    from hermetic.sandbox import cancelling

    workdir = Path(tempfile.mkdtemp(prefix=f"dask-{task.name}-", dir=store.tmp_dir()))
    scratch = Path(tempfile.mkdtemp(prefix=f".dask-{task.name}-upper-", dir=store.tmp_dir()))
    try:
        with phases.step("worker_lay_out"):
            _lay_out(store, task, workdir)
        log_path = workdir / "build.log"
        with phases.step("worker_sandbox"), store.buildroot_in_use(buildroot.digest), \
                cancelling(cancel):
            result = build_in_sandbox(
                workdir, task.spec_name, buildroot,
                [store.objects.path(digest) for digest in task.dep_rpms],
                source_date_epoch=task.source_date_epoch, log_path=log_path,
                cpu_count=task.cpu_count, check_skip=task.check_skip, timeout=task.timeout,
                max_silent_time=task.max_silent_time, memory_max=config.memory_max,
                scratch_dir=scratch)
        elapsed = time.monotonic() - started
        if cancel.is_set():
            return TaskResult(task.key, task.name, "cancelled", worker,
                              error="cancelled by the client", elapsed=elapsed)
        if not result.ok:
            log = _push_log(store, config, log_path)
            return TaskResult(task.key, task.name, "failed", worker, error=result.error,
                              log=log, elapsed=elapsed)
        with phases.step("worker_capture"):
            entry = capture(store, task.name, task.key, task.manifest, result, buildroot,
                            task.source_date_epoch, started)
            secret = config.load_secret()
            if secret is not None:
                from hermetic.signing import sign_entry
                entry = store.actions.put(task.key, sign_entry(entry, secret), sign=False)
        turn.release()  # the next build may start while this one's results travel
        from hermetic.remote import upload_entry
        with phases.step("worker_push"):
            upload_entry(config.remote(), store, entry)  # objects first, then the entry
        return TaskResult(task.key, task.name, "built", worker, entry=entry.encode(),
                          elapsed=time.monotonic() - started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        remove_scratch(scratch)


def remove_scratch(path: Path) -> None:
    """Remove a build's scratch tree, whose overlay upper may hold directories the build made
    unreadable (mode 000 is fine for root, not for an unprivileged worker): open them up top
    down first. A cleanup problem never fails the build it follows."""
    from hermetic.treewalk import force_rmtree

    for root, dirs, _ in os.walk(path):
        for name in dirs:
            try:
                os.chmod(os.path.join(root, name), 0o700)
            except OSError:
                pass
    try:
        force_rmtree(path)
    except (OSError, TypeError):  # TypeError: rmtree's onerror handed os.open (Python 3.11.2)
        shutil.rmtree(path, ignore_errors=True)


def _lay_out(store: Any, task: BuildTask, workdir: Path) -> None:
    """SPECS/<spec> and SOURCES/* as copies: rpmbuild may chmod them, objects stay intact."""
    (workdir / "SPECS").mkdir()
    (workdir / "SOURCES").mkdir()
    for file_name, digest in task.files.items():
        folder = "SPECS" if file_name == task.spec_name else "SOURCES"
        shutil.copyfile(store.objects.path(digest), workdir / folder / file_name)


def _push_log(store: Any, config: WorkerConfig, log_path: Path) -> str | None:
    if not log_path.exists():
        return None
    digest = store.objects.put_file(log_path)
    remote = config.remote()
    if remote.missing([digest]):
        remote.put_object(digest, store.objects.path(digest))
    return digest
