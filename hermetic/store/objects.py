"""Immutable blobs named by their blake3 digest: ``objects/ab/<blake3>``, read-only files."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from hermetic.errors import FetchError, StoreError
from hermetic.hashing import CHUNK_SIZE, THREADED_THRESHOLD, new_hasher
from hermetic.store.fsutil import (check_digest, fanout, open_temp, publish, touch,
                                   write_all)

OBJECT_MODE = 0o444


class ObjectStore:
    def __init__(self, root: Path, tmp_dir: Path) -> None:
        self.root = root
        self.tmp_dir = tmp_dir

    def path(self, digest: str) -> Path:
        return fanout(self.root, check_digest(digest))

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def missing(self, digests: Iterable[str]) -> list[str]:
        """The digests (deduplicated, in first-seen order) that are not in the store."""
        seen: dict[str, None] = {}
        for digest in digests:
            seen.setdefault(digest, None)
        return [d for d in seen if not self.has(d)]

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def touch(self, digest: str) -> None:
        """Record a use for ``gc``'s least-recently-used order."""
        touch(self.path(digest))

    def put_bytes(self, data: bytes) -> str:
        hasher = new_hasher("blake3", len(data))
        hasher.update(data)
        digest = hasher.hexdigest()
        final = self.path(digest)
        if final.is_file():
            touch(final)
            return digest
        fd, tmp_path = open_temp(self.tmp_dir, "obj")
        try:
            write_all(fd, data)
            if not publish(tmp_path, fd, final, OBJECT_MODE, replace=False):
                _discard(tmp_path)  # a concurrent writer stored the same bytes first
        except BaseException:
            _discard(tmp_path)
            raise
        finally:
            os.close(fd)
        return digest

    def put_file(self, path: str | os.PathLike[str], *,
                 expected: dict[str, str] | None = None) -> str:
        """Copy a file into the store, hashing as it goes; return its blake3 digest.

        ``expected`` maps algorithm → hex digest (``{"sha256": "…"}``); any mismatch raises
        FetchError naming both digests and leaves nothing in the store.
        """
        expected = {name.lower(): value.lower() for name, value in (expected or {}).items()}
        algorithms = {"blake3", *expected}
        source = Path(path)
        # Unbuffered: each readinto is one read(2), so a pipe or socket never stalls a chunk.
        with open(source, "rb", buffering=0) as stream:
            size = os.fstat(stream.fileno()).st_size
            hashers = {name: new_hasher(name, size) for name in sorted(algorithms)}
            fd, tmp_path = open_temp(self.tmp_dir, "obj")
            try:
                chunk_size = CHUNK_SIZE if size >= THREADED_THRESHOLD else 1024 * 1024
                buffer = bytearray(chunk_size)
                view = memoryview(buffer)
                while True:
                    count = stream.readinto(buffer)
                    if not count:
                        break
                    chunk = view[:count]
                    for hasher in hashers.values():
                        hasher.update(chunk)
                    write_all(fd, chunk)
                actual = {name: hasher.hexdigest() for name, hasher in hashers.items()}
                for name, want in sorted(expected.items()):
                    if actual[name] != want:
                        raise FetchError(
                            f"{source}: {name} digest mismatch: expected {want}, got {actual[name]}",
                            hint="the file is not the one declared; nothing was stored")
                digest = actual["blake3"]
                final = self.path(digest)
                if final.is_file() or not publish(tmp_path, fd, final, OBJECT_MODE,
                                                  replace=False):
                    # Someone stored the same bytes already: keep theirs (readers may hold it).
                    _discard(tmp_path)
                    touch(final)
            except BaseException:
                _discard(tmp_path)
                raise
            finally:
                os.close(fd)
        return digest

    def link_to(self, digest: str, dest: str | os.PathLike[str]) -> Path:
        """Check an object out at ``dest``: a hardlink when possible, else a copy.

        ``dest`` is replaced atomically if it exists.
        """
        source = self.path(digest)
        if not source.is_file():
            raise StoreError(f"object {digest} is not in the store",
                             hint="run `hermetic store verify`; the entry naming it may be damaged")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.with_name(f".{dest.name}.hermetic-tmp.{os.getpid()}")
        _discard(staging)
        try:
            os.link(source, staging)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            shutil.copyfile(source, staging)
            os.chmod(staging, 0o644)
        os.replace(staging, dest)
        return dest


def _discard(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
