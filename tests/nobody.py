"""Running parts of the suite as an ordinary user (nobody) when the suite itself runs as root."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]


@contextlib.contextmanager
def reachable_tmpdir(prefix: str) -> Iterator[Path]:
    """A scratch directory nobody can reach (pytest's tmp_path has root-only parents)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def python_for_nobody(scratch: Path, modules: Iterable[str], env: dict[str, str]) -> str:
    """An interpreter nobody can run that imports ``modules`` from this venv.

    The venv's own interpreter may sit where nobody cannot read it (a Python built under
    /root): then a throw-away venv of the system Python, whose site-packages get this venv's as
    a site directory through a .pth file (honoured even under -I, which the sandbox's helpers
    use). A nested ``python -I`` start is probed too: fork servers start one.
    """
    code = (f"import {', '.join(modules)}, subprocess, sys; "
            "subprocess.run([sys.executable, '-I', '-c', 'import hermetic'], check=True)")
    if subprocess.run([*AS_NOBODY, sys.executable, "-c", code], capture_output=True, env=env,
                      cwd="/").returncode == 0:
        return sys.executable
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not os.path.exists(system):
        pytest.skip(f"{sys.executable} is unreadable by nobody and {system} is missing")
    venv = scratch / "nobody-venv"
    subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    ours = sysconfig.get_paths()["purelib"]
    (site / "hermetic-parent.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    python = str(venv / "bin" / "python")
    done = subprocess.run([*AS_NOBODY, python, "-c", code], capture_output=True, text=True,
                          env=env, cwd="/")
    assert done.returncode == 0, f"nobody cannot import {', '.join(modules)}: {done.stderr[-2000:]}"
    return python
