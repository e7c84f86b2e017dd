"""Pid 1 of the sandbox: assemble the root, pivot into it, start the payload, reap, forward.

When the payload exits, pid 1 exits with its status; the kernel then kills every process left in
the pid namespace (daemons included), and only then does pid 1's pidfd (held by the runner)
become readable and the helper's wait return.
"""

from __future__ import annotations

import errno
import os
import signal
import sys

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
    """Build the sandbox's filesystem on the prepared base (``mounts.prepare_base``) and pivot
    into it."""
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


def _spawn(argv: list[str], env: dict[str, str]) -> int:
    """posix_spawn (vfork + execve: no copy of this process's page tables), with the PATH
    search of ``os.execvpe`` over the payload's own PATH."""
    name = argv[0]
    candidates = [name] if os.path.dirname(name) else [
        os.path.join(directory, name) for directory in os.get_exec_path(env)]
    first_real_error: OSError | None = None
    last_error: OSError | None = None
    for path in candidates:
        try:
            # Every signal at its default (Python ignores SIGPIPE and SIGXFSZ, and ignored
            # signals survive execve: a `yes | head` pipeline must end), none blocked.
            return libc.spawn(path, argv, env)
        except OSError as exc:
            last_error = exc
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR) and first_real_error is None:
                first_real_error = exc
    error = first_real_error or last_error
    assert error is not None
    raise error


def start_payload(spec: SandboxSpec) -> int:
    """Harden pid 1 itself, then start the payload, which inherits all of it. Returns its pid.

    umask, rlimits, NO_NEW_PRIVS, the capability sets and the seccomp filter are inherited
    through posix_spawn and execve; the environment and the signal dispositions are set for
    the payload alone. Pid 1 needs nothing the hardening takes away: it only waits, forwards
    signals and writes to the status socket.
    """
    os.umask(0o022)
    hardening.set_rlimits(spec)
    env = hardening.payload_environment(spec, _home(spec))
    try:
        os.chdir(spec.cwd)
    except OSError as exc:
        raise SandboxError(f"sandbox: working directory {spec.cwd}: {exc.strerror}") from exc
    hardening.drop_privileges(spec)
    trace.mark("pid1: hardened")
    try:
        return _spawn(spec.argv, env)
    except OSError as exc:
        raise SandboxError(f"sandbox: cannot run {spec.argv[0]!r}: {exc.strerror}",
                           "the command must exist inside the sandbox's root") from exc


def prepare() -> None:
    """What pid 1 can do before it knows the spec (fork-server spares do it ahead of time).
    The id map must be written already."""
    trace.mark("pid1: start")
    libc.set_pdeathsig(signal.SIGKILL)  # the helper gone means the sandbox is gone
    os.setsid()  # no controlling terminal inside
    # A fresh network namespace has only `lo`, down.
    from hermetic.sandbox import net
    net.bring_up_loopback()
    try:
        mounts.prepare_base()
    except OSError as exc:
        raise _explain("base mounts (/proc, /dev)", exc) from exc
    trace.mark("pid1: prepared")


def run(spec: SandboxSpec, status: StatusWriter, cgroup: list[str] | None) -> None:
    """Run as pid 1, after ``prepare`` and with the id maps written. Never returns."""
    try:
        pidfd = os.pidfd_open(os.getpid())
        status.send_with_fd(pidfd, event="started", cgroup=cgroup)
        os.close(pidfd)
        from hermetic.sandbox import profile
        profile.bpf_program(spec.profile)  # built before the pivot: here it is only looked up
        libc.sethostname(spec.hostname)
        libc.setdomainname(spec.domainname)
        setup_root(spec)
        trace.mark("pid1: root ready")
        payload = start_payload(spec)
    except SandboxError as exc:
        status.send(event="error", message=exc.message, hint=exc.hint)
        os._exit(125)
    except BaseException as exc:  # noqa: BLE001 - report, never fall back into the caller
        status.send(event="error", message=f"sandbox: setup failed: {exc}", hint=None)
        os._exit(125)
    _supervise(payload, status)


def main(spec: SandboxSpec, status: StatusWriter, cgroup: list[str] | None = None) -> None:
    """Run as pid 1 with the spec known from the start. Never returns."""
    try:
        # Before prepare() pivots away from the host's files (libseccomp among them).
        from hermetic.sandbox import profile
        profile.bpf_program(spec.profile)
        prepare()
    except SandboxError as exc:
        status.send(event="error", message=exc.message, hint=exc.hint)
        os._exit(125)
    except BaseException as exc:  # noqa: BLE001
        status.send(event="error", message=f"sandbox: setup failed: {exc}", hint=None)
        os._exit(125)
    run(spec, status, cgroup)

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
