"""Where a command runs: the workspace it acts on and the store it uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_FILE_NAMES = ("hermetic.toml", "azldev.toml")


def find_project_file(start: Path) -> Path | None:
    """Walk up from ``start`` to the first directory holding a project file."""
    start = start.resolve()
    for directory in (start, *start.parents):
        for name in PROJECT_FILE_NAMES:
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def user_cache_store() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hermetic" / "store"


def resolve_store(explicit: str | None, workspace_root: Path | None) -> Path:
    """``--store`` beats ``HERMETIC_STORE`` beats the workspace's ``store/`` beats the user cache."""
    if explicit:
        return Path(explicit).resolve()
    from_env = os.environ.get("HERMETIC_STORE")
    if from_env:
        return Path(from_env).resolve()
    if workspace_root is not None:
        return workspace_root / "store"
    return user_cache_store()


@dataclass(frozen=True)
class Context:
    """Global options, resolved once by the CLI and handed to every command."""

    cwd: Path
    store_option: str | None
    json: bool

    def store_path(self, workspace_root: Path | None) -> Path:
        return resolve_store(self.store_option, workspace_root)
