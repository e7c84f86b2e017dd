"""Moving verified downloads into the local store without a second copy."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hermetic.store.fsutil import fanout, fsync_dir

OBJECT_MODE = 0o444


def download_path(store) -> Path:
    """A fresh (not yet created) file name in the store's staging directory."""
    return store.tmp_dir() / f"dl.{os.getpid()}.{secrets.token_hex(8)}"


def adopt_object(store, digest: str, staged: Path) -> None:
    """Publish the verified file ``staged`` as object ``digest`` (put-if-absent) and drop it."""
    try:
        os.chmod(staged, OBJECT_MODE)
        final = fanout(store.objects_dir, digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(staged, final)
        except FileExistsError:
            return  # a concurrent pull or build stored the same bytes first
        fsync_dir(final.parent)
    finally:
        try:
            os.unlink(staged)
        except FileNotFoundError:
            pass
