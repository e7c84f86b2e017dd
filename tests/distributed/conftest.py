"""Real clusters on 127.0.0.1: `hermetic serve` as the team cache, a LocalCluster or a
`hermetic scheduler` with `hermetic worker` processes. Nothing is mocked."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.build.conftest import Hermetic, copy_workspace, seed_store  # noqa: F401
from tests.distributed.procs import sandboxes_under  # noqa: F401 - re-exported for tests
from tests.remote.conftest import REPO, start_server, stop
from tests.workspaces import noarch_spec, write_workspace

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


class Cache:
    def __init__(self, root: Path, url: str, token: str, token_file: Path) -> None:
        self.root, self.url, self.token, self.token_file = root, url, token, token_file

    def entry_files(self) -> list[Path]:
        actions = self.root / "actions"
        return sorted(p for p in actions.rglob("*") if p.is_file()) if actions.is_dir() else []


@pytest.fixture
def cache(tmp_path: Path):
    root = tmp_path / "cache"
    root.mkdir()
    token = secrets.token_hex(16)
    url, process = start_server(root, token)
    token_file = tmp_path / "cache.token"
    token_file.write_text(token + "\n")
    yield Cache(root, url, token, token_file)
    stop(process)


def env_with(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def slow_spec(workspace: Path, component: str, seconds: int) -> None:
    """Make ``component``'s build sleep first (a different key, the same RPMs otherwise)."""
    spec = workspace / "components" / component / f"{component}.spec"
    text = spec.read_text()
    spec.write_text(text.replace("%build\n", f"%build\nsleep {seconds}\n", 1))


def failing_spec(workspace: Path, component: str) -> None:
    spec = workspace / "components" / component / f"{component}.spec"
    text = spec.read_text()
    spec.write_text(text.replace("%build\n", "%build\necho 'deliberate failure here' >&2\n"
                                             "exit 7\n", 1))


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.2)


class Background:
    """A CLI process whose stdout lines are read as they come."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | None = None,
                 new_session: bool = False, prefix: list[str] | None = None,
                 python: str = sys.executable) -> None:
        self.process = subprocess.Popen(
            [*(prefix or []), python, "-m", "hermetic", *args], env=env, cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=new_session)
        self.lines: list[str] = []

    def read_until(self, predicate, what: str) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"{what} never came; stderr:\n{self.process.stderr.read()}")

    def json_events(self) -> list[dict]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def finish(self, timeout: float = 120) -> tuple[str, str]:
        out, err = self.process.communicate(timeout=timeout)
        self.lines += out.splitlines(keepends=True)
        return "".join(self.lines), err

    def kill_group(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def independent_workspace(ws: Path, builds: dict[str, str]) -> Path:
    """A workspace of independent noarch components, ``name -> shell lines of its %build``."""
    return write_workspace(ws, {name: noarch_spec(name, build=script)
                                for name, script in builds.items()})


# Sorted by name, the first two start together with two slots; the third waits for a slot.
FAIL_FAST_BUILDS = {"a-broken": "sleep 1; echo 'deliberate failure' >&2; exit 7",
                    "b-slow": "sleep 600", "c-waiting": "true"}
