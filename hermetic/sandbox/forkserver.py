"""A pre-started, warm helper that forks one child per sandbox run.

Starting a Python interpreter and importing pyroute2/pyseccomp costs ~0.3 s; the fork server
pays that once per calling process. It is itself started as ``python -I -m hermetic.sandbox
--server FD`` (never ``preexec_fn``) and gets each request as one SOCK_SEQPACKET message (the
msgpack spec) carrying two file descriptors (output pipe, status pipe). Each forked child is a
complete helper (see ``helper.run_helper``) and reports its pid on the status pipe.
The server exits when the calling process closes its end (or dies).

``HERMETIC_SANDBOX_FORKSERVER=0`` makes ``run()`` start a one-shot helper per run instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import msgpack

from hermetic.sandbox.spec import SandboxSpec

MAX_SPEC_BYTES = 1 << 20

_lock = threading.Lock()
_server: tuple[subprocess.Popen[bytes], socket.socket] | None = None


def enabled() -> bool:
    return os.environ.get("HERMETIC_SANDBOX_FORKSERVER", "1") != "0"


def _start() -> tuple[subprocess.Popen[bytes], socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    popen = subprocess.Popen([sys.executable, "-I", "-m", "hermetic.sandbox", "--server",
                              str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                             stdin=subprocess.DEVNULL, start_new_session=True)
    theirs.close()
    return popen, ours


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
    """Stop the fork server (tests, benchmarks); the next run starts a new one."""
    global _server
    with _lock:
        if _server is not None:
            popen, sock = _server
            sock.close()
            popen.wait()
            _server = None


def serve(fd: int) -> int:
    """The server loop (runs in the server process)."""
    # Warm up: everything a helper imports, imported once here.
    import gc

    from hermetic.sandbox import hardening, helper, net, profile, trace  # noqa: F401
    from hermetic.sandbox.status import StatusWriter
    for name in profile.PROFILES:
        profile.bpf_program(name)
    # Every fork copies the page tables of what is resident, and every page a child writes is
    # copied again: keep the collector from walking (and so writing) the warm heap in children.
    gc.collect()
    gc.freeze()

    sock = socket.socket(fileno=fd)
    # Children are reaped automatically; each resets this before it starts waiting itself.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    null = os.open("/dev/null", os.O_RDONLY)
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, MAX_SPEC_BYTES, 2)
        except InterruptedError:
            continue
        if not data:
            return 0
        if len(fds) != 2:
            for extra in fds:
                os.close(extra)
            continue
        out_w, status_w = fds
        trace.mark("server: request")
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            sock.close()
            os.setsid()
            os.dup2(null, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.close(out_w)
            os.set_inheritable(status_w, False)
            status = StatusWriter(status_w)
            try:
                spec = SandboxSpec.from_wire(msgpack.unpackb(data, raw=False))
                code = helper.run_helper(spec, status)
            except BaseException as exc:  # noqa: BLE001
                status.send(event="error", message=f"sandbox: helper failed: {exc}", hint=None)
                code = 125
            os._exit(code)
        os.close(out_w)
        os.close(status_w)
