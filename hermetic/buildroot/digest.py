"""The content digest of a buildroot tree.

The digest covers what a build can observe and nothing it cannot be given reproducibly:
relative paths, file types, permission bits, symlink targets and file contents. Owners and
mtimes are left out on purpose: a tree unpacked by root and one unpacked by an ordinary user
(ownership squashed) must digest the same, and so must two imports made on different days.
"""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import blake3

from hermetic.treewalk import walk_sorted
from hermetic.canonical import canonical

# Bumped whenever the set of recorded attributes changes, so old digests never collide with new.
TREE_DIGEST_VERSION = 1

# Files at least this large are hashed through mmap, which lets blake3 drop the GIL.
_MMAP_THRESHOLD = 64 * 1024


def _hash_file(path: str, size: int) -> str:
    hasher = blake3.blake3()
    if size >= _MMAP_THRESHOLD:
        hasher.update_mmap(path)
    else:
        with open(path, "rb", buffering=0) as handle:
            hasher.update(handle.read())
    return hasher.hexdigest()


def _type_letter(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "f"
    if stat.S_ISDIR(mode):
        return "d"
    if stat.S_ISLNK(mode):
        return "l"
    if stat.S_ISFIFO(mode):
        return "p"
    if stat.S_ISSOCK(mode):
        return "s"
    if stat.S_ISCHR(mode):
        return "c"
    return "b"


def tree_entries(root: Path, max_workers: int | None = None) -> list[list]:
    """``[relpath, type, mode, content]`` for every entry below ``root``, sorted by path.

    ``content`` is the blake3 of a regular file, the target (bytes) of a symlink, else "".
    Device nodes are recorded by type only (imports skip them, so they should not occur).
    """
    root_str = os.fspath(root)
    pending: list[tuple[int, str, int]] = []  # (index, absolute path, size) of regular files
    entries: list[list] = []
    for relative, absolute, info in walk_sorted(root_str):
        kind = _type_letter(info.st_mode)
        content = ""
        if kind == "l":
            content = os.fsencode(os.readlink(absolute))
        elif kind == "f":
            pending.append((len(entries), absolute, info.st_size))
        entries.append([relative, kind, stat.S_IMODE(info.st_mode), content])
    workers = max_workers or min(32, (os.cpu_count() or 2) * 4)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        digests = pool.map(lambda item: _hash_file(item[1], item[2]), pending, chunksize=64)
        for (index, _, _), file_digest in zip(pending, digests):
            entries[index][3] = file_digest
    entries.sort(key=lambda entry: entry[0].encode("utf-8", "surrogateescape"))
    return entries


def digest_tree(root: Path, max_workers: int | None = None) -> str:
    """blake3 over the canonical encoding of :func:`tree_entries` (see the module docstring)."""
    entries = tree_entries(root, max_workers)
    encoded = canonical({"version": TREE_DIGEST_VERSION, "entries": [
        [path.encode("utf-8", "surrogateescape"), kind, mode, content]
        for path, kind, mode, content in entries
    ]})
    return blake3.blake3(encoded).hexdigest()
