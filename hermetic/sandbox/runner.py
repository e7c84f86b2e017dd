"""``run(spec)``: start a helper, feed it the spec, stream and log the output, enforce the wall
and silence timeouts, and turn the helper's status messages into a ``SandboxResult``.

Runs in the caller's process (which may have threads): the helper is a fresh interpreter started
with ``subprocess`` (no ``preexec_fn``), or a child of the pre-started fork server.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO, Callable

import msgpack

from hermetic.errors import SandboxError
from hermetic.sandbox import cgroups, trace
from hermetic.sandbox.spec import SandboxResult, SandboxSpec
from hermetic.sandbox.status import StatusReader, channel as status_channel, receive

OutputCallback = Callable[[bytes], None]
CANCEL_POLL_SECONDS = 0.1  # how often a run with a cancel event checks it

# The cancel event of the calling thread's scope (``cancelling``): lets a caller several layers
# up (a build executor) stop the sandboxes that code in between (the rpmbuild driver) starts.
_scope_cancel: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "hermetic_sandbox_cancel", default=None)


@contextlib.contextmanager
def cancelling(cancel: threading.Event | None) -> Iterator[None]:
    """Within this block (in this thread), every ``run`` without its own ``cancel`` uses
    ``cancel``: setting it kills the running sandbox, and a run started after it is set is
    killed as soon as it starts."""
    token = _scope_cancel.set(cancel)
    try:
        yield
    finally:
        _scope_cancel.reset(token)


def helper_command(status_fd: int) -> list[str]:
    return [sys.executable, "-I", "-m", "hermetic.sandbox", str(status_fd)]


class _Log:
    """The log file, written beside its final name and renamed into place when complete."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.file: BinaryIO | None = None
        if path is not None:
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
            fd, self.temp = tempfile.mkstemp(prefix=".log-", dir=directory)
            self.file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        if self.file is not None:
            self.file.write(data)

    def close(self) -> None:
        if self.file is not None and self.path is not None:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.chmod(self.temp, 0o644)
            os.replace(self.temp, self.path)


def run(spec: SandboxSpec, on_output: OutputCallback | None = None,
        cancel: threading.Event | None = None) -> SandboxResult:
    """Run ``spec.argv`` in a fresh sandbox; blocks until it and everything it started is gone.

    Setting ``cancel`` (default: the ``cancelling`` scope's event) kills the sandbox, all its
    processes, within ``CANCEL_POLL_SECONDS``; the result then has signal SIGKILL.
    """
    if cancel is None:
        cancel = _scope_cancel.get()
    spec.validate()
    spec = _absolute_paths(spec)
    from hermetic.sandbox import forkserver
    started = time.monotonic()
    trace.mark("runner: start")
    out_r, out_w = os.pipe()
    status_sock, status_theirs = status_channel()
    try:
        helper = forkserver.launch(spec, out_w, status_theirs.fileno())
    finally:
        os.close(out_w)
        status_theirs.close()
    trace.mark("runner: launched")
    log = _Log(spec.log_path)
    try:
        return _supervise(spec, helper, out_r, status_sock, on_output, log, started, cancel)
    finally:
        os.close(out_r)
        status_sock.close()
        log.close()


def _absolute_paths(spec: SandboxSpec) -> SandboxSpec:
    """Host paths relative to the caller's cwd; the helper may run elsewhere (fork server)."""
    import dataclasses

    def absolute(path: str | None) -> str | None:
        return os.path.abspath(path) if path is not None else None
    binds = [dataclasses.replace(bind, source=os.path.abspath(bind.source)) for bind in spec.binds]
    return dataclasses.replace(spec, root=absolute(spec.root), binds=binds,
                               overlay_upper=absolute(spec.overlay_upper),
                               log_path=absolute(spec.log_path))


class _Helper:
    """A started helper: a Popen (one-shot) or a pid reported by the fork server."""

    def __init__(self, popen: subprocess.Popen[bytes] | None = None) -> None:
        self.popen = popen
        self.pid: int | None = popen.pid if popen is not None else None

    def kill(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self) -> None:
        if self.popen is not None:
            self.popen.wait()


