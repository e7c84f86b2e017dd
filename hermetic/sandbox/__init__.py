"""The sandbox: rootless namespaces, seccomp, no network.

Importing this package is cheap (dataclasses only); the helper process imports the heavy
modules (pyroute2, pyseccomp, prctl) itself.
"""

from __future__ import annotations

from hermetic.sandbox.profile import PROFILE_VERSION
from hermetic.sandbox.runner import run
from hermetic.sandbox.spec import Bind, SandboxResult, SandboxSpec
from hermetic.sandbox.support import check_support

__all__ = ["Bind", "PROFILE_VERSION", "SandboxResult", "SandboxSpec", "check_support", "run"]
