"""`hermetic build --fail-fast`: the first failure starts nothing new and kills what runs.

Local builds here; the Dask executor on a standing cluster is in test_deployment.py. The slow
component sleeps for ten minutes: only the cancel can end its build within the test's guard.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hermetic.builder import CANCELLED
from tests.build.conftest import seed_store
from tests.distributed.conftest import (FAIL_FAST_BUILDS, env_with, independent_workspace,
                                        sandboxes_under)

pytestmark = pytest.mark.slow


def test_local_fail_fast_kills_the_running_build_and_starts_nothing_new(tmp_path,
                                                                        rpm_buildroot):
    store = seed_store(tmp_path / "store", rpm_buildroot)
    workspace = independent_workspace(tmp_path / "ws", FAIL_FAST_BUILDS)
    done = subprocess.run([sys.executable, "-m", "hermetic", "--store", str(store), "build",
                           str(workspace), "--json", "-j", "2", "--fail-fast"],
                          capture_output=True, text=True, env=env_with(), timeout=300)
    assert done.returncode == 5, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    statuses = {c["name"]: c["status"] for c in summary["components"]}
    assert statuses == {"a-broken": "failed", "b-slow": "failed", "c-waiting": "skipped"}
    assert "deliberate failure" in done.stderr
    assert f"b-slow: {CANCELLED}" in done.stderr
    assert sandboxes_under(store / "tmp") == []


def test_without_fail_fast_independent_components_still_build(tmp_path, rpm_buildroot):
    store = seed_store(tmp_path / "store", rpm_buildroot)
    builds = {**FAIL_FAST_BUILDS, "b-slow": "sleep 2"}
    workspace = independent_workspace(tmp_path / "ws", builds)
    done = subprocess.run([sys.executable, "-m", "hermetic", "--store", str(store), "build",
                           str(workspace), "--json", "-j", "2"],
                          capture_output=True, text=True, env=env_with(), timeout=300)
    assert done.returncode == 5, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert {c["name"]: c["status"] for c in summary["components"]} == \
        {"a-broken": "failed", "b-slow": "built", "c-waiting": "built"}
