"""The background uploader: push finished results to remote caches without blocking builds.

For each submitted key: one batched ``missing`` call per remote, the missing objects, then the
entry (objects before entries, as in the store). Entries built on an impure (host) buildroot
stay local unless ``force`` is set: their key cannot promise what the host had installed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hermetic.errors import HermeticError
from hermetic.remote.protocol import Remote

if TYPE_CHECKING:
    from hermetic.signing import SecretKey
    from hermetic.store import ActionEntry, Store

_STOP = object()
# Below this size sending an object the cache may already hold costs less than asking first
# (a round trip); every transport's put_object is put-if-absent, so a repeat changes nothing.
ASK_FIRST_BYTES = 1 << 20


def upload_entry(remote: Remote, store: "Store", entry: "ActionEntry") -> int:
    """Upload ``entry``'s objects the remote lacks, then the entry. Returns the objects
    uploaded (newly created there)."""
    needed = sorted(entry.referenced_digests())
    large = [d for d in needed if store.objects.path(d).stat().st_size >= ASK_FIRST_BYTES]
    large_set = set(large)
    send = [d for d in needed if d not in large_set]
    uploaded = 0
    for digest in [*send, *(remote.missing(large) if large else [])]:
        if remote.put_object(digest, store.objects.path(digest)):
            uploaded += 1
    remote.put_entry(entry.key, entry.encode())
    return uploaded


class Uploader:
    def __init__(self, remotes: Sequence[Remote | str], token: str | None = None, *,
                 secret_key: "SecretKey | None" = None, force: bool = False,
                 workers: int = 2) -> None:
        from hermetic.remote.open import open_remote

        self.remotes: list[Remote] = [open_remote(r, token) if isinstance(r, str) else r
                                      for r in remotes]
        self.secret_key = secret_key
        self.force = force
        self.failures: list[str] = []
        self.skipped: list[str] = []
        self.pushed: list[str] = []
        self.objects_uploaded = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._work, name=f"hermetic-upload-{i}",
                                          daemon=True) for i in range(max(1, workers))]
        for thread in self._threads:
            thread.start()
        self._closed = False

    def submit(self, store: "Store", key: str) -> None:
        """Queue the result stored under ``key`` for upload; returns at once."""
        if self._closed:
            raise RuntimeError("Uploader.submit after close()")
        self._queue.put((store, key))

    def close(self) -> list[str]:
        """Wait for every queued upload; the failures, one line each."""
        if not self._closed:
            self._closed = True
            for _ in self._threads:
                self._queue.put(_STOP)
            for thread in self._threads:
                thread.join()
            for remote in self.remotes:
                remote.close()
        return list(self.failures)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            store, key = item
            try:
                self._push(store, key)
            except Exception as exc:  # never let one upload kill the thread; report it
                message = str(exc) if isinstance(exc, HermeticError) else repr(exc)
                with self._lock:
                    self.failures.append(f"{key[:16]}…: {message}")

    def _push(self, store: "Store", key: str) -> None:
        entry = store.actions.get(key, record_use=False)
        if entry is None:
            with self._lock:
                self.failures.append(f"{key[:16]}…: no entry in the local store")
            return
        if entry.impure and not self.force:
            with self._lock:
                self.skipped.append(f"{entry.component} ({key[:16]}…): built on an impure "
                                    "(host) buildroot; not pushed (force to push anyway)")
            return
        if self.secret_key is not None:
            from hermetic.signing import sign_entry
            entry = sign_entry(entry, self.secret_key)
        for remote in self.remotes:
            try:
                count = upload_entry(remote, store, entry)
            except HermeticError as exc:
                with self._lock:
                    self.failures.append(f"{entry.component} ({key[:16]}…) → {remote.url}: {exc}")
                continue
            with self._lock:
                self.objects_uploaded += count
                self.pushed.append(f"{entry.component} → {remote.url}")
