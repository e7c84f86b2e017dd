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
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from tests.sandbox.conftest import needs_sandbox

NOBODY = 65534
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    needs_sandbox,
    pytest.mark.skipif(os.geteuid() != 0, reason="already unprivileged: the escape module ran as is"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is missing"),
]


def _as_nobody(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                           "--", "env"] + command, capture_output=True, text=True, env=env, timeout=600)


def _python_for_nobody(scratch: Path, env: dict[str, str]) -> str:
    if _as_nobody([sys.executable, "-c", "import hermetic.sandbox, pytest"], env).returncode == 0:
        return sys.executable
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not os.path.exists(system):
        pytest.skip(f"{sys.executable} is unreadable by nobody and {system} is missing")
    venv = scratch / "venv"
    subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    # An "import" line in a .pth runs at start-up, even under -I: add our venv as a site dir
    # (so its own .pth files, such as the editable install's, are processed too).
    ours = sysconfig.get_paths()["purelib"]
    (site / "hermetic-parent.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return str(venv / "bin" / "python")


@pytest.fixture
def scratch():
    # Not under pytest's tmp_path: its parents are private to root.
    path = Path(tempfile.mkdtemp(prefix="hermetic-nobody-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run_module_as_nobody(scratch: Path, module: str) -> None:
    home = scratch / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "TMPDIR": str(home), "LC_ALL": "C.UTF-8"}
    python = _python_for_nobody(scratch, env)
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
