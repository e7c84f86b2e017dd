"""The sandbox: rootless namespaces, seccomp, no network.

Importing this package is cheap (dataclasses only): ``run`` imports the runner when first
called, and the fork server imports what helpers need (pyseccomp) itself.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from hermetic.sandbox.profile import PROFILE_VERSION
from hermetic.sandbox.spec import Bind, SandboxResult, SandboxSpec
from hermetic.sandbox.support import check_support

if TYPE_CHECKING:
    from typing import ContextManager

    from hermetic.sandbox.runner import OutputCallback


def run(spec: SandboxSpec, on_output: "OutputCallback | None" = None,
        cancel: threading.Event | None = None) -> SandboxResult:
    """Run ``spec.argv`` in a fresh sandbox; see ``hermetic.sandbox.runner.run``. Setting
    ``cancel`` kills the sandbox (all its processes)."""
    from hermetic.sandbox.runner import run as run_in_sandbox
    return run_in_sandbox(spec, on_output, cancel)


def cancelling(cancel: threading.Event | None) -> "ContextManager[None]":
    """Within the block, in this thread, ``run`` calls without their own ``cancel`` use this
    one (for callers whose sandboxes are started by code in between, e.g. the rpm driver)."""
    from hermetic.sandbox.runner import cancelling as scope
    return scope(cancel)


def warm_up() -> None:
    """Start the fork server in the background, ahead of the first ``run``."""
    from hermetic.sandbox.forkserver import warm_up as start_server
    start_server()


__all__ = ["Bind", "PROFILE_VERSION", "SandboxResult", "SandboxSpec", "cancelling",
           "check_support", "run", "warm_up"]
