"""Pid 1 of the sandbox: assemble the root, pivot into it, start the payload, reap, forward.

When the payload exits, pid 1 exits with its status; the kernel then kills every process left in
the pid namespace (daemons included), and the helper's wait returns only after they are gone.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import traceback

from hermetic.errors import SandboxError
from hermetic.sandbox import hardening, libc, mounts, trace
from hermetic.sandbox.spec import SandboxSpec
from hermetic.sandbox.status import StatusWriter

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2)

OVERLAY_HINT = ("overlayfs in a user namespace needs Linux >= 5.11 and an upper directory on a "
                "filesystem with user xattrs (ext4, xfs, btrfs, tmpfs >= 6.6), on the same "
                "filesystem as its work directory")
OWNERSHIP_HINT = ("the root tree must be owned by the invoking user (unpack it with ownership "
                  "squashed); files owned by an unmapped uid cannot be written rootless")


def setup_root(spec: SandboxSpec) -> None:
    """Build the sandbox's filesystem and pivot into it."""
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    # A private tmpfs holds the new root and, during assembly, the old one at /oldroot; so host
    # paths (even under /tmp) stay reachable for binds until we detach them.
    base = "/tmp"
    libc.mount("tmpfs", base, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "size=1m,mode=0755")
    for name in ("oldroot", "newroot", "skeleton"):
        os.mkdir(f"{base}/{name}", 0o755)
    libc.pivot_root(base, f"{base}/oldroot")
    os.chdir("/")
    if spec.overlay_upper is not None:
        os.makedirs(f"{mounts.OLD}{mounts.overlay_workdir(spec.overlay_upper)}", exist_ok=True)
    for step in mounts.plan_mounts(spec):
        try:
            step.execute()
        except OSError as exc:
            raise _explain(step.describe(), exc) from exc
    libc.umount2(mounts.OLD, libc.MNT_DETACH)
    os.chdir(mounts.NEW)
    libc.pivot_root(".", ".")          # stack the new root over the base tmpfs ...
    libc.umount2(".", libc.MNT_DETACH)  # ... and drop the base from under it
    os.chdir("/")


def _explain(what: str, exc: OSError) -> SandboxError:
    if exc.errno == errno.EOVERFLOW:
        return SandboxError(f"sandbox: {what}: {exc.strerror}", OWNERSHIP_HINT)
    if what.startswith("overlay") and exc.errno in (errno.EPERM, errno.EINVAL, errno.ENODEV,
                                                   errno.ENOTSUP, errno.EOPNOTSUPP):
        return SandboxError(f"sandbox: the kernel refused the overlay mount ({exc.strerror})",
                            OVERLAY_HINT)
    return SandboxError(f"sandbox: {what}: {exc.strerror or exc}")


def _home(spec: SandboxSpec) -> str:
    return spec.home if os.path.isdir(spec.home) else "/tmp"


def exec_payload(spec: SandboxSpec, status: StatusWriter) -> None:
    """In the payload's process: harden, then execve. Never returns."""
    try:
        hardening.restore_signals()
        os.umask(0o022)
        hardening.set_rlimits(spec)
        env = hardening.payload_environment(spec, _home(spec))
        try:
            os.chdir(spec.cwd)
        except OSError as exc:
            raise SandboxError(f"sandbox: working directory {spec.cwd}: {exc.strerror}") from exc
        trace.mark("payload: start")
        hardening.drop_privileges(spec)
        trace.mark("payload: exec")
        try:
            os.execvpe(spec.argv[0], spec.argv, env)
        except OSError as exc:
            raise SandboxError(f"sandbox: cannot run {spec.argv[0]!r}: {exc.strerror}",
                               "the command must exist inside the sandbox's root") from exc
    except SandboxError as exc:
        status.send(event="error", message=exc.message, hint=exc.hint)
    except BaseException:  # noqa: BLE001 - report, never fall back into pid 1's code
        status.send(event="error", message="sandbox: payload setup failed: "
                    + traceback.format_exc(limit=3).strip().splitlines()[-1], hint=None)
    os._exit(127)


def main(spec: SandboxSpec, status: StatusWriter) -> None:
    """Run as pid 1. Never returns."""
    try:
        # Everything that needs the host's files (Python modules, libseccomp) comes in before
        # the pivot: afterwards only the sandbox's root is visible.
        trace.mark("pid1: start")
        from hermetic.sandbox import net, profile
        profile.bpf_program(spec.profile)  # built in the fork server already; libseccomp is a host file
        libc.set_pdeathsig(signal.SIGKILL)  # the helper gone means the sandbox is gone
        os.setsid()  # no controlling terminal inside
        setup_root(spec)
        trace.mark("pid1: root ready")
        libc.sethostname(spec.hostname)
        libc.setdomainname(spec.domainname)
        net.bring_up_loopback()
        trace.mark("pid1: lo up")
    except SandboxError as exc:
        status.send(event="error", message=exc.message, hint=exc.hint)
        os._exit(125)
    except BaseException as exc:  # noqa: BLE001
        status.send(event="error", message=f"sandbox: setup failed: {exc}", hint=None)
        os._exit(125)
    payload = os.fork()
    if payload == 0:
        exec_payload(spec, status)
    _supervise(payload, status)


def _supervise(payload: int, status: StatusWriter) -> None:
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(payload, signum)
        except ProcessLookupError:
            pass
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    while True:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            os._exit(125)
        if pid == payload:
            trace.mark("pid1: payload reaped")
        if pid != payload:
            continue  # an orphan re-parented to us: reaped, nothing more
        if os.WIFSIGNALED(wait_status):
            signum = os.WTERMSIG(wait_status)
            status.send(event="exit", signal=signum)
            sys.stdout.flush()
            os._exit(128 + signum)
        code = os.WEXITSTATUS(wait_status)
        status.send(event="exit", code=code)
        os._exit(code)
