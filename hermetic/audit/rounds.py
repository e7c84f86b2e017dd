"""Run one audit round of one component: lay out its inputs as the round says, build, collect.

A round never touches the store's results: outputs land in the audit's own directory under
``<store>/tmp`` and are compared there. The build itself runs in a child process
(``hermetic.audit.child``) carrying the round's caller-side state.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from hermetic.audit.variations import RoundPlan, order_names

FAKETIME_LIB = "libfaketime.so.1"
AUDIT_CONTROL_DIR = ".hermetic-audit"     # inside the work dir: the preloaded libfaketime
SHM = Path("/dev/shm")
MIN_FREE_ON_OTHER_FS = 512 * 1024 * 1024


@dataclass
class RoundResult:
    index: int
    ok: bool
    error: str | None
    outputs: dict[str, Path]              # RPMs and SRPM: file name → path
    log_path: Path
    applied: dict[str, str] = field(default_factory=dict)  # variation → what was done

    def summary(self) -> dict[str, Any]:
        return {"round": self.index, "ok": self.ok, "error": self.error,
                "log": str(self.log_path), "applied": self.applied,
                "outputs": sorted(self.outputs)}


def _other_filesystem() -> Path | None:
    """A tmpfs for the sources when the round asks for another filesystem (if one is usable)."""
    try:
        stats = os.statvfs(SHM)
    except OSError:
        return None
    if stats.f_bavail * stats.f_frsize < MIN_FREE_ON_OTHER_FS or not os.access(SHM, os.W_OK):
        return None
    return SHM


def find_faketime(buildroot: Any) -> tuple[str, Path | None] | None:
    """(path inside the sandbox, host file to copy in or None) of libfaketime, if any exists."""
    root = getattr(buildroot, "path", None)
    if root is not None:
        inside = sorted(glob.glob(str(Path(root) / "usr/lib/*/faketime" / FAKETIME_LIB)))
        if inside:
            return "/" + str(Path(inside[0]).relative_to(root)), None
    on_host = sorted(glob.glob(f"/usr/lib/*/faketime/{FAKETIME_LIB}"))
    if not on_host:
        return None
    if root is None:                      # the host buildroot sees the host's /usr
        return on_host[0], None
    return f"/builddir/{AUDIT_CONTROL_DIR}/{FAKETIME_LIB}", Path(on_host[0])


def _lay_out(objects: Any, files: dict[str, str], spec_name: str, workdir: Path,
             order: str, seed: int) -> None:
    (workdir / "SPECS").mkdir(parents=True)
    (workdir / "SOURCES").mkdir()
    for name in order_names(list(files), order, seed):
        target = workdir / ("SPECS" if name == spec_name else "SOURCES") / name
        shutil.copyfile(objects.path(files[name]), target)


def run_round(item: Any, store: Any, buildroot: Any, dep_rpms: Sequence[Path], plan: RoundPlan,
              base: Path, *, cpu_count: int, timeout: float | None = None,
              max_silent_time: float | None = None) -> RoundResult:
    """Build ``item`` (a PreparedComponent) once under ``plan``; outputs go to base/out-<i>."""
    from hermetic.treewalk import force_rmtree

    index = plan.index
    applied: dict[str, str] = {}
    round_dir = base / f"round-{index}"
    round_dir.mkdir(parents=True)
    parent = round_dir
    other_fs_dir: Path | None = None
    if plan.other_filesystem:
        other = _other_filesystem()
        if other is not None:
            other_fs_dir = Path(tempfile.mkdtemp(prefix="hermetic-audit-", dir=other))
            parent = other_fs_dir
    if plan.deep_path:
        parent = parent / f"a-much-longer-build-path-{index}" / ("nested-" * 4).strip("-")
        applied["build-path"] = f"work directory {parent / 'work'}"
    workdir = parent / "work"
    workdir.mkdir(parents=True)
    if plan.file_order != "sorted" or plan.other_filesystem:
        where = f"on {other_fs_dir.parent} (tmpfs)" if other_fs_dir else "on the store's filesystem"
        applied["file-order"] = f"sources created in {plan.file_order} order {where}"
    try:
        _lay_out(store.objects, item.files, item.spec_name, workdir, plan.file_order,
                 seed=index)
        sandbox_env: dict[str, str] = {}
        if plan.faketime_offset:
            found = find_faketime(buildroot)
            if found is None:
                applied["time"] = ("not applied: libfaketime is not installed (apt-get install "
                                   "libfaketime); this round only runs later in real time")
            else:
                inside, to_copy = found
                if to_copy is not None:
                    (workdir / AUDIT_CONTROL_DIR).mkdir()
                    shutil.copyfile(to_copy, workdir / AUDIT_CONTROL_DIR / FAKETIME_LIB)
                sandbox_env = {"LD_PRELOAD": inside, "FAKETIME": plan.faketime_offset,
                               "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
                applied["time"] = f"clock moved {plan.faketime_offset[1:]} ahead (libfaketime)"
        env = dict(os.environ)
        for name in plan.env_removed:
            env.pop(name, None)
        env.update(plan.env_overrides)
        env["HERMETIC_SANDBOX_FORKSERVER"] = "0"   # the helper must inherit this process's state
        for name in ("env", "locale", "tz"):
            if name in plan.varied and plan.index:
                keys = {"env": "extra variables, PATH, HOME, SHELL, CFLAGS, MAKEFLAGS",
                        "locale": f"LANG=LC_ALL={plan.env_overrides.get('LANG')}",
                        "tz": f"TZ={plan.env_overrides.get('TZ')}"}
                applied[name] = keys[name]
        if plan.umask != 0o022:
            applied["umask"] = f"umask {plan.umask:04o}"
        if plan.uid:
            applied["user"] = f"uid {plan.uid}, gid {plan.gid} inside the sandbox"
        log_path = base / f"round-{index}.log"
        request = {
            "workdir": str(workdir), "spec_name": item.spec_name,
            "buildroot": {"name": buildroot.name, "digest": buildroot.digest,
                          "path": str(Path(buildroot.path).resolve()) if buildroot.path else None,
                          "kind": buildroot.kind, "impure": bool(buildroot.impure)},
            "dep_rpms": [str(p) for p in dep_rpms], "source_date_epoch": item.source_date_epoch,
            "log_path": str(log_path), "cpu_count": cpu_count, "check_skip": item.check_skip,
            "timeout": timeout, "max_silent_time": max_silent_time, "umask": plan.umask,
            "cpu_divisor": plan.cpu_divisor, "hostname": plan.hostname, "uid": plan.uid,
            "gid": plan.gid, "sandbox_env": sandbox_env,
            "scratch_dir": str(round_dir / "scratch"),
        }
        proc = subprocess.run([sys.executable, "-I", "-m", "hermetic.audit.child"],
                              input=json.dumps(request), capture_output=True, text=True,
                              env=env, cwd=str(workdir.parent))
        try:
            answer = json.loads(proc.stdout)
        except ValueError:
            detail = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
            answer = {"ok": False, "error": f"audit round process failed: {detail}",
                      "applied": {}, "outputs": []}
        applied.update(answer.get("applied", {}))
        out_dir = base / f"out-{index}"
        out_dir.mkdir()
        outputs: dict[str, Path] = {}
        for produced in answer.get("outputs", []):
            target = out_dir / Path(produced).name
            shutil.move(produced, target)
            outputs[target.name] = target
        return RoundResult(index, bool(answer.get("ok")), answer.get("error"), outputs,
                           log_path, applied)
    finally:
        force_rmtree(round_dir / "scratch")
        force_rmtree(workdir)
        if other_fs_dir is not None:
            force_rmtree(other_fs_dir)
