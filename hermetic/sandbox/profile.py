"""The seccomp profiles, as data, and their installation through pyseccomp.

``PROFILE_VERSION`` joins every build key: bump it on ANY change to the rules below or to the
capabilities kept, since a different filter may change what a build can do and therefore its output.

The default profile allows everything except the listed calls (a deny-list, like Nix and bwrap
users do): builds run arbitrary tools, so an allow-list would break real ``%check`` suites.
Loopback sockets and ptrace stay allowed; the net and pid namespaces confine them.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

PROFILE_VERSION = "seccomp-1"
PROFILES = ("default", "strict")

S_ISUID = 0o4000
S_ISGID = 0o2000
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
AF_INET = 2
AF_INET6 = 10
AF_PACKET = 17
SOCK_RAW = 3
SOCK_TYPE_MASK = 0xF
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000, 0x00000080)  # NEWNS CGROUP UTS IPC USER PID NET TIME

# Calls added after libseccomp 2.5.4 (Debian 12) knew them: the kernel gives every new call the
# same number on all architectures since 5.x, so we name them by number.
_NEWER_SYSCALLS = {
    "mount_setattr": 442, "fchmodat2": 452, "setxattrat": 463, "removexattrat": 466,
    "open_tree_attr": 467,
}


@dataclass(frozen=True)
class Rule:
    """Deny ``syscall`` with ``errno_value`` when argument ``arg`` masked by ``mask`` equals
    ``value`` (``arg is None``: always)."""

    syscall: str
    errno_value: int
    arg: int | None = None
    mask: int = 0
    value: int = 0

    def describe(self) -> str:
        cond = "" if self.arg is None else f" if (arg{self.arg} & {self.mask:#x}) == {self.value:#x}"
        return f"{self.syscall}{cond} -> {errno.errorcode[self.errno_value]}"


def _always(errno_value: int, *names: str) -> list[Rule]:
    return [Rule(name, errno_value) for name in names]


def _mode_bits(name: str, arg: int) -> list[Rule]:
    # Setuid/setgid bits never belong in build outputs; rpm records modes from %attr anyway.
    return [Rule(name, errno.EPERM, arg, bit, bit) for bit in (S_ISUID, S_ISGID)]


def default_rules() -> list[Rule]:
    rules: list[Rule] = []
    # Once set up, the filesystem view and the namespaces are frozen.
    rules += _always(errno.EPERM, "mount", "umount2", "pivot_root", "unshare", "setns", "chroot",
                     "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
                     "mount_setattr", "open_tree_attr")
    rules += [Rule("clone", errno.EPERM, 0, flag, flag) for flag in NAMESPACE_FLAGS]
    # clone3 passes its flags in memory seccomp cannot read; ENOSYS makes libc fall back to clone.
    rules += _always(errno.ENOSYS, "clone3")
    # The kernel itself: modules, kexec, eBPF, perf, keyrings, accounting, clocks, swap, reboot.
    rules += _always(errno.EPERM, "kexec_load", "kexec_file_load", "init_module", "finit_module",
                     "delete_module", "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
                     "acct", "swapon", "swapoff", "reboot", "syslog", "iopl", "ioperm",
                     "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
                     "quotactl", "name_to_handle_at", "open_by_handle_at", "lookup_dcookie",
                     "vhangup", "userfaultfd")
    # Extended attributes: ENOTSUP, as Nix does, so tools fall back instead of failing oddly and
    # no xattr (capabilities, ACLs, SELinux labels) leaks into outputs.
    rules += _always(errno.ENOTSUP, "setxattr", "lsetxattr", "fsetxattr", "removexattr",
                     "lremovexattr", "fremovexattr", "setxattrat", "removexattrat")
    rules += _mode_bits("chmod", 1) + _mode_bits("fchmod", 1) + _mode_bits("fchmodat", 2)
    rules += _mode_bits("fchmodat2", 2)
    # Typing into a terminal's input queue; the mask stops high bits from dodging the compare.
    rules += [Rule("ioctl", errno.EPERM, 1, 0xFFFFFFFF, TIOCSTI),
              Rule("ioctl", errno.EPERM, 1, 0xFFFFFFFF, TIOCLINUX)]
    # Packet and raw sockets: no sniffing or forging, even inside the private net namespace.
    rules += [Rule("socket", errno.EAFNOSUPPORT, 0, 0xFFFFFFFF, AF_PACKET),
              Rule("socket", errno.EPERM, 1, SOCK_TYPE_MASK, SOCK_RAW)]
    return rules


def strict_rules() -> list[Rule]:
    """Opt-in: also no inet sockets (not even loopback) and no ptrace at all."""
    return default_rules() + [
        Rule("socket", errno.EAFNOSUPPORT, 0, 0xFFFFFFFF, AF_INET),
        Rule("socket", errno.EAFNOSUPPORT, 0, 0xFFFFFFFF, AF_INET6),
        *_always(errno.EPERM, "ptrace", "process_vm_readv", "process_vm_writev"),
    ]


def rules_for(profile: str) -> list[Rule]:
    if profile == "default":
        return default_rules()
    if profile == "strict":
        return strict_rules()
    raise ValueError(f"unknown seccomp profile {profile!r}")


_compiled: dict[str, object] = {}
_programs: dict[str, bytes] = {}


def install(profile: str) -> None:
    """Load the profile into the calling process (and every process it will start).

    The caller must have set NO_NEW_PRIVS first. Loads the BPF program exported once per
    process by ``bpf_program`` (libseccomp would regenerate it on every load).
    """
    from hermetic.sandbox import libc
    libc.load_seccomp_program(bpf_program(profile))


def bpf_program(profile: str) -> bytes:
    """The profile as the classic-BPF program libseccomp generates, built once per process.

    The fork server builds both profiles at start-up, so sandboxes only copy bytes into the
    kernel; the program is the very filter ``compile_filter(profile).load()`` would install.
    """
    if profile not in _programs:
        read_end, write_end = os.pipe()
        try:
            # The program is ~1 KiB per 128 instructions, far below a pipe's capacity.
            compile_filter(profile).export_bpf(_Fd(write_end))  # type: ignore[attr-defined]
            os.close(write_end)
            write_end = -1
            chunks = []
            while chunk := os.read(read_end, 65536):
                chunks.append(chunk)
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)
        _programs[profile] = b"".join(chunks)
    return _programs[profile]


class _Fd:
    """What pyseccomp's export_bpf wants: an object with ``fileno()``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


def compile_filter(profile: str) -> object:
    """The libseccomp filter for a profile, built once per process (and inherited by fork).

    Calls this libseccomp cannot name are resolved by number; a rule that cannot be expressed
    raises, so the filter is never silently weaker than its description.
    """
    if profile in _compiled:
        return _compiled[profile]
    import pyseccomp as seccomp  # lazy: only the helper needs libseccomp

    sc_filter = seccomp.SyscallFilter(seccomp.ALLOW)
    for rule in rules_for(profile):
        syscall: int | str = rule.syscall
        if seccomp.resolve_syscall(seccomp.system_arch(), rule.syscall) < 0:
            syscall = _NEWER_SYSCALLS[rule.syscall]  # KeyError: a rule we cannot express
        args = [] if rule.arg is None else [seccomp.Arg(rule.arg, seccomp.MASKED_EQ,
                                                         rule.mask, rule.value)]
        sc_filter.add_rule(seccomp.ERRNO(rule.errno_value), syscall, *args)
    _compiled[profile] = sc_filter
    return sc_filter
