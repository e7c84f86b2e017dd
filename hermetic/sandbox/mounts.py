"""The sandbox's filesystem, as a list of small mount steps with ``describe()`` and ``execute()``.

Assembly happens in pid 1 of the new namespaces, after the host root has been moved to
``/oldroot`` on a private tmpfs (so host paths stay reachable even under ``/tmp``) and before the
final ``pivot_root`` into ``/newroot``. ``plan_mounts`` is pure so tests can inspect the plan.

What does not depend on the spec (the base tmpfs, ``/proc`` and the whole minimal ``/dev``) is
built first under ``/staging`` by ``prepare_base`` (ahead of time in the fork server's spares)
and moved into place by the plan.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

from hermetic.sandbox import libc
from hermetic.sandbox.spec import SandboxSpec

OLD = "/oldroot"
NEW = "/newroot"
STAGING = "/staging"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024  # SandboxSpec.shm_size's default; other sizes remount

# Host directories bound read-only when the spec has no root tree (debugging, quick tests).
HOST_SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc")
HOST_OVERLAY_ROOT_SIZE = 256 * 1024 * 1024  # scratch root of host builds: /var/lib/rpm and such
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx", "core": "/proc/kcore"}
PROC_READONLY = ("sys", "sysrq-trigger", "irq", "bus")

# mount_setattr(2): recursive attribute changes, which a plain MS_REMOUNT cannot do.
_SYS_MOUNT_SETATTR = 442
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def mount_setattr(path: str, attr_set: int, recursive: bool = True) -> None:
    attr = _MountAttr(attr_set, 0, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    libc._check(libc._libc.syscall(ctypes.c_long(_SYS_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD),
                                   path.encode(), ctypes.c_uint(flags), ctypes.byref(attr),
                                   ctypes.c_size_t(ctypes.sizeof(attr))),
                f"mount_setattr {path}")


def _ensure_mountpoint(path: str, is_dir: bool) -> None:
    """Create the mount point if missing (only ever on our tmpfs, overlay upper or skeleton)."""
    if os.path.lexists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if is_dir:
        os.mkdir(path, 0o755)
    else:
        with open(path, "ab"):
            pass


@dataclass
class BindMount:
    source: str      # path as seen now (under /oldroot for host paths)
    target: str      # path under /newroot
    readonly: bool = True
    create: bool = True  # create a missing mount point

    def describe(self) -> str:
        return f"bind {self.source} -> {self.target} ({'ro' if self.readonly else 'rw'})"

    def execute(self) -> None:
        if not os.path.exists(self.source):
            raise FileNotFoundError(2, f"bind source {self.source.removeprefix(OLD)} does not exist")
        if self.create:
            _ensure_mountpoint(self.target, os.path.isdir(self.source))
        libc.mount(self.source, self.target, None, libc.MS_BIND | libc.MS_REC)
        attrs = MOUNT_ATTR_NOSUID | (MOUNT_ATTR_RDONLY if self.readonly else 0)
        mount_setattr(self.target, attrs)


@dataclass
class TmpfsMount:
    target: str
    size: int
    mode: int = 0o755

    def describe(self) -> str:
        return f"tmpfs {self.target} (size={self.size}, mode={self.mode:o})"

    def execute(self) -> None:
        _ensure_mountpoint(self.target, True)
        libc.mount("tmpfs", self.target, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV,
                   f"size={self.size},mode={self.mode:o}")


@dataclass
class OverlayMount:
    lowers: list[str]   # top-most first
    upper: str | None   # None: a read-only overlay of the lowers
    work: str | None
    target: str

    def describe(self) -> str:
        return f"overlay {self.target} (lower={':'.join(self.lowers)}, upper={self.upper})"

    def execute(self) -> None:
        # userxattr: overlay metadata in user.* xattrs, the only kind a user namespace may set.
        options = f"lowerdir={':'.join(self.lowers)},userxattr"
        if self.upper is not None:
            os.makedirs(self.upper, exist_ok=True)
            os.makedirs(self.work, exist_ok=True)
            options += f",upperdir={self.upper},workdir={self.work}"
        _ensure_mountpoint(self.target, True)
        libc.mount("overlay", self.target, "overlay", libc.MS_NOSUID, options)


@dataclass
class ProcMount:
    target: str

    def describe(self) -> str:
        return f"proc {self.target} (sys, sysrq-trigger, irq, bus read-only)"

    def execute(self) -> None:
        _ensure_mountpoint(self.target, True)
        libc.mount("proc", self.target, "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
        for name in PROC_READONLY:
            path = f"{self.target}/{name}"
            if os.path.exists(path):
                libc.mount(path, path, None, libc.MS_BIND | libc.MS_REC)
                mount_setattr(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)


@dataclass
class DevMount:
    """A minimal /dev: host character devices bound in, a private devpts, the usual links."""

    target: str
    shm_size: int

    def describe(self) -> str:
        return f"dev {self.target} ({' '.join(DEVICES)}, pts, shm, fd links)"

    def execute(self) -> None:
        TmpfsMount(self.target, 1024 * 1024).execute()
        for name in DEVICES:
            BindMount(f"{OLD}/dev/{name}", f"{self.target}/{name}", readonly=False).execute()
        os.mkdir(f"{self.target}/pts", 0o755)
        libc.mount("devpts", f"{self.target}/pts", "devpts", libc.MS_NOSUID | libc.MS_NOEXEC,
                   "newinstance,ptmxmode=0666,mode=0620")
        for name, dest in DEV_LINKS.items():
            os.symlink(dest, f"{self.target}/{name}")
        TmpfsMount(f"{self.target}/shm", self.shm_size, 0o1777).execute()
        # Nothing may be added to /dev itself afterwards (pts and shm are separate mounts).
        mount_setattr(self.target, MOUNT_ATTR_RDONLY, recursive=False)


@dataclass
class ReadOnly:
    """Make an already assembled mount (and everything below it) read-only."""

    target: str

    def describe(self) -> str:
        return f"read-only {self.target}"

    def execute(self) -> None:
        mount_setattr(self.target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID)




def _missing_mountpoints(spec: SandboxSpec) -> list[str]:
    wanted = ["/proc", "/dev", "/tmp"] + [bind.target for bind in spec.binds]
    assert spec.root is not None
    return [path for path in wanted if not os.path.lexists(f"{OLD}{spec.root}{path}")]


def plan_mounts(spec: SandboxSpec, skeleton: str = "/skeleton") -> list["Mount"]:
    """The ordered mount steps that turn /newroot into the sandbox's root."""
    steps: list[Mount] = []
    if spec.root is None and spec.overlay_upper is not None:
        # The host's system directories, each the lower layer of its own overlay (uppers under
        # overlay_upper), on a writable scratch tmpfs: rpm -i of dependency RPMs lands in the
        # uppers and a fresh /var/lib/rpm, and the host is never written.
        steps.append(TmpfsMount(NEW, HOST_OVERLAY_ROOT_SIZE))
        for name in HOST_SYSTEM_DIRS:
            host = f"{OLD}/{name}"
            if not os.path.lexists(host):
                continue
            if os.path.islink(host):
                steps.append(_host_dir(name))
                continue
            upper = f"{OLD}{spec.overlay_upper.rstrip('/')}/{name}"
            steps.append(OverlayMount([host], upper, overlay_workdir(upper), f"{NEW}/{name}"))
        steps.append(Mountpoints(spec, NEW))
    elif spec.root is None:
        steps.append(TmpfsMount(NEW, 1024 * 1024))
        steps += [_host_dir(name) for name in HOST_SYSTEM_DIRS if os.path.lexists(f"{OLD}/{name}")]
        steps.append(Mountpoints(spec, NEW))
        steps.append(ReadOnly(NEW))
    elif spec.overlay_upper is not None:
        steps.append(OverlayMount([f"{OLD}{spec.root}"], f"{OLD}{spec.overlay_upper}",
                                  f"{OLD}{overlay_workdir(spec.overlay_upper)}", NEW))
    elif _missing_mountpoints(spec):
        # The tree lacks some mount points and must not be modified: put a read-only overlay
        # of a small skeleton (holding just those directories) over it.
        steps.append(Mountpoints(spec, skeleton))
        steps.append(OverlayMount([skeleton, f"{OLD}{spec.root}"], None, None, NEW))
    else:
        steps.append(BindMount(f"{OLD}{spec.root}", NEW, readonly=True, create=False))
    steps.append(MoveMount(f"{STAGING}/proc", f"{NEW}/proc"))
    steps.append(MoveMount(f"{STAGING}/dev", f"{NEW}/dev"))
    if spec.shm_size != DEFAULT_SHM_SIZE:
        steps.append(TmpfsResize(f"{NEW}/dev/shm", spec.shm_size, 0o1777))
    steps.append(TmpfsMount(f"{NEW}/tmp", spec.tmp_size, 0o1777))
    for bind in sorted(spec.binds, key=lambda b: b.target.rstrip("/").count("/")):
        steps.append(BindMount(f"{OLD}{bind.source}", f"{NEW}{bind.target.rstrip('/') or '/'}",
                               readonly=bind.readonly))
    return steps


