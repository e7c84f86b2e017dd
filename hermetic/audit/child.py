"""One audit round's build, in its own process: ``python -I -m hermetic.audit.child``.

The parent starts this process with the round's environment and working directory; here the
rest of the caller-side state is changed before the sandbox starts: umask, CPU affinity and (in
a private user + uts namespace) the host name. The sandbox helper is then started as a one-shot
child of this process, so it inherits all of it, exactly as if a user with that machine state
had run ``hermetic build``. The request comes as JSON on stdin; the answer is JSON on stdout.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any


def _own_uts_namespace(hostname: str) -> str:
    """A user + uts namespace mapping our uid to itself, with another host name."""
    from hermetic.sandbox import libc

    uid, gid = os.geteuid(), os.getegid()
    try:
        libc.unshare(libc.CLONE_NEWUSER | libc.CLONE_NEWUTS)
        for path, text in (("/proc/self/setgroups", "deny"),
                           ("/proc/self/uid_map", f"{uid} {uid} 1\n"),
                           ("/proc/self/gid_map", f"{gid} {gid} 1\n")):
            with open(path, "w") as handle:
                handle.write(text)
        libc.sethostname(hostname)
    except OSError as exc:
        return f"not applied: {exc.strerror or exc}"
    return f"host name {socket.gethostname()}"


def _limit_cpus(divisor: int) -> str:
    available = sorted(os.sched_getaffinity(0))
    wanted = max(1, len(available) // divisor)
    if wanted == len(available):
        return f"not applied: only {len(available)} CPU(s) to offer"
    os.sched_setaffinity(0, available[:wanted])
    return f"{wanted} of {len(available)} CPUs"


def build(request: dict[str, Any]) -> dict[str, Any]:
    from hermetic.buildroot import Buildroot
    from hermetic.rpm.driver import BUILDDIR, build_script, collect_outputs, prepare_workdir
    from hermetic.sandbox import Bind, SandboxSpec, run

    applied: dict[str, str] = {}
    os.umask(request["umask"])
    if request.get("cpu_divisor", 1) > 1:
        applied["cpus"] = _limit_cpus(request["cpu_divisor"])
    if request.get("hostname"):
        applied["hostname"] = _own_uts_namespace(request["hostname"])

    raw = request["buildroot"]
    buildroot = Buildroot(raw["name"], raw["digest"], Path(raw["path"]) if raw["path"] else None,
                          raw["kind"], raw["impure"])
    workdir = Path(request["workdir"])
    prepare_workdir(workdir, request["spec_name"], [Path(p) for p in request["dep_rpms"]],
                    request["cpu_count"])
    env = {"SOURCE_DATE_EPOCH": str(request["source_date_epoch"]), "TZ": "UTC",
           "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "HOME": BUILDDIR,
           **request.get("sandbox_env", {})}
    binds = [Bind(str(workdir), BUILDDIR, readonly=False)]
    common = dict(argv=["/bin/bash", "-c", build_script(request["spec_name"],
                                                         request["check_skip"])],
                  binds=binds, cwd=BUILDDIR, env=env, cpu_count=request["cpu_count"],
                  timeout=request.get("timeout"), max_silent_time=request.get("max_silent_time"),
                  log_path=request["log_path"], uid=request["uid"], gid=request["gid"])
    if buildroot.kind == "host":
        spec = SandboxSpec(root=None, **common)
    else:
        upper = Path(request["scratch_dir"]) / "upper"
        upper.mkdir(parents=True, exist_ok=True)
        spec = SandboxSpec(root=str(buildroot.path), overlay_upper=str(upper), **common)
    result = run(spec)
    srpm, rpms = collect_outputs(workdir)
    error = None
    if not result.ok:
        how = f"signal {result.signal}" if result.signal else f"exit {result.exit_code}"
        error = "timed out" if result.timed_out else f"rpmbuild failed ({how})"
    elif srpm is None:
        error = "rpmbuild produced no SRPM"
    return {"ok": error is None, "error": error, "applied": applied,
            "outputs": [str(p) for p in ([srpm] if srpm else []) + rpms]}


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        answer = build(request)
    except Exception as exc:  # noqa: BLE001 - one line back to the parent, never a traceback
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        answer = {"ok": False, "error": message, "applied": {}, "outputs": []}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
