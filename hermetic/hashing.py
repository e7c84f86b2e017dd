"""File digests: blake3 (the store's name for bytes) plus sha256/sha512 in the same read.

Large files are hashed with blake3's own thread pool over a memory map; small files with one
plain read, where threads and mmap would cost more than they save. ``StatCache`` remembers
digests by (device, inode, size, mtime_ns, ctime_ns) so unchanged files are never re-read.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import blake3
import msgpack

# Below this size one read() and a single-threaded hasher win; above it, mmap + threads win.
THREADED_THRESHOLD = 4 * 1024 * 1024
# Chunk size when several algorithms share one read: large enough for blake3's threads to help.
CHUNK_SIZE = 4 * 1024 * 1024

SUPPORTED_ALGORITHMS = ("blake3", "sha256", "sha512")


def new_hasher(algorithm: str, size_hint: int):
    if algorithm == "blake3":
        if size_hint >= THREADED_THRESHOLD:
            return blake3.blake3(max_threads=blake3.blake3.AUTO)
        return blake3.blake3()
    if algorithm in ("sha256", "sha512"):
        return hashlib.new(algorithm)
    raise ValueError(f"unsupported digest algorithm {algorithm!r} "
                     f"(supported: {', '.join(SUPPORTED_ALGORITHMS)})")


def blake3_file(path: str | os.PathLike[str]) -> str:
    """The blake3 hex digest of a file's bytes."""
    path = os.fspath(path)
    size = os.stat(path).st_size
    if size >= THREADED_THRESHOLD:
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        hasher.update_mmap(path)
        return hasher.hexdigest()
    with open(path, "rb") as stream:
        return blake3.blake3(stream.read()).hexdigest()


def hash_file(path: str | os.PathLike[str], algorithms: Iterable[str] = ("blake3",)) -> dict[str, str]:
    """Digests of one file for each algorithm, computed in ONE pass over its bytes."""
    wanted = sorted(set(algorithms))
    if wanted == ["blake3"]:
        return {"blake3": blake3_file(path)}
    with open(path, "rb", buffering=0) as stream:
        size = os.fstat(stream.fileno()).st_size
        hashers = {name: new_hasher(name, size) for name in wanted}
        update_all = [h.update for h in hashers.values()]
        buffer = bytearray(min(CHUNK_SIZE, max(size, 1)))
        view = memoryview(buffer)
        while True:
            count = stream.readinto(buffer)
            if not count:
                break
            chunk = view[:count]
            for update in update_all:
                update(chunk)
    return {name: h.hexdigest() for name, h in hashers.items()}


@dataclass(frozen=True)
class StatKey:
    """The identity of one version of a file, as far as the kernel tells us cheaply."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> "StatKey":
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# A file whose mtime or ctime is this close to "now" may still be changing within the clock's
# granularity without its stat changing (git's "racy" files): such digests are never cached.
RACY_WINDOW_NS = 2_000_000_000


class StatCache:
    """(device, inode, size, mtime_ns, ctime_ns) → digests, persisted in one sqlite file.

    Safe with concurrent processes (sqlite WAL, busy timeout) and threads (one lock). A row is
    only ever used when every stat field matches; any cache failure falls back to hashing, it
    never fails the caller.
    """

    def __init__(self, db_path: str | os.PathLike[str], *, racy_window_ns: int = RACY_WINDOW_NS,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.db_path = Path(db_path)
        self.racy_window_ns = racy_window_ns
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        # Rows not yet written: one transaction per row costs ~0.2 ms, so rows are written in
        # batches (and at exit). Losing them in a crash only costs a re-hash later.
        self._pending: dict[tuple[int, int], tuple[StatKey, dict[str, str]]] = {}
        self.hits = 0
        self.misses = 0
        atexit.register(self.flush)

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None:
            try:
                self.db_path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.db_path, timeout=10, isolation_level=None,
                                     check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("CREATE TABLE IF NOT EXISTS files ("
                           " dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,"
                           " ctime_ns INTEGER, digests BLOB, PRIMARY KEY (dev, ino))")
                self._db = db
            except sqlite3.Error:
                return None  # unusable cache: hash every time rather than fail
        return self._db

    def lookup(self, key: StatKey, algorithms: Iterable[str]) -> dict[str, str] | None:
        """Cached digests for exactly this stat identity, if all ``algorithms`` are known."""
        wanted = set(algorithms)
        with self._lock:
            pending = self._pending.get((key.dev, key.ino))
            if pending is not None and pending[0] == key and wanted <= pending[1].keys():
                return {name: pending[1][name] for name in wanted}
            db = self._connect()
            if db is None:
                return None
            try:
                row = db.execute("SELECT size, mtime_ns, ctime_ns, digests FROM files"
                                 " WHERE dev=? AND ino=?", (key.dev, key.ino)).fetchone()
            except sqlite3.Error:
                return None
        if row is None or tuple(row[:3]) != (key.size, key.mtime_ns, key.ctime_ns):
            return None
        try:
            digests = msgpack.unpackb(row[3], raw=False)
        except Exception:
            return None
        if not isinstance(digests, dict) or not wanted <= digests.keys():
            return None
        return {name: digests[name] for name in wanted}

    def is_racy(self, key: StatKey) -> bool:
        newest = max(key.mtime_ns, key.ctime_ns)
        return self._clock_ns() - newest < self.racy_window_ns

    def remember(self, key: StatKey, digests: dict[str, str]) -> bool:
        """Remember digests for ``key`` (merged with digests already known); False when refused.

        Written in batches: call ``flush()`` (or ``close()``) to make them visible to others
        at once; they are flushed at interpreter exit in any case.
        """
        if self.is_racy(key):
            return False
        with self._lock:
            earlier = self._pending.get((key.dev, key.ino))
            if earlier is not None and earlier[0] == key:
                digests = {**earlier[1], **digests}
            self._pending[(key.dev, key.ino)] = (key, dict(digests))
            full = len(self._pending) >= self.BATCH_SIZE
        if full:
            self.flush()
        return True

    BATCH_SIZE = 256

    def flush(self) -> None:
        """Write remembered rows in one transaction."""
        with self._lock:
            if not self._pending:
                return
            rows, self._pending = list(self._pending.values()), {}
            db = self._connect()
            if db is None:
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                for key, digests in rows:
                    row = db.execute("SELECT size, mtime_ns, ctime_ns, digests FROM files"
                                     " WHERE dev=? AND ino=?", (key.dev, key.ino)).fetchone()
                    if row is not None and tuple(row[:3]) == (key.size, key.mtime_ns,
                                                              key.ctime_ns):
                        digests = {**msgpack.unpackb(row[3], raw=False), **digests}
                    db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                               (key.dev, key.ino, key.size, key.mtime_ns, key.ctime_ns,
                                msgpack.packb(digests, use_bin_type=True)))
                db.execute("COMMIT")
            except (sqlite3.Error, ValueError, TypeError):
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass

    def cached_digest(self, path: str | os.PathLike[str],
                      algorithms: Iterable[str] = ("blake3",)) -> dict[str, str]:
        """Digests of ``path``, read from the cache when the file's stat is unchanged."""
        wanted = tuple(sorted(set(algorithms)))
        before = StatKey.of(os.stat(path))
        found = self.lookup(before, wanted)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        digests = hash_file(path, wanted)
        # Only cache what we can vouch for: the file did not change while we read it.
        if StatKey.of(os.stat(path)) == before:
            self.remember(before, digests)
        return digests

    def close(self) -> None:
        self.flush()
        atexit.unregister(self.flush)
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