def prepare_base() -> None:
    """Private mounts, the base tmpfs with the host root at /oldroot, and the staged /proc and
    /dev: everything before the spec's own mounts. Needs the id map (files are created)."""
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    # A private tmpfs holds the new root and, during assembly, the old one at /oldroot; so host
    # paths (even under /tmp) stay reachable for binds until we detach them.
    base = "/tmp"
    libc.mount("tmpfs", base, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "size=1m,mode=0755")
    for name in ("oldroot", "newroot", "skeleton", "staging"):
        os.mkdir(f"{base}/{name}", 0o755)
    libc.pivot_root(base, f"{base}/oldroot")
    os.chdir("/")
    for step in (ProcMount(f"{STAGING}/proc"), DevMount(f"{STAGING}/dev", DEFAULT_SHM_SIZE)):
        step.execute()


@dataclass
class MoveMount:
    """Move a staged mount (with everything mounted below it) to its place."""

    source: str
    target: str

    def describe(self) -> str:
        return f"move {self.source} -> {self.target}"

    def execute(self) -> None:
        _ensure_mountpoint(self.target, True)
        libc.mount(self.source, self.target, None, libc.MS_MOVE)


@dataclass
class TmpfsResize:
    target: str
    size: int
    mode: int

    def describe(self) -> str:
        return f"tmpfs {self.target} resized to {self.size}"

    def execute(self) -> None:
        libc.mount("tmpfs", self.target, "tmpfs",
                   libc.MS_REMOUNT | libc.MS_NOSUID | libc.MS_NODEV,
                   f"size={self.size},mode={self.mode:o}")


