"""The content-addressed store: objects by blake3, signed action entries by key.

```
<root>/objects/ab/<blake3>     immutable blobs, read-only files
<root>/actions/ab/<key>        action entries (canonical msgpack), signed
<root>/refs/<component>        latest key built or used for a component name
<root>/buildroots/<digest>/    buildroot trees (owned by hermetic.buildroot)
<root>/tmp/  <root>/locks/     staging; per-key locks
<root>/keys/local.secret       the store's Ed25519 signing key (0600), local.public
<root>/quarantine/             damaged files moved aside by `hermetic store verify`
<root>/cache/stat.sqlite       stat → digest cache of hermetic.hashing.StatCache
```
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hermetic.store.actions import ActionStore, check_component_name
from hermetic.store.entry import ActionEntry, OutputRef, Signature
from hermetic.store.fsutil import check_digest
from hermetic.store.objects import ObjectStore

if TYPE_CHECKING:
    from hermetic.hashing import StatCache
    from hermetic.signing import PublicKey, SecretKey

__all__ = ["Store", "ActionEntry", "OutputRef", "Signature", "verify_entry"]


def verify_entry(entry: ActionEntry, trusted_public_keys) -> bool:
    """See ``hermetic.signing.verify_entry``."""
    from hermetic.signing import verify_entry as _verify
    return _verify(entry, trusted_public_keys)


class Store:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self.actions_dir = self.root / "actions"
        self.refs_dir = self.root / "refs"
        self.buildroots_dir = self.root / "buildroots"
        self.locks_dir = self.root / "locks"
        self.keys_dir = self.root / "keys"
        self.quarantine_dir = self.root / "quarantine"
        self._tmp = self.root / "tmp"
        self._secret: SecretKey | None = None
        self._stat_cache: StatCache | None = None
        self.objects = ObjectStore(self.objects_dir, self._tmp)
        self.actions = ActionStore(self.actions_dir, self.refs_dir, self._tmp, self.objects,
                                   self.local_secret_key)

    def tmp_dir(self) -> Path:
        """Staging directory on the store's filesystem (renames from here are atomic).

        Leftovers are removed by ``gc`` once nobody holds an flock on them and they are older
        than its grace period.
        """
        self._tmp.mkdir(parents=True, exist_ok=True)
        return self._tmp

    # -- convenience ---------------------------------------------------------------------------

    def latest(self, component: str) -> str | None:
        """Key of the latest entry stored or used for ``component``."""
        return self.actions.latest(component)

    @property
    def stat_cache(self) -> "StatCache":
        if self._stat_cache is None:
            from hermetic.hashing import StatCache
            self._stat_cache = StatCache(self.root / "cache" / "stat.sqlite")
        return self._stat_cache

    def local_secret_key(self) -> "SecretKey":
        """The store's signing key (``keys/local.secret``), created on first use."""
        if self._secret is None:
            from hermetic.signing import local_key
            self._secret = local_key(self.keys_dir)
        return self._secret

    def local_public_key(self) -> "PublicKey":
        return self.local_secret_key().public()

    # -- locks ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str, *, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Exclusive lock on one key: a second builder of the same key waits here.

        ``on_wait`` is called once if the lock is busy (to say "waiting for another build").
        After acquiring, check ``actions.get(key)`` again: the other builder may have finished.
        """
        with self._flock(f"key-{check_digest(key, 'action key')}", fcntl.LOCK_EX, on_wait):
            yield

    @contextlib.contextmanager
    def buildroot_in_use(self, digest: str) -> Iterator[None]:
        """Shared lock marking a buildroot as in use: ``gc`` never removes it meanwhile."""
        with self._flock(f"buildroot-{check_digest(digest, 'buildroot digest')}",
                         fcntl.LOCK_SH, None):
            yield

    def try_lock_buildroot_exclusive(self, digest: str) -> int | None:
        """For gc: an fd holding the buildroot's lock exclusively, or None when it is in use."""
        return self._try_flock(f"buildroot-{digest}")

    def _lock_path(self, name: str) -> Path:
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        return self.locks_dir / name

    @contextlib.contextmanager
    def _flock(self, name: str, mode: int, on_wait: Callable[[], None] | None) -> Iterator[None]:
        # Lock files are never deleted: unlinking a lock file races with its next opener.
        fd = os.open(self._lock_path(name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    def _try_flock(self, name: str) -> int | None:
        fd = os.open(self._lock_path(name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd


def is_component_name(name: str) -> bool:
    try:
        check_component_name(name)
    except Exception:
        return False
    return True
