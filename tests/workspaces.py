"""Generated workspaces for tests and benchmarks: many small components on the test buildroot."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

# Every generated workspace builds on the cached test buildroot (tests/conftest.py), with the
# spec's Release taken as written.
PROJECT_FILE = ('includes = ["components/*/*.comp.toml"]\n[buildroot]\ntype = "created"\n'
                'name = "test-rpm"\n[default-component-config.release]\ncalculation = "manual"\n')
CHANGELOG = "%changelog\n* Mon Jan 01 2024 Generated <gen@example.invalid> - 1.0-1\n- generated\n"


def write_workspace(ws: Path, specs: Mapping[str, str]) -> Path:
    """A project with one local-spec component per ``name -> spec text``."""
    (ws / "components").mkdir(parents=True)
    (ws / "hermetic.toml").write_text(PROJECT_FILE)
    for name, spec in specs.items():
        folder = ws / "components" / name
        folder.mkdir()
        (folder / f"{name}.comp.toml").write_text(
            f'[components.{name}]\nspec = {{ type = "local", path = "{name}.spec" }}\n')
        (folder / f"{name}.spec").write_text(spec)
    return ws


def noarch_spec(name: str, *, build: str = "", description: str = "generated",
                preamble: str = "") -> str:
    """A noarch package installing one data file; ``build`` is its %build script."""
    return (f"Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: generated\nLicense: MIT\n"
            f"BuildArch: noarch\n{preamble}\n%description\n{description}\n\n%build\n{build}\n\n"
            f"%install\nmkdir -p %{{buildroot}}/usr/share/{name}\n"
            f"echo {name} > %{{buildroot}}/usr/share/{name}/data\n\n"
            f"%files\n/usr/share/{name}\n\n{CHANGELOG}")


def age(root: Path, seconds: float = 60) -> None:
    """Make every file old enough that stat-based caches trust it (not "racy")."""
    past = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past), follow_symlinks=False)
