"""Audit fixtures: workspaces on the session's test buildroot (never a new one).

``leaky_workspace`` holds one reproducible noarch component and five that each leak one thing
the sandbox does not (or cannot) normalise: the date, the CPU count, a random number, a
directory listing in readdir order, the host-side build path.
"""

from __future__ import annotations

import os
import shutil
import sys
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
BUILDROOT_NAME = "test-rpm"
PROJECT = f"""
includes = ["components/*/*.comp.toml"]

[project]
description = "audit test workspace"

[buildroot]
type = "created"
name = "{BUILDROOT_NAME}"
debian-suite = "bookworm"

[default-component-config.release]
calculation = "manual"
"""

# name → (shell lines of %build writing files under leak/, extra sources)
LEAKS: dict[str, tuple[str, dict[str, str]]] = {
    "stable": ("echo 'the same every time' > leak/stable.txt", {}),
    "leak-date": ("date +%Y-%m-%d > leak/date.txt", {}),
    "leak-nproc": ("nproc > leak/nproc.txt", {}),
    "leak-random": ("echo $RANDOM$RANDOM$RANDOM > leak/random.txt", {}),
    # Sources in readdir order: creation order and filesystem decide it.
    "leak-order": ("ls -U %{_sourcedir} | grep '^part-' > leak/listing.txt",
                   {f"part-{c}.txt": f"{c}\n" for c in "abcdefgh"}),
    # The bind mount's source path shows through mountinfo's root field.
    "leak-path": ("awk '$5 == \"/builddir\" {print $4}' /proc/self/mountinfo > leak/path.txt",
                  {}),
}


def leak_spec(name: str, build: str, sources: dict[str, str]) -> str:
    source_lines = "".join(f"Source{i}: {s}\n" for i, s in enumerate(sorted(sources)))
    return f"""Name: {name}
Version: 1.0
Release: 1
Summary: audit test component {name}
License: MIT
BuildArch: noarch
{source_lines}
%description
Writes what it leaks under /usr/share/{name}.

%prep

%build
mkdir -p leak
{build}

%install
mkdir -p %{{buildroot}}/usr/share/{name}
cp leak/* %{{buildroot}}/usr/share/{name}/

%files
/usr/share/{name}

%changelog
* Wed Nov 15 2023 Audit Test <audit@example.invalid> - 1.0-1
- First.
"""


def write_leaky_workspace(root: Path, names: list[str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "hermetic.toml").write_text(PROJECT)
    for name in names or list(LEAKS):
        build, sources = LEAKS[name]
        folder = root / "components" / name
        folder.mkdir(parents=True)
        (folder / f"{name}.spec").write_text(leak_spec(name, build, sources))
        (folder / f"{name}.comp.toml").write_text(
            f'[components.{name}]\nspec = {{ type = "local", path = "{name}.spec" }}\n')
        for source, text in sources.items():
            (folder / source).write_text(text)
    return root


def copy_examples(dest: Path) -> Path:
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("store", "out", "upstream"))
    project = dest / "hermetic.toml"
    text = project.read_text()
    start = text.index("[buildroot]")
    end = text.index("\n[", start + 1)
    table = f'[buildroot]\ntype = "created"\nname = "{BUILDROOT_NAME}"\ndebian-suite = "bookworm"\n'
    project.write_text(text[:start] + table + text[end:])
    return dest


def seed_store(store: Path, buildroot) -> Path:
    """A store whose buildroot name points at the session's test buildroot, its tree hardlinked
    (a symlink would not do: the sandbox mounts the tree by a path seen from another root)."""
    target = store / "buildroots"
    (target / "names").mkdir(parents=True, exist_ok=True)
    (target / "meta").mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(buildroot.path), str(target / buildroot.digest)], check=True)
    shutil.copyfile(buildroot.path.parent / "meta" / f"{buildroot.digest}.json",
                    target / "meta" / f"{buildroot.digest}.json")
    (target / "names" / BUILDROOT_NAME).write_text(buildroot.digest + "\n")
    return store


def hermetic(store: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermetic", "--store", str(store), *args],
                          cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def leaky(tmp_path_factory, rpm_buildroot) -> tuple[Path, Path]:
    """(workspace, store) of the leaky workspace, shared by a module's tests."""
    base = tmp_path_factory.mktemp("leaky")
    return write_leaky_workspace(base / "ws"), seed_store(base / "store", rpm_buildroot)