def spawn_one_shot(spec: SandboxSpec, out_w: int, status_w: int) -> _Helper:
    popen = subprocess.Popen(helper_command(status_w), stdin=subprocess.PIPE, stdout=out_w,
                             stderr=out_w, pass_fds=(status_w,), start_new_session=True)
    assert popen.stdin is not None
    popen.stdin.write(msgpack.packb(spec.to_wire()))
    popen.stdin.close()
    return _Helper(popen)


def _supervise(spec: SandboxSpec, helper: _Helper, out_r: int, status: socket.socket,
               on_output: OutputCallback | None, log: _Log, started: float,
               cancel: threading.Event | None = None) -> SandboxResult:
    """Stream output and status until the sandbox is over: both channels at end of stream and,
    once pid 1 has started, its pidfd readable (every process of the sandbox is gone)."""
    reader = StatusReader()
    messages: list[dict[str, Any]] = []
    pidfd: int | None = None
    pid1_gone = False
    cgroup: list[str] | None = None
    timed_out = silent = cancelled = False
    last_output = time.monotonic()
    selector = selectors.DefaultSelector()
    selector.register(out_r, selectors.EVENT_READ)
    selector.register(status, selectors.EVENT_READ)
    open_channels = {out_r, status.fileno()}

    def kill_sandbox() -> None:
        # Killing pid 1 takes the whole pid namespace down. Before it has started there is
        # only the helper (one-shot) or a spare waiting in the fork server; the kill happens
        # when "started" arrives.
        if pidfd is not None:
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        helper.kill()

    try:
        while open_channels or (pidfd is not None and not pid1_gone):
            now = time.monotonic()
            deadlines = []
            if spec.timeout is not None and not (timed_out or silent):
                deadlines.append(started + spec.timeout - now)
            if spec.max_silent_time is not None and not (timed_out or silent):
                deadlines.append(last_output + spec.max_silent_time - now)
            if cancel is not None and not cancelled:
                deadlines.append(CANCEL_POLL_SECONDS)
            wait = max(0.0, min(deadlines)) if deadlines else None
            for key, _ in selector.select(wait):
                if key.fd == pidfd:
                    pid1_gone = True
                    selector.unregister(pidfd)
                elif key.fd == out_r:
                    data = os.read(out_r, 65536)
                    if not data:
                        selector.unregister(out_r)
                        open_channels.discard(out_r)
                        continue
                    last_output = time.monotonic()
                    log.write(data)
                    if on_output is not None:
                        on_output(data)
                else:
                    data, fds = receive(status)
                    if not data:
                        selector.unregister(status)
                        open_channels.discard(status.fileno())
                        continue
                    for message in reader.feed(data):
                        messages.append(message)
                        if message["event"] == "started" and fds and pidfd is None:
                            pidfd = fds.pop(0)
                            selector.register(pidfd, selectors.EVENT_READ)
                            cgroup = message.get("cgroup")
                            if timed_out or silent or cancelled:
                                kill_sandbox()  # the deadline passed while it was starting
                    for fd in fds:
                        os.close(fd)
            now = time.monotonic()
            if cancel is not None and not cancelled and cancel.is_set():
                cancelled = True
                kill_sandbox()
            if timed_out or silent or cancelled:
                continue
            if spec.timeout is not None and now - started >= spec.timeout:
                timed_out = True
                kill_sandbox()
            elif spec.max_silent_time is not None and now - last_output >= spec.max_silent_time:
                silent = True
                kill_sandbox()
    except BaseException:
        kill_sandbox()
        raise
    finally:
        trace.mark("runner: sandbox gone")
        if pidfd is not None:
            os.close(pidfd)
        helper.wait()
        if cgroup is not None:
            cgroups.remove(cgroup)
    duration = time.monotonic() - started
    for message in messages:
        if message["event"] == "error" and not (timed_out or silent or cancelled):
            raise SandboxError(message["message"], message.get("hint"))
    exit_message = next((m for m in messages if m["event"] == "exit"), None)
    if exit_message is None:
        return SandboxResult(exit_code=None, signal=signal.SIGKILL, timed_out=timed_out,
                             silent_timeout=silent, duration=duration)
    return SandboxResult(exit_code=exit_message.get("code"), signal=exit_message.get("signal"),
                         timed_out=timed_out, silent_timeout=silent, duration=duration)
