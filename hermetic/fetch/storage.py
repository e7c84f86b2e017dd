"""How fetch uses the store: a staging area, the digest index, and verified puts.

The store names objects by blake3; distributions name files by sha256/sha512. The index
``<store>/index/<algorithm>/<hex[:2]>/<hex>`` (content: the blake3 hex) maps one to the other,
so a file whose declared digest is already known is never downloaded again: fetching is
offline whenever it can be. An index entry is only trusted while its object is present.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hermetic.errors import StoreError
from hermetic.fetch.digests import DeclaredDigest

_BLAKE3_HEX = re.compile(r"[0-9a-f]{64}")


def store_root(store: Any) -> Path:
    return Path(store.root)


@contextlib.contextmanager
def staging_file(store: Any, prefix: str = "fetch-") -> Iterator[Path]:
    """A fresh temporary file path inside the store (same filesystem as the objects)."""
    staging = store_root(store) / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix, dir=staging)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class DigestIndex:
    """Declared digest (sha256/sha512) → blake3 of the stored object."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._root = store_root(store) / "index"

    def _entry(self, digest: DeclaredDigest) -> Path:
        return self._root / digest.algorithm / digest.hexdigest[:2] / digest.hexdigest

    def lookup(self, digest: DeclaredDigest) -> str | None:
        try:
            value = self._entry(digest).read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        if not _BLAKE3_HEX.fullmatch(value) or not self._store.objects.has(value):
            return None  # damaged entry or evicted object: fetch again
        return value

    def record(self, digest: DeclaredDigest, blake3_hex: str) -> None:
        entry = self._entry(digest)
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".tmp-", dir=entry.parent)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as out:
                    out.write(blake3_hex + "\n")
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(name, entry)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name)
                raise
        except OSError as exc:
            raise StoreError(f"{entry}: cannot write the digest index ({exc.strerror})") from None


def put_verified(store: Any, path: Path, declared: DeclaredDigest | None,
                 blake3_hex: str) -> str:
    """Hand an already verified file to the store; record its declared digest in the index."""
    expected = {declared.algorithm: declared.hexdigest} if declared else None
    stored = store.objects.put_file(path, expected=expected) if expected else \
        store.objects.put_file(path)
    if stored != blake3_hex:
        raise StoreError(f"{path}: store computed blake3 {stored}, fetch computed {blake3_hex}")
    if declared is not None:
        DigestIndex(store).record(declared, stored)
    return stored
