"""One deterministic walk over a tree, shared by digesting, copying and packing buildroots."""

from __future__ import annotations

import os
from collections.abc import Iterator


def walk_sorted(root: str | os.PathLike[str]) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relative path, absolute path, lstat) for everything below ``root``, parents first and
    siblings in name order, so every consumer sees the same sequence on every machine.

    Symlinks to directories are listed, not followed.
    """
    root_str = os.fspath(root)
    for directory, dirnames, filenames in os.walk(root_str):
        dirnames.sort()
        rel_dir = os.path.relpath(directory, root_str)
        for name in sorted(dirnames + filenames):
            absolute = os.path.join(directory, name)
            relative = name if rel_dir == "." else f"{rel_dir}/{name}"
            yield relative, absolute, os.lstat(absolute)

