"""End-to-end fixtures: the example workspace copied to a temporary directory, and a store that
already holds the test buildroot (hardlinked from the session cache, so no test creates one)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
BUILDROOT_TABLE = """
[buildroot]
type = "created"
name = "test-rpm"
debian-suite = "bookworm"
"""


def _replace_buildroot_table(project: Path) -> None:
    text = project.read_text()
    start = text.index("[buildroot]")
    end = text.index("\n[", start + 1)
    project.write_text(text[:start] + BUILDROOT_TABLE.strip() + "\n" + text[end:])


def copy_workspace(dest: Path) -> Path:
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("store", "out", "upstream"))
    _replace_buildroot_table(dest / "hermetic.toml")
    return dest


def seed_store(store: Path, buildroot) -> Path:
    """A store holding ``buildroot`` under the name test-rpm, its tree hardlinked (read-only)."""
    source = buildroot.path.parent  # <cache store>/buildroots
    target = store / "buildroots"
    (target / "names").mkdir(parents=True, exist_ok=True)
    (target / "meta").mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(buildroot.path), str(target / buildroot.digest)], check=True)
    shutil.copyfile(source / "meta" / f"{buildroot.digest}.json",
                    target / "meta" / f"{buildroot.digest}.json")
    (target / "names" / "test-rpm").write_text(buildroot.digest + "\n")
    return store


class Hermetic:
    """Runs the real CLI in a subprocess, the way users and scripts do."""

    def __init__(self, store: Path, env: dict[str, str] | None = None) -> None:
        self.store = store
        self.env = env

    def run(self, *args: str, cwd: Path | None = None, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ if self.env is None else self.env)
        full_env.update(env or {})
        result = subprocess.run([sys.executable, "-m", "hermetic", "--store", str(self.store),
                                 *args], cwd=cwd, env=full_env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"hermetic {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def build_json(self, workspace: Path, *args: str, check: bool = True,
                   env: dict[str, str] | None = None) -> dict:
        result = self.run("build", str(workspace), "--json", *args, check=check, env=env)
        lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        summary = lines[-1]
        assert summary["event"] == "summary", result.stdout
        summary["returncode"] = result.returncode
        summary["stderr"] = result.stderr
        summary["statuses"] = {c["name"]: c["status"] for c in summary["components"]}
        return summary


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_workspace(tmp_path / "ws")


@pytest.fixture
def store(tmp_path: Path, rpm_buildroot) -> Path:
    return seed_store(tmp_path / "store", rpm_buildroot)


@pytest.fixture
def hermetic(store: Path) -> Hermetic:
    return Hermetic(store)
