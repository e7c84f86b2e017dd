"""Helpers shared by the commands that act on a workspace PATH."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hermetic.context import Context, find_project_file


def add_path_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=".", metavar="PATH",
                        help="project directory (its hermetic.toml) or a component file "
                             "(default: the current directory)")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="only these components (and their dependencies)")


def workspace_root(path: Path) -> Path | None:
    """The project directory PATH belongs to, or None for a lone component file."""
    start = path if path.is_dir() else path.parent
    project = find_project_file(start)
    return project.parent if project is not None else None


def open_store(ctx: Context, path: Path) -> Any:
    from hermetic.store import Store

    return Store(ctx.store_path(workspace_root(path.resolve())))


def resolve_path(ctx: Context, text: str) -> Path:
    return (ctx.cwd / text).resolve() if not Path(text).is_absolute() else Path(text)


def cache_settings(ctx: Context, path: Path, **flags: Any) -> Any:
    """[cache] of the project file PATH belongs to, with the command-line flags on top."""
    from hermetic.remote.config import apply_flags, load_cache_config

    root = workspace_root(path)
    project_file = find_project_file(root) if root else None
    return apply_flags(load_cache_config(project_file), cwd=ctx.cwd, **flags)
