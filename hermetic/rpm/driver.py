"""Run ``rpmbuild -ba`` inside the sandbox and collect what it made.

The work directory is bound at ``/builddir`` (= ``%_topdir``) and must hold ``SPECS/<spec>`` and
``SOURCES/*``. The buildroot is the read-only lower layer of an overlay whose upper layer is a
scratch directory, so dependency RPMs installed with ``rpm -i --nodeps`` and anything the build
writes outside /builddir vanish with the scratch directory. One sandbox run does it all:
install dependencies, expand the spec (``rpmspec -P``, for the unknown-macro check), build.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from hermetic.buildroot import Buildroot
from hermetic.errors import BuildError, SandboxError
from hermetic.rpm.macros import pinned_macros, shipped_macros
from hermetic.rpm.options import injected_line_count
from hermetic.rpm.unknown import UnknownMacro, find_unknown_macros

BUILDDIR = "/builddir"
CONTROL_DIR = ".hermetic"          # inside the work dir: macros, script, dependency RPMs
OUTPUT_DIRS = ("BUILD", "BUILDROOT", "RPMS", "SRPMS")
BUILD_ENV_LOCALE = "C.UTF-8"


@dataclass
class RpmBuildResult:
    ok: bool
    srpm: Path | None
    rpms: list[Path]
    log_path: Path
    sandbox: object | None              # hermetic.sandbox.SandboxResult
    unknown_macros: list[UnknownMacro] = field(default_factory=list)
    error: str | None = None            # one line when not ok


def rpmbuild_argv(spec_name: str, check_skip: bool = False) -> list[str]:
    """The rpmbuild command line used inside the sandbox (also used by benchmarks)."""
    argv = ["rpmbuild", "-ba", "--nodeps"]
    for name in (*shipped_macros(), "pinned.macros"):
        argv += ["--load", f"{BUILDDIR}/{CONTROL_DIR}/{name}"]
    if check_skip:
        argv.append("--nocheck")
    argv.append(f"{BUILDDIR}/SPECS/{spec_name}")
    return argv


def build_script(spec_name: str, check_skip: bool = False) -> str:
    """The bash script run as the sandbox's payload."""
    loads = " ".join(f"--load {BUILDDIR}/{CONTROL_DIR}/{name}"
                     for name in (*shipped_macros(), "pinned.macros"))
    spec = f"{BUILDDIR}/SPECS/{shlex.quote(spec_name)}"
    return f"""set -euo pipefail
cd {BUILDDIR}
shopt -s nullglob
deps=({BUILDDIR}/{CONTROL_DIR}/deps/*.rpm)
if (( ${{#deps[@]}} )); then
  echo "hermetic: installing ${{#deps[@]}} dependency RPM(s)"
  rpm -i --nodeps --nosignature "${{deps[@]}}"
fi
rpmspec -P {loads} {spec} > {BUILDDIR}/{CONTROL_DIR}/parsed.spec
exec {shlex.join(rpmbuild_argv(spec_name, check_skip))}
"""


def normalise_input_modes(workdir: Path) -> None:
    """SRPMs record source file modes: make them independent of the caller's umask."""
    for top in ("SOURCES", "SPECS"):
        for directory, dirnames, filenames in os.walk(workdir / top):
            os.chmod(directory, 0o755)
            for name in filenames:
                path = os.path.join(directory, name)
                if os.path.islink(path):
                    continue
                executable = os.stat(path).st_mode & 0o111
                os.chmod(path, 0o755 if executable else 0o644)


def check_tree_owner(buildroot: Buildroot, euid: int | None = None) -> None:
    """Refuse, in one line, a rootless build on a stored tree that another user owns.

    A rootless sandbox maps only the invoking uid: every file of another owner shows up as the
    overflow uid, which nothing inside may write, so the build would fail deep in its log (rpm
    installing dependencies, rpmbuild writing /var/tmp). Root maps every uid and may use any
    tree; the host buildroot has no tree of its own.
    """
    euid = os.geteuid() if euid is None else euid
    if euid == 0 or buildroot.kind == "host" or buildroot.path is None:
        return
    owner = Path(buildroot.path).stat().st_uid
    if owner != euid:
        raise SandboxError(
            f"buildroot {buildroot.name} ({buildroot.path}) belongs to uid {owner}, and a "
            f"rootless build (uid {euid}) cannot write over another user's files",
            hint="use a store of your own (--store DIR), where hermetic creates or imports "
                 "the buildroot as you, or build as the tree's owner")


def prepare_workdir(workdir: Path, spec_name: str, dep_rpms: Sequence[Path],
                    cpu_count: int, macros: Mapping[str, str] | None = None) -> None:
    """Write the control files and clear outputs of any earlier run."""
    spec_path = workdir / "SPECS" / spec_name
    if not spec_path.is_file():
        raise BuildError(f"{spec_path}: the spec is missing from the work directory")
    (workdir / "SOURCES").mkdir(exist_ok=True)
    normalise_input_modes(workdir)
    for name in OUTPUT_DIRS:
        shutil.rmtree(workdir / name, ignore_errors=True)
    control = workdir / CONTROL_DIR
    shutil.rmtree(control, ignore_errors=True)
    (control / "deps").mkdir(parents=True)
    for name, text in (macros if macros is not None else shipped_macros()).items():
        (control / name).write_text(text)
    (control / "pinned.macros").write_text(pinned_macros(cpu_count))
    for index, rpm in enumerate(dep_rpms):
        # Store objects are named by digest, without the .rpm suffix the install script globs.
        target = control / "deps" / f"{index:04d}.rpm"
        try:
            os.link(rpm, target)
        except OSError:
            shutil.copyfile(rpm, target)


