"""The files file overlays edit, behind one small protocol so the overlay code stays pure.

Names are relative ``/``-separated paths. ``MemoryTree`` holds entries in memory (content either
given or loaded lazily, e.g. from the store, with its digest remembered until it changes);
``DirectoryTree`` edits a real directory, confined to it, writing with temp + fsync + rename.
Source archives are unpacked into a ``MemoryTree`` (see ``hermetic.render.archive``).
"""

from __future__ import annotations

import os
import posixpath
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol


class FileTreeError(Exception):
    """A file operation that cannot be done (missing file, exists already, not a regular file)."""


class FileTree(Protocol):
    def read(self, name: str) -> bytes: ...
    def write(self, name: str, data: bytes) -> None: ...
    def remove(self, name: str) -> None: ...
    def rename(self, old: str, new: str) -> None: ...
    def list(self) -> list[str]: ...
    def exists(self, name: str) -> bool: ...


def check_name(name: str) -> str:
    """Normalise a relative name; refuse absolute names and ``..`` escapes."""
    if not name or name.startswith("/"):
        raise FileTreeError(f"{name!r} is not a relative path")
    normal = posixpath.normpath(name)
    if normal == "." or normal == ".." or normal.startswith("../"):
        raise FileTreeError(f"{name!r} points outside the tree")
    return normal


@dataclass
class Entry:
    kind: str                 # "file", "dir" or "symlink"
    mode: int = 0o644
    data: bytes | None = None
    loader: Callable[[], bytes] | None = None
    digest: str | None = None  # blake3 of the content while it is unchanged
    target: str = ""           # symlink target


class MemoryTree:
    """An in-memory ``FileTree``; directories are explicit entries only when given (archives)."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    # -- building --
    def add_file(self, name: str, data: bytes | None = None, *, mode: int = 0o644,
                 loader: Callable[[], bytes] | None = None, digest: str | None = None) -> None:
        self.entries[check_name(name)] = Entry("file", mode, data, loader, digest)

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        self.entries[check_name(name)] = Entry("dir", mode)

    def add_symlink(self, name: str, target: str) -> None:
        self.entries[check_name(name)] = Entry("symlink", 0o777, target=target)

    # -- FileTree --
    def _entry(self, name: str) -> Entry:
        entry = self.entries.get(check_name(name))
        if entry is None:
            raise FileTreeError(f"{name} does not exist")
        return entry

    def read(self, name: str) -> bytes:
        entry = self._entry(name)
        if entry.kind != "file":
            raise FileTreeError(f"{name} is a {entry.kind}, not a regular file")
        if entry.data is None and entry.loader is not None:
            entry.data = entry.loader()
        return entry.data or b""

    def write(self, name: str, data: bytes) -> None:
        normal = check_name(name)
        entry = self.entries.get(normal)
        if entry is not None and entry.kind != "file":
            raise FileTreeError(f"{name} is a {entry.kind}, not a regular file")
        if self._is_dir(posixpath.dirname(normal)) is False:
            raise FileTreeError(f"{posixpath.dirname(normal)} is not a directory")
        mode = entry.mode if entry is not None else 0o644
        self.entries[normal] = Entry("file", mode, bytes(data))

    def _is_dir(self, name: str) -> bool | None:
        """True for a directory, False for a non-directory, None when nothing is there."""
        if not name:
            return True
        entry = self.entries.get(name)
        if entry is not None:
            return entry.kind == "dir"
        prefix = name + "/"
        return True if any(key.startswith(prefix) for key in self.entries) else None

    def remove(self, name: str) -> None:
        normal = check_name(name)
        self._entry(normal)
        del self.entries[normal]

    def rename(self, old: str, new: str) -> None:
        source, target = check_name(old), check_name(new)
        entry = self._entry(source)
        if target in self.entries:
            raise FileTreeError(f"{new} already exists")
        del self.entries[source]
        self.entries[target] = entry

    def list(self) -> list[str]:
        return sorted(name for name, entry in self.entries.items() if entry.kind != "dir")

    def exists(self, name: str) -> bool:
        try:
            normal = check_name(name)
        except FileTreeError:
            return False
        return normal in self.entries or bool(self._is_dir(normal))

    def digest_if_unchanged(self, name: str) -> str | None:
        return self._entry(name).digest


class DirectoryTree:
    """A ``FileTree`` over a real directory. Names never leave it, even through symlinks."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, name: str) -> Path:
        path = self.root / check_name(name)
        parent = path.parent.resolve()
        if parent != self.root and self.root not in parent.parents:
            raise FileTreeError(f"{name} points outside {self.root}")
        return path

    def read(self, name: str) -> bytes:
        path = self._path(name)
        if path.is_symlink() or not path.is_file():
            raise FileTreeError(f"{name} is not a regular file" if path.exists() or path.is_symlink()
                                else f"{name} does not exist")
        return path.read_bytes()

    def write(self, name: str, data: bytes) -> None:
        path = self._path(name)
        mode = stat.S_IMODE(path.lstat().st_mode) if path.exists() else 0o644
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, mode)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def remove(self, name: str) -> None:
        path = self._path(name)
        if not path.is_symlink() and not path.exists():
            raise FileTreeError(f"{name} does not exist")
        path.unlink()

    def rename(self, old: str, new: str) -> None:
        source, target = self._path(old), self._path(new)
        if not source.is_symlink() and not source.exists():
            raise FileTreeError(f"{old} does not exist")
        if target.exists() or target.is_symlink():
            raise FileTreeError(f"{new} already exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)

    def list(self) -> list[str]:
        names = []
        for directory, subdirs, files in os.walk(self.root):
            relative = Path(directory).relative_to(self.root)
            for entry in files + [d for d in subdirs if (Path(directory) / d).is_symlink()]:
                names.append((relative / entry).as_posix())
        return sorted(names)

    def exists(self, name: str) -> bool:
        try:
            path = self._path(name)
        except FileTreeError:
            return False
        return path.exists() or path.is_symlink()
