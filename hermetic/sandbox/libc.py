"""Raw system calls the standard library lacks, each a small ctypes wrapper raising ``OSError``.

Only the helper process (``python -I -m hermetic.sandbox``) calls these; they change the calling
process's namespaces and mounts and must never run inside the caller of ``sandbox.run``.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

# Namespace flags (linux/sched.h).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# Mount flags (linux/mount.h).
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24

MNT_DETACH = 2


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          options: str | None = None) -> None:
    def enc(value: str | None) -> bytes | None:
        return value.encode() if value is not None else None
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(options)),
           f"mount {source or fstype} on {target}")


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


# glibc has no pivot_root() wrapper, so it goes through syscall(2) by number.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}


def pivot_root(new_root: str, put_old: str) -> None:
    number = _SYS_PIVOT_ROOT[os.uname().machine]
    _check(_libc.syscall(ctypes.c_long(number), new_root.encode(), put_old.encode()),
           f"pivot_root {new_root}")


def sethostname(name: str) -> None:
    data = name.encode()
    _check(_libc.sethostname(data, ctypes.c_size_t(len(data))), "sethostname")


def setdomainname(name: str) -> None:
    data = name.encode()
    _check(_libc.setdomainname(data, ctypes.c_size_t(len(data))), "setdomainname")


# prctl(2) options (linux/prctl.h).
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    return _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                              ctypes.c_ulong(0), ctypes.c_ulong(0)), f"prctl {option}")


def set_pdeathsig(signum: int) -> None:
    prctl(PR_SET_PDEATHSIG, signum)


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def limit_capabilities(keep: frozenset[int]) -> None:
    """Drop every capability not in ``keep`` from the bounding, ambient, effective, permitted
    and inheritable sets of the calling process (inheritable ends empty)."""
    for number in range(64):
        if number in keep:
            continue
        if _libc.prctl(ctypes.c_int(PR_CAPBSET_DROP), ctypes.c_ulong(number), ctypes.c_ulong(0),
                       ctypes.c_ulong(0), ctypes.c_ulong(0)) < 0:
            if ctypes.get_errno() == 22:  # EINVAL: past the kernel's last capability
                break
            _check(-1, f"prctl PR_CAPBSET_DROP {number}")
    # Ambient capabilities are a subset of permitted ∩ inheritable, so the capset below would
    # clear them too; clearing them first says so explicitly (EINVAL on kernels before 4.3).
    _libc.prctl(ctypes.c_int(PR_CAP_AMBIENT), ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL),
                ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    mask = sum(1 << number for number in keep)
    data = (_CapData * 2)(_CapData(mask & 0xFFFFFFFF, mask & 0xFFFFFFFF, 0),
                          _CapData(mask >> 32, mask >> 32, 0))
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    _check(_libc.capset(ctypes.byref(header), data), "capset")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_seccomp_program(program: bytes) -> None:
    """Install a classic-BPF seccomp program (8-byte ``struct sock_filter`` instructions).

    The caller must have set NO_NEW_PRIVS (or hold CAP_SYS_ADMIN).
    """
    if not program or len(program) % 8:
        raise ValueError(f"seccomp program of {len(program)} bytes is not whole instructions")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _check(_libc.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER),
                       ctypes.byref(fprog), ctypes.c_ulong(0), ctypes.c_ulong(0)),
           "prctl PR_SET_SECCOMP")


# posix_spawn(3) through ctypes rather than os.posix_spawn: Python builds the "signals to
# default" set with sigaddset, which refuses glibc's internal signals (SIGCANCEL, SIGSETXID),
# and glibc's spawn child then leaves those two ignored across execve. Filling the set's bits
# directly gives the payload every signal at its default, as a fork + execve would.
POSIX_SPAWN_SETSIGDEF = 0x04
POSIX_SPAWN_SETSIGMASK = 0x08
_SPAWNATTR_BYTES = 1024  # glibc's posix_spawnattr_t is 336 bytes on 64-bit targets
_SIGSET_BYTES = 128      # glibc's sigset_t


def spawn(path: str, argv: list[str], env: dict[str, str]) -> int:
    """vfork + execve of ``path`` with every signal at its default and none blocked.

    Returns the child's pid; raises ``OSError`` with the execve error (ENOENT, EACCES...)."""
    attr = ctypes.create_string_buffer(_SPAWNATTR_BYTES)
    _check(-_libc.posix_spawnattr_init(attr) or 0, "posix_spawnattr_init")
    try:
        every_signal = ctypes.create_string_buffer(b"\xff" * _SIGSET_BYTES, _SIGSET_BYTES)
        no_signal = ctypes.create_string_buffer(_SIGSET_BYTES)
        _libc.posix_spawnattr_setsigdefault(attr, every_signal)
        _libc.posix_spawnattr_setsigmask(attr, no_signal)
        _libc.posix_spawnattr_setflags(attr, ctypes.c_short(POSIX_SPAWN_SETSIGDEF
                                                            | POSIX_SPAWN_SETSIGMASK))
        args = (ctypes.c_char_p * (len(argv) + 1))(*[os.fsencode(a) for a in argv], None)
        pairs = [os.fsencode(f"{name}={value}") for name, value in env.items()]
        envp = (ctypes.c_char_p * (len(pairs) + 1))(*pairs, None)
        pid = ctypes.c_int(0)
        error = _libc.posix_spawn(ctypes.byref(pid), os.fsencode(path), None, attr, args, envp)
    finally:
        _libc.posix_spawnattr_destroy(attr)
    if error:
        raise OSError(error, os.strerror(error), path)
    return pid.value
