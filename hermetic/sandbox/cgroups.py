"""Memory and pids limits through cgroups: v2 when delegated to us, else v1 when writable.

RLIMIT_NPROC does not bind processes whose real uid is the host's root (the kernel exempts
INIT_USER), so when the caller is root the fork-bomb bound comes from a pids cgroup instead.
Where neither hierarchy is writable, rlimits alone apply.
"""

from __future__ import annotations

import os
import secrets
import time

from hermetic.sandbox.spec import SandboxSpec

V2_FILES = {"memory": "memory.max", "pids": "pids.max"}
V1_FILES = {"memory": "memory.limit_in_bytes", "pids": "pids.max"}


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fstype, super options) of every cgroup mount."""
    found = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            rest = fields[fields.index("-") + 1:]
            if rest[0] in ("cgroup", "cgroup2"):
                found.append((fields[4], rest[0], set(rest[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """Controller (or "" for v2) -> our cgroup path inside that hierarchy."""
    paths = {}
    with open("/proc/self/cgroup") as cgroup:
        for line in cgroup:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                paths[name] = path
    return paths


def _cgroup_dir(controller: str) -> tuple[str, str] | None:
    """(directory of our cgroup, limit file name) for a controller, if we may write there."""
    own = _own_paths()
    for mount, fstype, options in _mounts():
        if fstype == "cgroup2" and "" in own:
            base = os.path.join(mount, own[""].lstrip("/"))
            try:
                with open(os.path.join(base, "cgroup.subtree_control")) as control:
                    enabled = control.read().split()
            except OSError:
                continue
            if controller in enabled and os.access(base, os.W_OK):
                return base, V2_FILES[controller]
        elif fstype == "cgroup" and controller in options and controller in own:
            base = os.path.join(mount, own[controller].lstrip("/"))
            if os.access(base, os.W_OK):
                return base, V1_FILES[controller]
    return None


def limits_for(spec: SandboxSpec) -> dict[str, int]:
    wanted = {"memory": spec.memory_max, "pids": spec.pids_max}
    if wanted["pids"] is None and os.getuid() == 0:
        wanted["pids"] = spec.nproc  # RLIMIT_NPROC cannot bind root: see the module docstring
    return {name: value for name, value in wanted.items() if value is not None}


def enter_limited_cgroup(spec: SandboxSpec) -> list[str] | None:
    """Create child cgroups with the spec's limits and move the calling process into them.

    Returns their paths (the runner removes them afterwards), or None when no limit applies.
    """
    created: list[str] = []
    for controller, value in limits_for(spec).items():
        where = _cgroup_dir(controller)
        if where is None:
            continue
        base, limit_file = where
        path = os.path.join(base, f"hermetic-sandbox-{secrets.token_hex(6)}")
        try:
            os.mkdir(path)
            created.append(path)
            with open(os.path.join(path, limit_file), "w") as limit:
                limit.write(str(value))
            with open(os.path.join(path, "cgroup.procs"), "w") as procs:
                procs.write(str(os.getpid()))
        except OSError:
            continue  # partial delegation (e.g. "no internal processes"): rlimits only
    return created or None


def remove(paths: list[str]) -> None:
    """Kill whatever is left in the cgroups and remove them."""
    for path in paths:
        try:
            with open(os.path.join(path, "cgroup.kill"), "w") as kill:
                kill.write("1")
        except OSError:
            pass
        # The helper may still be a zombie for a moment after its pipes closed; exited tasks
        # leave the cgroup when reaped, so retry briefly.
        for attempt in range(200):
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.005)
