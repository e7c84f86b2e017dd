"""When the suite runs as root, re-run the escape module as an ordinary user (nobody).

The sandbox must hold as root and as an unprivileged user with user namespaces; CI runs as
root, so this is how the unprivileged half runs there. If the venv's interpreter is not
reachable by nobody (e.g. a pyenv build under /root), a throw-away venv of the system Python
3.11 is made that imports this venv's packages through a .pth file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.nobody import AS_NOBODY, NOBODY, python_for_nobody, reachable_tmpdir
from tests.sandbox.conftest import needs_sandbox

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    needs_sandbox,
    pytest.mark.skipif(os.geteuid() != 0, reason="already unprivileged: the escape module ran as is"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is missing"),
]


def _as_nobody(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AS_NOBODY, "env"] + command, capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.fixture
def scratch():
    with reachable_tmpdir("hermetic-nobody-") as path:
        yield path


def _run_module_as_nobody(scratch: Path, module: str) -> None:
    home = scratch / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "TMPDIR": str(home), "LC_ALL": "C.UTF-8"}
    python = python_for_nobody(scratch, ["hermetic.sandbox", "pytest"], env)
    done = _as_nobody([python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                       f"--basetemp={home / 'pytest'}", "--rootdir", str(REPO),
                       str(REPO / "tests" / "sandbox" / module)], dict(env, PYTHONDONTWRITEBYTECODE="1"))
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
    assert done.returncode == 0, tail
    assert " passed" in done.stdout and " failed" not in done.stdout, tail


def test_escape_suite_as_nobody(scratch: Path) -> None:
    _run_module_as_nobody(scratch, "test_escape.py")


@pytest.mark.parametrize("module", ["test_sandbox.py", "test_forkserver.py"])
def test_features_as_nobody(scratch: Path, module: str) -> None:
    """An ordinary caller, with root trees and overlay uppers it owns, and its fork server."""
    _run_module_as_nobody(scratch, module)
