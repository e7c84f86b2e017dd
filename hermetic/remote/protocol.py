"""The one protocol every transport speaks, and the streaming download every transport shares.

A transport moves bytes; it never decides what to trust. ``Substituters`` verifies signatures
and ``receive_object`` re-hashes every object before anyone may see it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

import blake3

from hermetic.remote.errors import IntegrityError

CHUNK = 1024 * 1024


@runtime_checkable
class Remote(Protocol):
    """A team cache: objects by blake3 and entries by key, in the local store's layout."""

    url: str

    def get_entry(self, key: str) -> bytes | None:
        """The raw entry stored under ``key``, or None when the remote has none."""

    def missing(self, digests: Iterable[str]) -> list[str]:
        """Which of ``digests`` the remote lacks: ONE batched request where the transport allows."""

    def get_object(self, digest: str, dest: Path) -> int:
        """Download object ``digest`` to ``dest`` (a new file); re-hash; IntegrityError on mismatch.

        Returns the size. A missing object is an IntegrityError too: whoever named it promised it.
        ``dest`` never holds unverified bytes after a failure (it is removed).
        """

    def put_object(self, digest: str, path: Path) -> bool:
        """Upload the file at ``path`` as ``digest`` unless present; True when it was uploaded."""

    def put_entry(self, key: str, data: bytes) -> None:
        """Store an entry (canonical msgpack). Its objects must be uploaded first."""

    def get_buildroot_entry(self, digest: str) -> bytes | None:
        """The small record that maps a buildroot tree digest to its tarball object."""

    def put_buildroot_entry(self, digest: str, data: bytes) -> None: ...

    def info(self) -> dict[str, Any]:
        """What the remote says about itself (transport, url, reachable, ...)."""

    def close(self) -> None: ...


def receive_object(digest: str, dest: Path, chunks: Iterable[bytes] | Callable[[], Any],
                   *, where: str, expected_size: int | None = None) -> int:
    """Write ``chunks`` to the new file ``dest`` while hashing; keep it only if it is ``digest``.

    ``chunks`` is an iterable of byte strings, or a readable binary stream.
    """
    hasher = blake3.blake3()
    size = 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        for chunk in _iterate(chunks):
            hasher.update(chunk)
            size += len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        if expected_size is not None and size != expected_size:
            raise IntegrityError(f"{where}: object {digest[:16]}… is truncated "
                                 f"({size} of {expected_size} bytes)")
        actual = hasher.hexdigest()
        if actual != digest:
            raise IntegrityError(f"{where}: object {digest[:16]}… hashes to {actual[:16]}… "
                                 "(tampered or damaged)")
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink(dest)
        raise
    os.close(fd)
    return size


def _iterate(source: Any) -> Iterable[bytes]:
    if hasattr(source, "read"):
        stream: BinaryIO = source
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                return
            yield chunk
    else:
        yield from source


def hash_path(path: Path) -> tuple[str, int]:
    """(blake3, size) of a local file, for transports that must name what they upload."""
    size = os.stat(path).st_size
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    if size:  # mmap cannot map an empty file
        hasher.update_mmap(os.fspath(path))
    return hasher.hexdigest(), size


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
