"""cgroup v2 memory and pids limits, when the caller's cgroup is delegated to it.

Only a unified (v2) hierarchy with the controllers enabled for our subtree counts as delegated;
elsewhere the limits fall back to rlimits alone (RLIMIT_NPROC still bounds fork bombs).
"""

from __future__ import annotations

import os
import secrets

from hermetic.sandbox.spec import SandboxSpec


def _cgroup2_mount() -> str | None:
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            separator = fields.index("-")
            if fields[separator + 1] == "cgroup2":
                return fields[4]
    return None


def own_cgroup_dir() -> str | None:
    mount = _cgroup2_mount()
    if mount is None:
        return None
    with open("/proc/self/cgroup") as cgroup:
        for line in cgroup:
            if line.startswith("0::"):
                return os.path.join(mount, line[3:].strip().lstrip("/"))
    return None


def delegated_controllers() -> set[str]:
    """Controllers we may use in a child cgroup of our own (empty: not delegated)."""
    base = own_cgroup_dir()
    if base is None or not os.access(base, os.W_OK):
        return set()
    try:
        with open(os.path.join(base, "cgroup.subtree_control")) as control:
            return set(control.read().split())
    except OSError:
        return set()


def enter_limited_cgroup(spec: SandboxSpec) -> str | None:
    """Create a child cgroup with the spec's limits and move the calling process into it.

    Returns its path (the runner removes it afterwards), or None when no limit was asked for
    or the hierarchy is not delegated to us.
    """
    wanted = {"memory": spec.memory_max, "pids": spec.pids_max}
    wanted = {name: value for name, value in wanted.items() if value is not None}
    if not wanted or not set(wanted) <= delegated_controllers():
        return None
    base = own_cgroup_dir()
    assert base is not None
    path = os.path.join(base, f"hermetic-sandbox-{secrets.token_hex(6)}")
    try:
        os.mkdir(path)
        for name, value in wanted.items():
            with open(os.path.join(path, f"{name}.max"), "w") as limit:
                limit.write(str(value))
        if "memory" in wanted:
            with open(os.path.join(path, "memory.swap.max"), "w") as limit:
                limit.write("0")
        with open(os.path.join(path, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))
    except OSError:
        return None  # delegation was partial (e.g. a "no internal processes" rule): rlimits only
    return path


def remove(path: str) -> None:
    """Kill whatever is left in the cgroup and remove it."""
    try:
        with open(os.path.join(path, "cgroup.kill"), "w") as kill:
            kill.write("1")
    except OSError:
        pass
    try:
        os.rmdir(path)
    except OSError:
        pass
