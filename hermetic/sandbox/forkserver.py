"""A pre-started, warm server that keeps spare sandboxes ready for ``run()``.

Starting a Python interpreter and importing what a helper needs costs ~0.2 s; the fork server
pays that once per calling process. It is itself started as ``python -I -m hermetic.sandbox
--server FD`` (never ``preexec_fn``) and gets each request as one SOCK_SEQPACKET message (the
msgpack spec) carrying two file descriptors (output pipe, status socket).

It keeps ``SPARES`` spare sandboxes (see ``helper.run_spare``): a helper already moved into its
own cgroup(s) and into fresh namespaces, with pid 1 forked and ``lo`` up, waiting for a spec.
A request writes the spec's cgroup limits, hands the message to a spare's pid 1 and forks a
replacement. A spec needing a cgroup controller the spares lack gets a spare made on the spot.
The server reaps helpers as they exit (SIGCHLD wakes its loop; it never sleeps) and removes
their cgroups. It exits when the calling process closes its end (or dies), killing its spares
and any sandbox still running.

``HERMETIC_SANDBOX_FORKSERVER=0`` makes ``run()`` start a one-shot helper per run instead.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgpack

from hermetic.sandbox.spec import SandboxSpec

MAX_SPEC_BYTES = 1 << 20
SPARES = 2  # back-to-back runs find one ready while the other is still being made
CGROUP_DRAIN_SECONDS = 5.0  # at shutdown: how long killed tasks may take to leave their cgroups

_lock = threading.Lock()
if TYPE_CHECKING:
    import subprocess

_server: "tuple[subprocess.Popen[bytes], socket.socket] | None" = None


def enabled() -> bool:
    return os.environ.get("HERMETIC_SANDBOX_FORKSERVER", "1") != "0"


def _start() -> "tuple[subprocess.Popen[bytes], socket.socket]":
    import subprocess
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    popen = subprocess.Popen([sys.executable, "-I", "-m", "hermetic.sandbox", "--server",
                              str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                             stdin=subprocess.DEVNULL, start_new_session=True)
    theirs.close()
    return popen, ours


def warm_up() -> None:
    """Start the server now, without waiting for it: its interpreter start and first spare
    sandboxes then overlap with the caller's own work (hermetic build's load/fetch/render)."""
    global _server
    if not enabled():
        return
    with _lock:
        if _server is None or _server[0].poll() is not None:
            _server = _start()


def launch(spec: SandboxSpec, out_w: int, status_w: int):  # -> runner._Helper
    from hermetic.sandbox import runner
    payload = msgpack.packb(spec.to_wire())
    if not enabled() or len(payload) > MAX_SPEC_BYTES:
        return runner.spawn_one_shot(spec, out_w, status_w)
    global _server
    with _lock:
        if _server is None or _server[0].poll() is not None:
            _server = _start()
        try:
            socket.send_fds(_server[1], [payload], [out_w, status_w])
        except OSError:
            # The server died (killed, OOM): start a fresh one and retry once.
            _server = _start()
            socket.send_fds(_server[1], [payload], [out_w, status_w])
    return runner._Helper()


def shutdown() -> None:
    """Stop the fork server (tests, benchmarks): its spares and running sandboxes end with it.
    The next run starts a new one."""
    global _server
    with _lock:
        if _server is not None:
            popen, sock = _server
            sock.close()
            popen.wait()
            _server = None


# ---- the server process -------------------------------------------------------------------


@dataclass
class _Spare:
    pid: int                     # its helper
    requests: socket.socket      # our end; its pid 1 receives the request on the other
    kind: tuple[frozenset[str], int, int]  # cgroup controllers joined, uid and gid inside
    cgroups: dict[str, str]      # controller -> path


class _Server:
    def __init__(self, sock: socket.socket) -> None:
        from hermetic.sandbox import cgroups
        self.sock = sock
        self.available = cgroups.available()
        cgroups.sweep_stale(self.available)
        # What an ordinary spec needs (as root: a pids cgroup, RLIMIT_NPROC cannot bind root).
        self.default_kind = self._kind_of(SandboxSpec(argv=["true"]))
        self.spares: list[_Spare] = []
        self.helpers: dict[int, list[str]] = {}  # helper pid -> its cgroups, until reaped
        self.busy_cgroups: list[str] = []        # cgroups that were not yet empty
        self.in_flight: list[int] = []           # a request's fds while it is dispatched
        self.null = os.open("/dev/null", os.O_RDONLY)
        self.wakeup_r, self.wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def _kind_of(self, spec: SandboxSpec) -> tuple[frozenset[str], int, int]:
        from hermetic.sandbox import cgroups
        controllers = frozenset(name for name in cgroups.limits_for(spec)
                                if name in self.available)
        return controllers, spec.uid, spec.gid

    def make_spare(self, kind: tuple[frozenset[str], int, int]) -> _Spare:
        from hermetic.sandbox import cgroups
        controllers, uid, gid = kind
        paths = cgroups.create({name: self.available[name] for name in controllers},
                               os.getpid())
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            ours.close()
            self._become_helper()
            from hermetic.sandbox import helper
            try:
                code = helper.run_spare(theirs, list(paths.values()), (uid, gid))
            except BaseException:  # noqa: BLE001 - never return into the server loop
                code = 125
            os._exit(code)
        theirs.close()
        self.helpers[pid] = list(paths.values())
        return _Spare(pid, ours, kind, paths)

    def _become_helper(self) -> None:
        """In a freshly forked helper: drop everything that belongs to the server."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in (self.wakeup_r, self.wakeup_w):
            os.close(fd)
        self.sock.close()
        for fd in self.in_flight:  # else the runner would wait for this spare to end
            os.close(fd)
        for spare in self.spares:
            spare.requests.close()
        os.setsid()
        os.dup2(self.null, 0)

    def replenish(self) -> None:
        while len(self.spares) < SPARES:
            self.spares.append(self.make_spare(self.default_kind))

    def dispatch(self, data: bytes, fds: list[int]) -> None:
        from hermetic.sandbox import cgroups, trace
        trace.mark("server: request")
        self.in_flight = fds
        try:
            spec = SandboxSpec.from_wire(msgpack.unpackb(data, raw=False))
            limits = cgroups.limits_for(spec)
            wanted = self._kind_of(spec)
        except Exception:  # noqa: BLE001 - a malformed spec: the spare's pid 1 reports it
            limits, wanted = {}, self.default_kind
        spare = next((s for s in self.spares if s.kind == wanted), None)
        if spare is not None:
            self.spares.remove(spare)
        else:
            spare = self.make_spare(wanted)
        cgroups.set_limits(spare.cgroups, limits)
        try:
            socket.send_fds(spare.requests, [data], fds)
        except OSError:
            pass  # the spare died; the runner sees its channels close without a start
        finally:
            spare.requests.close()
            for fd in fds:
                os.close(fd)
            self.in_flight = []
        self.replenish()

    def reap(self) -> None:
        from hermetic.sandbox import cgroups
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            self.busy_cgroups += self.helpers.pop(pid, [])
            dead = [s for s in self.spares if s.pid == pid]
            for spare in dead:  # a spare that failed before its request: make a new one
                self.spares.remove(spare)
                spare.requests.close()
        if self.busy_cgroups:
            self.busy_cgroups = cgroups.remove(self.busy_cgroups)

    def close(self) -> None:
        """End every spare and every running sandbox, reap the helpers, remove the cgroups."""
        from hermetic.sandbox import cgroups
        spare_pids = {spare.pid for spare in self.spares}
        for spare in self.spares:  # pid 1 exits on end of stream; its helper follows
            spare.requests.close()
        self.spares.clear()
        for pid, paths in self.helpers.items():
            if pid in spare_pids:
                continue
            # Kill pid 1 itself (the pid namespace goes with it), found through its cgroup,
            # so that the cgroup is empty once the helper has been reaped; without a cgroup,
            # killing the helper is enough (pid 1 dies of its parent-death signal).
            victims = cgroups.members(paths) or [pid]
            for victim in victims:
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        while self.helpers:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.busy_cgroups += self.helpers.pop(pid, [])
        # Killed tasks leave their cgroup a moment after their parent is reaped (the kernel
        # finishes their exit asynchronously), so rmdir can still find it busy. This runs once,
        # at shutdown: retry briefly rather than leave cgroups behind.
        deadline = time.monotonic() + CGROUP_DRAIN_SECONDS
        busy = cgroups.remove(self.busy_cgroups)
        while busy and time.monotonic() < deadline:
            time.sleep(0.01)
            busy = cgroups.remove(busy)
        self.busy_cgroups = busy

    def loop(self) -> int:
        import selectors
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ)
        selector.register(self.wakeup_r, selectors.EVENT_READ)
        # One spare for the first request; the rest after it (a single-run caller such as the
        # CLI would otherwise wait while two are built on a small machine).
        self.spares.append(self.make_spare(self.default_kind))
        while True:
            for key, _ in selector.select():
                if key.fileobj == self.wakeup_r:
                    try:
                        while os.read(self.wakeup_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
                    continue
                data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_SPEC_BYTES, 2)
                if not data:
                    self.close()
                    return 0
                if len(fds) != 2:
                    for extra in fds:
                        os.close(extra)
                    continue
                self.dispatch(data, fds)


def serve(fd: int) -> int:
    """The server loop (runs in the server process)."""
    import gc

    # Warm up: everything a helper and pid 1 use, imported (and the BPF built) once here.
    from hermetic.sandbox import cgroups, hardening, helper, net, pid1, profile, trace  # noqa: F401
    for name in profile.PROFILES:
        profile.bpf_program(name)
    server = _Server(socket.socket(fileno=fd))
    # SIGCHLD wakes the loop through the wakeup pipe; the handler itself does nothing.
    signal.set_wakeup_fd(server.wakeup_w)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    # Every fork copies the page tables of what is resident, and every page a child writes is
    # copied again: keep the collector from walking (and so writing) the warm heap in children.
    gc.collect()
    gc.freeze()
    return server.loop()
