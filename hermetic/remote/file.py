"""``file://DIR``: a plain directory in the store's layout (a shared disk, NFS, a copied store).

Writes follow the store's rules: stage in ``DIR/tmp``, fsync, then link into place so a
concurrent writer of the same object never sees an error and readers never see a partial file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hermetic.remote.entries import SmallFileEntries
from hermetic.remote.errors import IntegrityError, RemoteError, RemoteUnavailable
from hermetic.remote.layout import MAX_ENTRY_BYTES, object_path
from hermetic.remote.protocol import receive_object
from hermetic.store.fsutil import fsync_dir

OBJECT_MODE = 0o444


class FileRemote(SmallFileEntries):
    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = Path(root)
        self.url = url or f"file://{self.root}"

    # -- reads --------------------------------------------------------------------------------

    def _get_small(self, relative: str) -> bytes | None:
        path = self.root / relative
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_ENTRY_BYTES + 1)
        except FileNotFoundError:
            if not self.root.is_dir():
                raise RemoteUnavailable(f"{self.url}: no such directory") from None
            return None
        except OSError as exc:
            raise RemoteUnavailable(f"{self.url}: cannot read {relative} ({exc.strerror})") from None
        if len(data) > MAX_ENTRY_BYTES:
            raise IntegrityError(f"{self.url}/{relative}: larger than {MAX_ENTRY_BYTES} bytes")
        return data

    def missing(self, digests: Iterable[str]) -> list[str]:
        if not self.root.is_dir():
            raise RemoteUnavailable(f"{self.url}: no such directory")
        unique = dict.fromkeys(digests)
        return [d for d in unique if not (self.root / object_path(d)).is_file()]

    def get_object(self, digest: str, dest: Path) -> int:
        relative = object_path(digest)
        try:
            stream = open(self.root / relative, "rb")
        except FileNotFoundError:
            raise IntegrityError(f"{self.url}: object {digest[:16]}… is missing") from None
        except OSError as exc:
            raise RemoteUnavailable(f"{self.url}: cannot read {relative} ({exc.strerror})") from None
        with stream:
            return receive_object(digest, dest, stream, where=self.url)

    # -- writes -------------------------------------------------------------------------------

    def _staging_path(self, final: Path) -> Path:
        tmp = self.root / "tmp"
        try:
            tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RemoteError(f"{self.url}: cannot write ({exc.strerror})") from None
        return tmp / f"{final.name[:16]}.{os.getpid()}.{secrets.token_hex(6)}"

    def _staging(self, final: Path) -> tuple[int, Path]:
        path = self._staging_path(final)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), path

    def put_object(self, digest: str, path: Path) -> bool:
        final = self.root / object_path(digest)
        if final.is_file():
            return False
        staged = self._staging_path(final)
        try:
            with open(path, "rb") as source:
                # Re-hash what we copy: a damaged local object must not poison the team cache.
                receive_object(digest, staged, source, where=f"local object for {self.url}")
            os.chmod(staged, OBJECT_MODE)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(staged, final)  # put-if-absent: a concurrent identical upload wins
            except FileExistsError:
                return False
            fsync_dir(final.parent)
            return True
        finally:
            try:
                os.unlink(staged)
            except FileNotFoundError:
                pass

    def _put_small(self, relative: str, data: bytes) -> None:
        final = self.root / relative
        fd, staged = self._staging(final)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            os.fchmod(fd, 0o444)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged, final)
            fsync_dir(final.parent)
        except BaseException:
            try:
                os.unlink(staged)
            except FileNotFoundError:
                pass
            raise
        finally:
            os.close(fd)

    def info(self) -> dict[str, Any]:
        return {"url": self.url, "transport": "file", "reachable": self.root.is_dir(),
                "writable": os.access(self.root, os.W_OK) if self.root.is_dir() else False}

    def close(self) -> None:
        pass
