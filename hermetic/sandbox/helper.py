"""The helper: enter namespaces, start pid 1, relay its fate. One helper per sandbox run.

Started as ``python -I -m hermetic.sandbox STATUS_FD`` with the spec as msgpack on stdin and the
payload's output pipe as stdout/stderr; or forked, already warm, by the fork server.
"""

from __future__ import annotations

import os
import signal

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
        trace.mark("helper: cgroup")
        namespaces.enter(spec.uid, spec.gid)
        trace.mark("helper: namespaces")
    except SandboxError as exc:
        status.send(event="error", message=exc.message, hint=exc.hint)
        return 125
    child = os.fork()
    if child == 0:
        pid1.main(spec, status)  # never returns
    trace.mark("helper: pid1 forked")
    status.send(event="started", helper=os.getpid(), pid1=child, cgroup=cgroup)

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass
    for signum in pid1.FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    _, wait_status = os.waitpid(child, 0)
    trace.mark("helper: pid1 reaped")
    return os.waitstatus_to_exitcode(wait_status) if not os.WIFSIGNALED(wait_status) \
        else 128 + os.WTERMSIG(wait_status)
