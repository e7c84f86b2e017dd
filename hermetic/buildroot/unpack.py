"""Materialise a root filesystem (tarball or directory) as a tree the invoking user owns.

Rootless sandboxes can only write through an overlay whose lower layer is owned by an id mapped
into the user namespace (an unmapped owner gives EOVERFLOW), so every entry is created by us,
owned by us. Device nodes are skipped (the sandbox binds /dev/null & co.), setuid/setgid bits are
dropped (they would name an owner we squashed away), and nothing may escape the destination:
absolute names, ``..`` and entries reached through a symlink are refused.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO

from hermetic.treewalk import walk_sorted
from hermetic.errors import ConfigError

# Keep rwx for user/group/other and the sticky bit (/tmp); drop setuid and setgid.
_MODE_MASK = 0o1777
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tar.zstd",
                 ".tzst", ".tar.bz2")


def is_tarball(path: Path) -> bool:
    return path.is_file() and path.name.endswith(_TAR_SUFFIXES)


def _safe_relative(name: str, origin: str) -> str | None:
    """Normalise a member name; None for the root itself; refuse anything escaping it."""
    parts = [part for part in PurePosixPath(name.lstrip("/")).parts if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise ConfigError(f"{origin}: entry {name!r} points outside the tree ('..')")
    return "/".join(parts) or None


class _TreeWriter:
    """Creates entries below ``dest``; directory modes and mtimes are applied last."""

    def __init__(self, dest: Path, origin: str) -> None:
        self.dest = dest
        self.origin = origin
        self.known_dirs: set[str] = {""}
        self.dir_attrs: dict[str, tuple[int, int]] = {}
        self.skipped_devices = 0

    def _parent_ready(self, rel: str) -> str:
        """Make sure every ancestor is a real directory we created (never a symlink)."""
        parent = rel.rpartition("/")[0]
        if parent in self.known_dirs:
            return os.path.join(self.dest, rel)
        built = ""
        for part in parent.split("/"):
            built = f"{built}/{part}" if built else part
            if built in self.known_dirs:
                continue
            absolute = os.path.join(self.dest, built)
            try:
                info = os.lstat(absolute)
            except FileNotFoundError:
                os.mkdir(absolute, 0o755)
                self.known_dirs.add(built)
                continue
            if not stat.S_ISDIR(info.st_mode):
                raise ConfigError(
                    f"{self.origin}: entry {rel!r} lies below {built!r}, which is not a directory")
            self.known_dirs.add(built)
        return os.path.join(self.dest, rel)

    def _clear(self, absolute: str) -> None:
        """Later members replace earlier ones, as tar does."""
        try:
            info = os.lstat(absolute)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{self.origin}: {absolute!r} is both a directory and a file")
        os.unlink(absolute)

    def directory(self, rel: str | None, mode: int, mtime: int) -> None:
        if rel is None:
            self.dir_attrs[""] = (mode & _MODE_MASK, mtime)
            return
        absolute = self._parent_ready(rel)
        try:
            info = os.lstat(absolute)
            if not stat.S_ISDIR(info.st_mode):
                os.unlink(absolute)
                os.mkdir(absolute, 0o755)
        except FileNotFoundError:
            os.mkdir(absolute, 0o755)
        self.known_dirs.add(rel)
        self.dir_attrs[rel] = (mode & _MODE_MASK, mtime)

    def regular(self, rel: str, mode: int, mtime: int, source: IO[bytes] | str) -> None:
        absolute = self._parent_ready(rel)
        self._clear(absolute)
        if isinstance(source, str):
            with open(source, "rb") as src, open(absolute, "xb") as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
        else:
            with open(absolute, "xb") as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
        os.chmod(absolute, mode & _MODE_MASK)
        os.utime(absolute, (mtime, mtime))

    def hardlink(self, rel: str, target_rel: str) -> None:
        absolute = self._parent_ready(rel)
        target = os.path.join(self.dest, target_rel)
        if not os.path.isfile(target) or os.path.islink(target):
            raise ConfigError(f"{self.origin}: hard link {rel!r} names {target_rel!r}, "
                              f"which is not a regular file earlier in the archive")
        self._clear(absolute)
        os.link(target, absolute)

    def symlink(self, rel: str, target: str, mtime: int) -> None:
        absolute = self._parent_ready(rel)
        self._clear(absolute)
        os.symlink(target, absolute)
        os.utime(absolute, (mtime, mtime), follow_symlinks=False)

    def fifo(self, rel: str, mode: int, mtime: int) -> None:
        absolute = self._parent_ready(rel)
        self._clear(absolute)
        os.mkfifo(absolute, mode & _MODE_MASK)
        os.utime(absolute, (mtime, mtime))

    def finish(self) -> None:
        # Deepest first, so a read-only parent never blocks setting its children.
        for rel in sorted(self.dir_attrs, key=lambda r: r.count("/") + (r != ""), reverse=True):
            mode, mtime = self.dir_attrs[rel]
            absolute = os.path.join(self.dest, rel) if rel else os.fspath(self.dest)
            os.chmod(absolute, mode)
            os.utime(absolute, (mtime, mtime))


def _open_tar_stream(path: Path) -> tuple[tarfile.TarFile, subprocess.Popen | None]:
    if path.name.endswith((".zst", ".zstd", ".tzst")):
        if shutil.which("zstd") is None:
            raise ConfigError(f"{path}: a .zst tarball needs the 'zstd' program",
                              hint="install zstd (apt-get install zstd)")
        proc = subprocess.Popen(["zstd", "-dcq", "--", os.fspath(path)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        return tarfile.open(fileobj=proc.stdout, mode="r|"), proc
    return tarfile.open(path, mode="r|*"), None


def unpack_tarball(path: Path, dest: Path) -> int:
    """Unpack ``path`` into the empty directory ``dest``. Returns the number of skipped devices."""
    origin = os.fspath(path)
    writer = _TreeWriter(dest, origin)
    try:
        archive, proc = _open_tar_stream(path)
    except (tarfile.TarError, OSError) as exc:
        raise ConfigError(f"{origin}: not a readable tarball ({exc})") from exc
    try:
        with archive:
            for member in archive:
                rel = _safe_relative(member.name, origin)
                mtime = int(member.mtime)
                if member.isdir():
                    writer.directory(rel, member.mode, mtime)
                elif rel is None:
                    continue
                elif member.isreg():
                    source = archive.extractfile(member)
                    assert source is not None
                    writer.regular(rel, member.mode, mtime, source)
                elif member.issym():
                    writer.symlink(rel, member.linkname, mtime)
                elif member.islnk():
                    target = _safe_relative(member.linkname, origin)
                    if target is None:
                        raise ConfigError(f"{origin}: hard link {rel!r} to the tree root")
                    writer.hardlink(rel, target)
                elif member.isfifo():
                    writer.fifo(rel, member.mode, mtime)
                elif member.ischr() or member.isblk():
                    writer.skipped_devices += 1
                # Anything else (GNU sparse headers are already resolved by tarfile) is ignored.
    except tarfile.TarError as exc:
        raise ConfigError(f"{origin}: damaged tarball ({exc})") from exc
    finally:
        if proc is not None:
            proc.stdout.close()  # type: ignore[union-attr]
            if proc.wait() != 0:
                raise ConfigError(f"{origin}: zstd could not decompress it (exit {proc.returncode})")
    writer.finish()
    return writer.skipped_devices


def copy_directory(source: Path, dest: Path) -> int:
    """Copy the tree at ``source`` into the empty directory ``dest`` with the same rules."""
    origin = os.fspath(source)
    writer = _TreeWriter(dest, origin)
    root_info = os.lstat(source)
    writer.directory(None, root_info.st_mode, int(root_info.st_mtime))
    seen_inodes: dict[tuple[int, int], str] = {}
    for rel, absolute, info in walk_sorted(source):
        mode, mtime = info.st_mode, int(info.st_mtime)
        try:
            if stat.S_ISDIR(mode):
                writer.directory(rel, mode, mtime)
            elif stat.S_ISLNK(mode):
                writer.symlink(rel, os.readlink(absolute), mtime)
            elif stat.S_ISREG(mode):
                inode = (info.st_dev, info.st_ino)
                if info.st_nlink > 1 and inode in seen_inodes:
                    writer.hardlink(rel, seen_inodes[inode])
                else:
                    writer.regular(rel, mode, mtime, absolute)
                    seen_inodes[inode] = rel
            elif stat.S_ISFIFO(mode):
                writer.fifo(rel, mode, mtime)
            else:
                writer.skipped_devices += 1  # devices and sockets
        except PermissionError as exc:
            raise ConfigError(f"{absolute}: cannot read it to import ({exc.strerror})",
                              hint="import a tarball, or run as a user who can read "
                                   "the whole tree") from exc
    writer.finish()
    return writer.skipped_devices

