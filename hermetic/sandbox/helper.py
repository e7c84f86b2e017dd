"""The helper: enter the cgroups and namespaces, fork pid 1, wait for it. One per sandbox.

Two ways to run one:

* ``run_helper``: the one-shot helper (``python -I -m hermetic.sandbox``), spec in hand.
* ``run_spare``: forked by the fork server *before* any request, so the slow steps (moving into
  a cgroup waits for an RCU grace period, unshare, forking pid 1, raising ``lo``) are done when
  the request arrives. Its pid 1 then receives the request itself on ``requests``.

Either way pid 1 reports ``started`` with a pidfd of itself, so the runner never needs the
helper's pid; the helper just stays pid 1's parent, forwards signals and exits with its status.
"""

from __future__ import annotations

import os
import signal
import socket

import msgpack

from hermetic.errors import SandboxError
from hermetic.sandbox import cgroups, namespaces, pid1, trace
from hermetic.sandbox.spec import SandboxSpec
from hermetic.sandbox.status import StatusWriter


def run_helper(spec: SandboxSpec, status: StatusWriter) -> int:
    """Returns the exit status for the helper process."""
    trace.mark("helper: start")
    try:
        spec.validate()
        cgroup = cgroups.enter_limited_cgroup(spec)
        namespaces.enter(spec.uid, spec.gid)
    except SandboxError as exc:
        status.send(event="error", message=exc.message, hint=exc.hint)
        return 125
    child = os.fork()
    if child == 0:
        pid1.main(spec, status, cgroup)  # never returns
    return _wait(child)


def run_spare(requests: socket.socket, cgroup_paths: list[str], ids: tuple[int, int]) -> int:
    """A spare sandbox, ready before its request. Returns the helper's exit status.

    ``cgroup_paths``: cgroups the fork server made for it (and removes after reaping it);
    ``ids``: the (uid, gid) shown inside, which the server only pairs with matching specs.
    """
    try:
        cgroups.join(cgroup_paths)
        outside = namespaces.unshare_all()
    except SandboxError as exc:
        # Nothing to run in: report it to whoever sends the request.
        return _refuse(requests, exc)
    child = os.fork()
    if child == 0:
        _spare_pid1(requests, outside, ids)  # never returns
    requests.close()
    return _wait(child)


def _spare_pid1(requests: socket.socket, outside: tuple[int, int], ids: tuple[int, int]) -> None:
    failure: SandboxError | None = None
    try:
        namespaces.map_ids(ids[0], ids[1], outside)
        pid1.prepare()
    except SandboxError as exc:
        failure = exc
    except BaseException as exc:  # noqa: BLE001 - told to the request's sender below
        failure = SandboxError(f"sandbox: setup failed: {exc}")
    try:
        request = _receive(requests)
    except BaseException:  # noqa: BLE001 - the server is gone: no one to tell
        os._exit(125)
    if request is None:
        os._exit(0)  # the fork server closed: this spare is not needed
    spec, status = request
    trace.mark("pid1: request")
    try:
        if failure is not None:
            raise failure
        spec.validate()
        if (spec.uid, spec.gid) != ids:
            raise SandboxError(f"sandbox: a spare for ids {ids} got a spec for "
                               f"{(spec.uid, spec.gid)}")
    except SandboxError as exc:
        status.send(event="error", message=exc.message, hint=exc.hint)
        os._exit(125)
    pid1.run(spec, status, None)  # the fork server removes this spare's cgroups


def _receive(requests: socket.socket) -> tuple[SandboxSpec, StatusWriter] | None:
    """The request: the spec, the payload's output pipe (made stdout and stderr) and the status
    socket. None when the fork server closed the socket without one."""
    data, fds, _flags, _addr = socket.recv_fds(requests, 1 << 20, 2, socket.MSG_CMSG_CLOEXEC)
    requests.close()
    if not data or len(fds) != 2:
        for fd in fds:
            os.close(fd)
        return None
    out_w, status_w = fds
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.close(out_w)
    return SandboxSpec.from_wire(msgpack.unpackb(data, raw=False)), StatusWriter(status_w)


def _refuse(requests: socket.socket, exc: SandboxError) -> int:
    request = _receive(requests)
    if request is not None:
        request[1].send(event="error", message=exc.message, hint=exc.hint)
    return 125


def _wait(child: int) -> int:
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass
    for signum in pid1.FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    _, wait_status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(wait_status) if not os.WIFSIGNALED(wait_status) \
        else 128 + os.WTERMSIG(wait_status)
