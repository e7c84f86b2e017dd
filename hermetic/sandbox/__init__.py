"""The sandbox: rootless namespaces, seccomp, no network.

Importing this package is cheap (dataclasses only): ``run`` imports the runner when first
called, and the fork server imports what helpers need (pyseccomp) itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermetic.sandbox.profile import PROFILE_VERSION
from hermetic.sandbox.spec import Bind, SandboxResult, SandboxSpec
from hermetic.sandbox.support import check_support

if TYPE_CHECKING:
    from hermetic.sandbox.runner import OutputCallback


def run(spec: SandboxSpec, on_output: "OutputCallback | None" = None) -> SandboxResult:
    """Run ``spec.argv`` in a fresh sandbox; see ``hermetic.sandbox.runner.run``."""
    from hermetic.sandbox.runner import run as run_in_sandbox
    return run_in_sandbox(spec, on_output)


def warm_up() -> None:
    """Start the fork server in the background, ahead of the first ``run``."""
    from hermetic.sandbox.forkserver import warm_up as start_server
    start_server()


__all__ = ["Bind", "PROFILE_VERSION", "SandboxResult", "SandboxSpec", "check_support", "run",
           "warm_up"]
