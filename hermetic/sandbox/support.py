"""``check_support()``: does this kernel let us build a sandbox at all? Cheap checks, no probe."""

from __future__ import annotations

import os

from hermetic.errors import SandboxError
from hermetic.sandbox.namespaces import USERNS_HINT


def _read(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return None


def check_support() -> None:
    """Raise ``SandboxError(message, hint)`` if user namespaces or overlayfs are missing."""
    if not os.path.exists("/proc/self/ns/user"):
        raise SandboxError("sandbox: this kernel has no user namespaces (CONFIG_USER_NS)",
                           "use a kernel built with CONFIG_USER_NS=y")
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        raise SandboxError("sandbox: user namespaces are disabled "
                           "(user.max_user_namespaces = 0)", USERNS_HINT)
    if os.geteuid() != 0 and _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        raise SandboxError("sandbox: unprivileged user namespaces are disabled "
                           "(kernel.unprivileged_userns_clone = 0)", USERNS_HINT)
    if os.geteuid() != 0 and _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        raise SandboxError("sandbox: AppArmor restricts unprivileged user namespaces",
                           USERNS_HINT)
    filesystems = _read("/proc/filesystems") or ""
    if "overlay" not in filesystems.split():
        raise SandboxError("sandbox: the kernel has no overlayfs",
                           "load it with `modprobe overlay` (or build with CONFIG_OVERLAY_FS)")
