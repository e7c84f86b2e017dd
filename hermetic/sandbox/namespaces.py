"""Entering the namespaces: one unshare(2), then a one-id uid/gid map with setgroups denied."""

from __future__ import annotations

import errno
import os

from hermetic.errors import SandboxError
from hermetic.sandbox import libc

USERNS_HINT = ("enable unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 "
               "and user.max_user_namespaces=15000 (and, on Ubuntu, "
               "kernel.apparmor_restrict_unprivileged_userns=0)")


def namespace_flags() -> int:
    flags = (libc.CLONE_NEWUSER | libc.CLONE_NEWNS | libc.CLONE_NEWPID | libc.CLONE_NEWNET
             | libc.CLONE_NEWIPC | libc.CLONE_NEWUTS)
    if os.path.exists("/proc/self/ns/cgroup"):
        flags |= libc.CLONE_NEWCGROUP
    return flags


def enter(inside_uid: int, inside_gid: int) -> None:
    """Move the calling (single-threaded) process into new namespaces, mapped to one id."""
    outside = unshare_all()
    map_ids(inside_uid, inside_gid, outside)


def unshare_all() -> tuple[int, int]:
    """unshare(2) every namespace; returns the caller's (uid, gid) as they were outside.

    The new user namespace has no id map yet: ``map_ids`` (from this process or a child of it,
    which shares the namespace) writes it once the ids to show inside are known.
    """
    outside = (os.geteuid(), os.getegid())
    try:
        libc.unshare(namespace_flags())
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EINVAL, errno.ENOSPC, errno.EACCES):
            raise SandboxError(f"sandbox: the kernel refused to create a user namespace "
                               f"({exc.strerror})", USERNS_HINT) from exc
        raise
    return outside


def map_ids(inside_uid: int, inside_gid: int, outside: tuple[int, int]) -> None:
    """Map one uid and one gid of the caller's user namespace (setgroups denied first, as an
    unprivileged gid map requires)."""
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{inside_uid} {outside[0]} 1\n")
    _write("/proc/self/gid_map", f"{inside_gid} {outside[1]} 1\n")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
