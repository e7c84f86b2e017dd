"""Small filesystem primitives the store is built from: durable, atomic, never half-visible."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
from pathlib import Path

from hermetic.errors import StoreError

_HEX64 = re.compile(r"[0-9a-f]{64}")


def check_digest(digest: str, what: str = "digest") -> str:
    """A blake3 hex digest (64 lowercase hex characters), or a StoreError naming it."""
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise StoreError(f"malformed {what} {digest!r}: expected 64 lowercase hex characters")
    return digest


def fanout(base: Path, name: str) -> Path:
    """``base/ab/<name>``: two-character fan-out keeps directories small."""
    return base / name[:2] / name


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_temp(tmp_dir: Path, prefix: str) -> tuple[int, Path]:
    """Create a fresh temp file in ``tmp_dir`` and hold an flock on it while we write.

    The lock tells ``gc`` the file is in progress; a writer killed with -9 drops the lock, so
    its leftover is recognisably junk.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    while True:
        path = tmp_dir / f"{prefix}.{os.getpid()}.{secrets.token_hex(6)}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd, path


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def publish(tmp_path: Path, fd: int, final: Path, mode: int, *, replace: bool = True) -> bool:
    """fsync, chmod and move a finished temp file into place, then fsync its directory.

    With ``replace=False`` (content-addressed objects) an existing file wins: the temp file is
    linked only if ``final`` is absent, so readers and hardlinked checkouts keep their inode.
    Returns False when an existing file was kept (the temp file is then left to the caller).
    """
    os.fsync(fd)
    os.fchmod(fd, mode)
    final.parent.mkdir(parents=True, exist_ok=True)
    if replace:
        os.rename(tmp_path, final)
    else:
        try:
            os.link(tmp_path, final)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                raise
            os.rename(tmp_path, final)  # no hardlinks here: same bytes, so replacing is safe
        else:
            os.unlink(tmp_path)
    fsync_dir(final.parent)
    return True


def atomic_write(final: Path, data: bytes, tmp_dir: Path, mode: int = 0o444) -> None:
    """Write ``data`` to ``final`` so readers see the old content or the new, never a part."""
    fd, tmp_path = open_temp(tmp_dir, final.name[:16])
    try:
        write_all(fd, data)
        publish(tmp_path, fd, final, mode)
    except BaseException:
        try:
            tmp_path.unlink()
        except FileNotFoundError:
            pass
        raise
    finally:
        os.close(fd)


def touch(path: Path) -> None:
    """Record a use (mtime = now); silently skipped where we may not (a shared store)."""
    try:
        os.utime(path)
    except OSError:
        pass