def collect_outputs(workdir: Path) -> tuple[Path | None, list[Path]]:
    srpms = sorted((workdir / "SRPMS").glob("*.src.rpm"))
    rpms = sorted((workdir / "RPMS").glob("*/*.rpm"))
    return (srpms[0] if srpms else None), rpms


def _tail(path: Path, lines: int = 1) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(text[-lines:])


def build_in_sandbox(workdir: Path, spec_name: str, buildroot: Buildroot,
                     dep_rpms: Sequence[Path] = (), *, source_date_epoch: int,
                     log_path: Path, cpu_count: int = 2, check_skip: bool = False,
                     timeout: float | None = None, max_silent_time: float | None = None,
                     memory_max: int | None = None, scratch_dir: Path | None = None,
                     on_output: Callable[[bytes], None] | None = None,
                     extra_env: dict[str, str] | None = None,
                     macros: Mapping[str, str] | None = None) -> RpmBuildResult:
    """Build ``workdir/SPECS/spec_name`` on ``buildroot``; see the module docstring.

    ``source_date_epoch`` must be positive (see :mod:`hermetic.rpm.epoch`). ``scratch_dir`` is
    where the overlay's upper layer goes (default: a temporary directory next to ``workdir``);
    it is removed afterwards. ``macros`` replaces the texts of the shipped macro files (same
    names; for audits that drop a setting on purpose).
    """
    from hermetic.sandbox import Bind, SandboxSpec, run

    if source_date_epoch <= 0:
        raise BuildError(f"SOURCE_DATE_EPOCH {source_date_epoch} must be positive")
    workdir = Path(workdir).resolve()
    log_path = Path(log_path).resolve()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if log_path.exists():
        log_path.unlink()
    if macros is not None and set(macros) != set(shipped_macros()):
        raise BuildError(f"macros must replace exactly {sorted(shipped_macros())}")
    check_tree_owner(buildroot)
    prepare_workdir(workdir, spec_name, dep_rpms, cpu_count, macros)
    script = build_script(spec_name, check_skip)
    env = {"SOURCE_DATE_EPOCH": str(source_date_epoch), "TZ": "UTC",
           "LC_ALL": BUILD_ENV_LOCALE, "LANG": BUILD_ENV_LOCALE, "HOME": BUILDDIR,
           **(extra_env or {})}
    own_scratch = scratch_dir is None
    scratch = Path(tempfile.mkdtemp(prefix=f".{workdir.name}.upper-", dir=workdir.parent)) \
        if own_scratch else Path(scratch_dir)
    try:
        if buildroot.kind == "host":
            # The host's directories are bound read-only; with dependency RPMs to install,
            # each becomes the lower layer of an overlay whose upper lives in the scratch dir.
            spec = SandboxSpec(argv=["/bin/bash", "-c", script], root=None,
                               overlay_upper=str(scratch / "upper") if dep_rpms else None,
                               binds=[Bind(str(workdir), BUILDDIR, readonly=False)],
                               cwd=BUILDDIR, env=env, cpu_count=cpu_count, timeout=timeout,
                               max_silent_time=max_silent_time, log_path=str(log_path),
                               memory_max=memory_max)
        else:
            if buildroot.path is None:
                raise BuildError(f"buildroot {buildroot.name} has no tree")
            upper = scratch / "upper"
            upper.mkdir(parents=True, exist_ok=True)
            spec = SandboxSpec(argv=["/bin/bash", "-c", script], root=str(Path(buildroot.path).resolve()),
                               overlay_upper=str(upper),
                               binds=[Bind(str(workdir), BUILDDIR, readonly=False)],
                               cwd=BUILDDIR, env=env, cpu_count=cpu_count, timeout=timeout,
                               max_silent_time=max_silent_time, log_path=str(log_path),
                               memory_max=memory_max)
        result = run(spec, on_output=on_output)
    finally:
        if own_scratch:
            from hermetic.treewalk import force_rmtree
            force_rmtree(scratch)

    unknown: list[UnknownMacro] = []
    parsed = workdir / CONTROL_DIR / "parsed.spec"
    if parsed.is_file():
        raw = (workdir / "SPECS" / spec_name).read_text(errors="replace")
        unknown = find_unknown_macros(raw, parsed.read_text(errors="replace"),
                                      injected_line_count(raw))
    srpm, rpms = collect_outputs(workdir)
    error = None
    if unknown:
        error = unknown[0].describe(spec_name)
        with open(log_path, "a") as log:
            for item in unknown:
                log.write(f"hermetic: error: {item.describe(spec_name)}\n")
    elif result.timed_out:
        error = f"rpmbuild of {spec_name} timed out after {timeout} s"
    elif result.silent_timeout:
        error = f"rpmbuild of {spec_name} printed nothing for {max_silent_time} s"
    elif not result.ok:
        how = f"signal {result.signal}" if result.signal else f"exit {result.exit_code}"
        error = f"rpmbuild of {spec_name} failed ({how}): {_tail(log_path)}"
    elif srpm is None:
        error = f"rpmbuild of {spec_name} produced no SRPM"
    ok = error is None
    return RpmBuildResult(ok=ok, srpm=srpm if ok else srpm, rpms=rpms, log_path=log_path,
                          sandbox=result, unknown_macros=unknown, error=error)
