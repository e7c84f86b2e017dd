"""build → capture: run each component's rpmbuild in the sandbox and store what it made.

The scheduler (``hermetic.graph.run_parallel``) calls ``Builder.build_one`` once a component's
dependencies are done. Each build holds the per-key lock, so a second ``hermetic build`` of the
same key waits and then reuses the result. Objects are stored before the entry that names them;
a failure is never stored as a result: its log stays under ``<store>/failed/<name>/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermetic.events import ComponentEvent, Renderer
from hermetic.keys import compute_key
from hermetic.pipeline import BUILD_CPU_COUNT, Prepared, manifest_for

FAILURE_TAIL_LINES = 30
CANCELLED = "cancelled: another component failed (--fail-fast)"


@dataclass
class ComponentResult:
    name: str
    key: str | None
    status: str                       # built | cached | pulled | failed | skipped
    outputs: list[Path] = field(default_factory=list)
    entry: Any = None                 # hermetic.store.ActionEntry when built/cached/pulled
    error: str | None = None
    log_path: Path | None = None
    elapsed: float = 0.0
    pushed: bool = False              # already in every --push cache (a distributed worker did it)


@dataclass
class BuildSettings:
    keep_failed: bool = False
    out_dir: Path | None = None       # check outputs out here, one folder per component
    timeout: float | None = None
    max_silent_time: float | None = None
    rebuild: bool = False             # ignore cached results (verify)
    # Team cache (hermetic.remote): pull before building, push after; --no-build fails instead.
    substituters: Any = None          # hermetic.remote.Substituters | None
    uploader: Any = None              # hermetic.remote.Uploader | None
    no_build: bool = False
    # Build elsewhere (hermetic.distributed): called as remote_build(builder, name, key, manifest,
    # started) -> ComponentResult instead of the local sandboxed build; None builds here.
    remote_build: Any = None
    # --fail-fast: the first failure sets ``stop``; nothing new starts and running sandboxes
    # (local ones through hermetic.sandbox.cancelling, remote ones through the executor) die.
    fail_fast: bool = False
    stop: threading.Event | None = None


class Builder:
    def __init__(self, prepared: Prepared, renderer: Renderer, settings: BuildSettings) -> None:
        self.prepared = prepared
        self.store = prepared.store
        self.renderer = renderer
        self.settings = settings
        self.results: dict[str, ComponentResult] = {}
        self._lock = threading.Lock()

    # -- the scheduler's callback ---------------------------------------------------------------

    def build_one(self, name: str) -> bool:
        started = time.monotonic()
        with self._lock:
            dep_entries = {dep: self.results[dep].entry
                           for dep in self.prepared.graph.dependencies[name]}
        manifest = manifest_for(self.prepared, name, dep_entries)
        key = compute_key(manifest)
        try:
            result = self._cached_or_built(name, key, manifest, started)
        except Exception as error:  # a HermeticError or a bug: report it on this component only
            from hermetic.errors import HermeticError

            if not isinstance(error, HermeticError):
                raise
            result = ComponentResult(name, key, "failed", error=str(error))
        result.elapsed = time.monotonic() - started
        if result.status == "failed" and self.settings.fail_fast and self.settings.stop:
            self.settings.stop.set()
        with self._lock:
            self.results[name] = result
        if result.entry is not None and self.settings.out_dir is not None:
            result.outputs = self._check_out(result.entry)
        self.renderer.emit(ComponentEvent(name, result.status, key=key,
                                          detail=result.error or "", elapsed=result.elapsed))
        return result.status in ("built", "cached", "pulled")

    def _cached_or_built(self, name: str, key: str, manifest: dict[str, Any],
                         started: float) -> ComponentResult:
        if not self.settings.rebuild:
            entry = self.store.actions.get(key)
            if entry is not None:
                return ComponentResult(name, key, "cached", entry=entry)

        def waiting() -> None:
            self.renderer.emit(ComponentEvent(name, "waiting", key=key,
                                              detail="another build of this key is running"))

        with self.store.lock(key, on_wait=waiting):
            if not self.settings.rebuild:
                entry = self.store.actions.get(key)  # the other builder may have finished it
                if entry is not None:
                    return ComponentResult(name, key, "cached", entry=entry)
                if self.settings.substituters:
                    entry = self.settings.substituters.pull(self.store, key)
                    if entry is not None:
                        return ComponentResult(name, key, "pulled", entry=entry)
            if self.settings.no_build:
                return ComponentResult(name, key, "failed",
                                       error="no cached result for its key and --no-build given")
            if self._stopped():
                return ComponentResult(name, key, "failed", error=CANCELLED)
            self.renderer.emit(ComponentEvent(name, "building", key=key))
            if self.settings.remote_build is not None:
                result = self.settings.remote_build(self, name, key, manifest, started)
            else:
                result = self._build(name, key, manifest, started)
            if result.status == "built" and self.settings.uploader is not None \
                    and not result.pushed:
                self.settings.uploader.submit(self.store, key)  # in the background
            return result

    # -- one sandboxed rpmbuild -----------------------------------------------------------------

    def _build(self, name: str, key: str, manifest: dict[str, Any],
               started: float) -> ComponentResult:
        from hermetic.rpm import build_in_sandbox

        item = self.prepared.components[name]
        workdir = Path(tempfile.mkdtemp(prefix=f"build-{name}-", dir=self.store.tmp_dir()))
        try:
            self._lay_out(item, workdir)
            dep_rpms = [self.store.objects.path(output.digest)
                        for dep in sorted(self.prepared.graph.dependencies[name])
                        for output in self.results[dep].entry.outputs if output.kind == "rpm"]
            log_path = workdir / "build.log"
            from hermetic.sandbox import cancelling
            with self._buildroot_held(), cancelling(self.settings.stop):
                result = build_in_sandbox(
                    workdir, item.spec_name, self.prepared.buildroot, dep_rpms,
                    source_date_epoch=item.source_date_epoch, log_path=log_path,
                    cpu_count=BUILD_CPU_COUNT, check_skip=item.check_skip,
                    timeout=self.settings.timeout,
                    max_silent_time=self.settings.max_silent_time)
            if not result.ok:
                kept = self._keep_failure(name, workdir, log_path)
                error = CANCELLED if self._stopped() else result.error
                return ComponentResult(name, key, "failed", error=error, log_path=kept)
            entry = self._capture(name, key, manifest, result, started)
            return ComponentResult(name, key, "built", entry=entry)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _stopped(self) -> bool:
        return self.settings.stop is not None and self.settings.stop.is_set()

    def _buildroot_held(self) -> Any:
        """A shared lock on a stored buildroot tree, so ``gc`` never removes it mid-build."""
        buildroot = self.prepared.buildroot
        if buildroot.path is None:  # the host's own directories: nothing in the store to hold
            return contextlib.nullcontext()
        return self.store.buildroot_in_use(buildroot.digest)

    def _lay_out(self, item: Any, workdir: Path) -> None:
        """SPECS/<spec> and SOURCES/* as copies: rpmbuild may chmod them, objects stay intact."""
        (workdir / "SPECS").mkdir()
        (workdir / "SOURCES").mkdir()
        for file_name, digest in item.files.items():
            target = workdir / ("SPECS" if file_name == item.spec_name else "SOURCES") / file_name
            shutil.copyfile(self.store.objects.path(digest), target)

    def _keep_failure(self, name: str, workdir: Path, log_path: Path) -> Path:
        """Failures keep their log (and with --keep-failed their tree) outside the results."""
        target = self.store.root / "failed" / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        kept_log = target / "build.log"
        if log_path.exists():
            shutil.copyfile(log_path, kept_log)
        if self.settings.keep_failed:
            shutil.copytree(workdir, target / "tree", symlinks=True, dirs_exist_ok=True)
        return kept_log

    def _capture(self, name: str, key: str, manifest: dict[str, Any], result: Any,
                 started: float) -> Any:
        return capture(self.store, name, key, manifest, result, self.prepared.buildroot,
                       self.prepared.components[name].source_date_epoch, started)

    def _check_out(self, entry: Any) -> list[Path]:
        return check_out(self.store, entry, self.settings.out_dir)


def capture(store: Any, name: str, key: str, manifest: dict[str, Any], result: Any,
            buildroot: Any, source_date_epoch: int, started: float) -> Any:
    """Store a successful build's RPMs, SRPM, log and buildinfo, then its (signed) entry.

    Shared by local builds and distributed workers, so both record the same entry shape.
    """
    from hermetic.store import ActionEntry, OutputRef

    objects = store.objects
    outputs: list[OutputRef] = []
    files = [(path, "rpm") for path in result.rpms]
    if result.srpm is not None:
        files.append((result.srpm, "srpm"))
    for path, kind in files:
        outputs.append(OutputRef(path.name, objects.put_file(path), path.stat().st_size, kind))
    log_digest = objects.put_file(result.log_path)
    outputs.append(OutputRef("build.log", log_digest, result.log_path.stat().st_size, "log"))
    buildinfo = json.dumps({
        "component": name, "key": key, "buildroot": buildroot.digest,
        "source_date_epoch": source_date_epoch,
        "rpm_version": _rpm_version(buildroot),
    }, indent=2, sort_keys=True).encode() + b"\n"
    outputs.append(OutputRef("buildinfo.json", objects.put_bytes(buildinfo), len(buildinfo),
                             "buildinfo"))
    entry = ActionEntry(
        key=key, component=name, outputs=tuple(outputs), manifest=manifest,
        timings={"build_ms": int((time.monotonic() - started) * 1000)},
        rpm_version=_rpm_version(buildroot), buildroot=buildroot.digest,
        impure=bool(buildroot.impure), created=int(time.time()))
    return store.actions.put(key, entry)


def check_out(store: Any, entry: Any, out_dir: Path) -> list[Path]:
    """Hardlink an entry's RPMs and SRPM to ``out_dir/<component>/``."""
    target = out_dir / entry.component
    return [store.objects.link_to(output.digest, target / output.name)
            for output in entry.outputs if output.kind in ("rpm", "srpm")]


def _rpm_version(buildroot: Any) -> str:
    """The rpm version of the buildroot (from its dpkg status: no need to run it)."""
    root = getattr(buildroot, "path", None)
    status = Path(root) / "var/lib/dpkg/status" if root else Path("/var/lib/dpkg/status")
    try:
        text = status.read_text(errors="replace")
    except OSError:
        return ""
    for block in text.split("\n\n"):
        if block.startswith("Package: rpm\n"):
            for line in block.splitlines():
                if line.startswith("Version: "):
                    return line.split(" ", 1)[1]
    return ""


def failure_tail(log_path: Path | None, lines: int = FAILURE_TAIL_LINES) -> list[str]:
    if log_path is None or not os.path.exists(log_path):
        return []
    with open(log_path, errors="replace") as handle:
        return handle.read().splitlines()[-lines:]
