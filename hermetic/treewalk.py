"""Whole trees: one deterministic walk (digesting, copying and packing buildroots) and a removal
that copes with read-only and unreadable directories. Standard library only, so it also runs
under a bare system Python (the unprivileged tests use it so)."""

from __future__ import annotations

import os
import shutil
import stat
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


def force_rmtree(path: str | os.PathLike[str]) -> None:
    """Remove a tree even where directories were made read-only or unreadable."""
    def make_writable_and_retry(function, failed_path, _exc_info):
        parent = os.path.dirname(failed_path)
        try:
            os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | 0o700)
            if os.path.isdir(failed_path) and not os.path.islink(failed_path):
                os.chmod(failed_path, stat.S_IMODE(os.lstat(failed_path).st_mode) | 0o700)
        except OSError:
            pass
        if function in (os.unlink, os.remove, os.rmdir):
            function(failed_path)
        else:
            # Listing or opening a directory failed (it was unreadable): rmtree does not come
            # back to it after this handler, so remove it ourselves now that it is readable.
            shutil.rmtree(failed_path, onerror=make_writable_and_retry)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=make_writable_and_retry)
