"""Memory and pids limits through cgroups: v2 when delegated to us, else v1 when writable.

RLIMIT_NPROC does not bind processes whose real uid is the host's root (the kernel exempts
INIT_USER), so when the caller is root the fork-bomb bound comes from a pids cgroup instead.
Where neither hierarchy is writable, rlimits alone apply.
"""

from __future__ import annotations

import os
import re
import secrets

from hermetic.sandbox.spec import SandboxSpec

V2_FILES = {"memory": "memory.max", "pids": "pids.max"}
V1_FILES = {"memory": "memory.limit_in_bytes", "pids": "pids.max"}
PREFIX = "hermetic-sandbox-"
_OWNED = re.compile(re.escape(PREFIX) + r"([1-9][0-9]{0,9})-[0-9a-f]{12}")


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


def available() -> dict[str, tuple[str, str]]:
    """Controller -> (directory of our cgroup, limit file) for each one we may create under."""
    found = {}
    for controller in V2_FILES:
        where = _cgroup_dir(controller)
        if where is not None:
            found[controller] = where
    return found


def create(controllers: dict[str, tuple[str, str]], owner: int) -> dict[str, str]:
    """A fresh child cgroup per controller (controller -> path); none where mkdir fails.

    ``owner``: the pid of the process that will remove it, part of the name so that
    ``sweep_stale`` can tell a leftover (its owner was killed) from one in use.
    """
    created = {}
    for controller, (base, _) in controllers.items():
        path = os.path.join(base, f"{PREFIX}{owner}-{secrets.token_hex(6)}")
        try:
            os.mkdir(path)
        except OSError:
            continue
        created[controller] = path
    return created


def set_limits(paths: dict[str, str], limits: dict[str, int]) -> None:
    """Write each limit into its controller's cgroup (a missing cgroup: rlimits only)."""
    for controller, value in limits.items():
        path = paths.get(controller)
        if path is None:
            continue
        limit_file = V2_FILES[controller] if _is_v2(path) else V1_FILES[controller]
        try:
            with open(os.path.join(path, limit_file), "w") as limit:
                limit.write(str(value))
        except OSError:
            pass  # partial delegation: rlimits only, as when no cgroup is writable


def _is_v2(path: str) -> bool:
    return os.path.exists(os.path.join(path, "cgroup.events"))


def join(paths: list[str]) -> list[str]:
    """Move the calling process into the cgroups; those it could not join are removed.

    On cgroup v1 (and v2 without favordynmods) a move waits for an RCU grace period, several
    milliseconds: the fork server's spares pay it before any request arrives.
    """
    joined = []
    for path in paths:
        try:
            with open(os.path.join(path, "cgroup.procs"), "w") as procs:
                procs.write(str(os.getpid()))
            joined.append(path)
        except OSError:  # e.g. v2's "no internal processes": rlimits only
            remove([path])
    return joined


def enter_limited_cgroup(spec: SandboxSpec) -> list[str] | None:
    """Create child cgroups with the spec's limits and move the calling process into them.

    Returns their paths (the runner removes them afterwards), or None when no limit applies.
    """
    limits = limits_for(spec)
    controllers = {name: where for name, where in available().items() if name in limits}
    paths = create(controllers, os.getppid())  # the runner removes them
    set_limits(paths, limits)
    return join(list(paths.values())) or None


def sweep_stale(controllers: dict[str, tuple[str, str]]) -> None:
    """Remove empty cgroups of ours whose owner process is gone (it was killed before it could
    clean up). Cgroups of live owners are never touched; busy ones stay."""
    for base, _ in controllers.values():
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            match = _OWNED.fullmatch(name)
            if match is None:
                continue
            try:
                os.kill(int(match.group(1)), 0)
                continue  # alive (or a recycled pid: left alone, which is harmless)
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            remove([os.path.join(base, name)])


def members(paths: list[str]) -> list[int]:
    """The pids in the cgroups (host pids, as this process sees them)."""
    found: list[int] = []
    for path in paths:
        try:
            with open(os.path.join(path, "cgroup.procs")) as procs:
                found += [int(line) for line in procs if line.strip()]
        except OSError:
            pass
    return found


def remove(paths: list[str]) -> list[str]:
    """Kill whatever is left in the cgroups and remove them; returns those still busy.

    Callers remove a cgroup only after reaping the process that joined it (a zombie or a task
    still exiting keeps it busy), so one attempt is normally enough; the fork server retries
    busy ones when its next child exits instead of sleeping.
    """
    busy = []
    for path in paths:
        try:
            with open(os.path.join(path, "cgroup.kill"), "w") as kill:
                kill.write("1")
        except OSError:
            pass  # v1 has no cgroup.kill; the pid namespace has killed everything anyway
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            busy.append(path)
    return busy