def _host_dir(name: str) -> "Mount":
    host = f"{OLD}/{name}"
    if os.path.islink(host):
        return Symlink(os.readlink(host), f"{NEW}/{name}")
    return BindMount(host, f"{NEW}/{name}", readonly=True)


@dataclass
class Symlink:
    dest: str
    target: str

    def describe(self) -> str:
        return f"symlink {self.target} -> {self.dest}"

    def execute(self) -> None:
        os.symlink(self.dest, self.target)


def overlay_workdir(upper: str) -> str:
    """The overlay work dir: a sibling of the upper dir, on the same filesystem as it must be."""
    upper = upper.rstrip("/")
    return f"{os.path.dirname(upper)}/.{os.path.basename(upper)}.work"


@dataclass
class Mountpoints:
    """Create the mount points a tree lacks: in the skeleton layer or our own tmpfs root."""

    spec: SandboxSpec
    base: str

    def describe(self) -> str:
        return f"mount points under {self.base}"

    def execute(self) -> None:
        for path in ("/proc", "/dev", "/tmp"):
            _ensure_mountpoint(f"{self.base}{path}", True)
        for bind in self.spec.binds:
            if not os.path.exists(f"{OLD}{bind.source}"):
                raise FileNotFoundError(2, f"bind source {bind.source} does not exist")
            _ensure_mountpoint(f"{self.base}{bind.target}", os.path.isdir(f"{OLD}{bind.source}"))


Mount = (BindMount | TmpfsMount | OverlayMount | ProcMount | DevMount | ReadOnly | Symlink
         | Mountpoints | MoveMount | TmpfsResize)
