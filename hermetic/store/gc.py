"""Garbage collection: keep the roots, evict the rest least-recently-used first to a size target.

Roots are the latest entry of every component name (``refs/``) and everything such an entry
references: its output objects, the objects its input manifest names (so a rebuild needs no
refetch), and its buildroot; and every named buildroot (``buildroots/names/<name>``). Buildroots held in use (a shared lock) and anything touched within
the grace period (a running build may be about to write the entry that names it) are never
evicted. Everything else is a candidate, oldest last use first: entries (last use = entry mtime,
touched on every cache hit), then objects and buildroots once no remaining entry names them.

Without a size target the collection goes all the way: only roots and recent items remain.
"""

from __future__ import annotations

import heapq
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermetic.errors import StoreError
from hermetic.store import Store
from hermetic.store.entry import ActionEntry

DEFAULT_GRACE_SECONDS = 3600
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class GcItem:
    kind: str        # "entry" | "object" | "buildroot" | "tmp"
    name: str
    size: int
    last_use: int    # Unix seconds


@dataclass
class GcReport:
    size_before: int
    size_after: int
    target: int
    roots: int
    dry_run: bool
    evicted: list[GcItem] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return sum(item.size for item in self.evicted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run, "size_before": self.size_before,
            "size_after": self.size_after, "target": self.target, "roots": self.roots,
            "freed": self.freed,
            "evicted": [item.__dict__ for item in self.evicted],
        }


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``10G``, ``500MiB``, ``1.5T``, ``4096`` → bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if not match:
        raise StoreError(f"--max-size {text!r}: expected a size such as 500M, 10G or 1.5T")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit])


def _walk_size(path: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + dirnames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _fan_out_files(base: Path) -> Iterator[os.DirEntry]:
    if not base.is_dir():
        return
    with os.scandir(base) as buckets:
        for bucket in buckets:
            if bucket.is_dir(follow_symlinks=False):
                with os.scandir(bucket.path) as items:
                    yield from items


def _manifest_digests(value: Any, present: set[str]) -> set[str]:
    """Every string in the manifest that names a present object (sources, spec, patches)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) == 64 and item in present:
                found.add(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return found


def _make_writable(path: Path) -> None:
    """Buildroots and objects are read-only: give their directories u+w so they can go."""
    for dirpath, dirnames, _ in os.walk(path):
        for name in dirnames:
            full = os.path.join(dirpath, name)
            try:
                mode = os.lstat(full).st_mode
                if stat.S_ISDIR(mode):
                    os.chmod(full, stat.S_IMODE(mode) | stat.S_IRWXU)
            except OSError:
                pass
    try:
        os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | stat.S_IRWXU)
    except OSError:
        pass


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        _make_writable(path)
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _is_locked(path: Path) -> bool:
    """Someone holds an flock on ``path`` (a writer in progress)."""
    import fcntl
    flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_DIRECTORY if path.is_dir() else 0)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def clean_tmp(store: Store, *, grace_seconds: int, now: float, dry_run: bool) -> list[GcItem]:
    """Leftovers in tmp/ that nobody is writing (no flock) and that are older than the grace."""
    tmp = store.root / "tmp"
    removed: list[GcItem] = []
    if not tmp.is_dir():
        return removed
    for item in sorted(tmp.iterdir()):
        try:
            st = item.lstat()
        except FileNotFoundError:
            continue
        if now - st.st_mtime < grace_seconds or _is_locked(item):
            continue
        size = _walk_size(item) if item.is_dir() else st.st_size
        if not dry_run:
            _remove_tree(item)
        removed.append(GcItem("tmp", item.name, size, int(st.st_mtime)))
    return removed


def collect_garbage(store: Store, *, max_size: int | None = None, dry_run: bool = False,
                    grace_seconds: int = DEFAULT_GRACE_SECONDS,
                    now: float | None = None) -> GcReport:
    now = time.time() if now is None else now
    target = max_size or 0
    evicted = clean_tmp(store, grace_seconds=grace_seconds, now=now, dry_run=dry_run)

    objects: dict[str, os.stat_result] = {}
    for item in _fan_out_files(store.objects_dir):
        if _HEX64.fullmatch(item.name):
            try:
                objects[item.name] = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed by a concurrent gc
    present = set(objects)

    buildroots: dict[str, tuple[int, float]] = {}
    if store.buildroots_dir.is_dir():
        for item in store.buildroots_dir.iterdir():
            if _HEX64.fullmatch(item.name) and item.is_dir():
                try:
                    buildroots[item.name] = (_walk_size(item), item.stat().st_mtime)
                except FileNotFoundError:
                    continue

    entries: dict[str, tuple[ActionEntry | None, os.stat_result]] = {}
    for item in _fan_out_files(store.actions_dir):
        try:
            st = item.stat(follow_symlinks=False)
            entry = ActionEntry.decode(Path(item.path).read_bytes())
        except FileNotFoundError:
            continue
        except StoreError:
            entry = None  # damaged: `store verify` quarantines it; gc leaves it alone
        entries[item.name] = (entry, st)

    def references(entry: ActionEntry) -> set[str]:
        return (entry.referenced_digests() & present) | _manifest_digests(entry.manifest, present)

    roots = {key for key in store.actions.refs().values() if key in entries}
    refcount: dict[str, int] = {}
    last_use: dict[str, float] = {d: st.st_mtime for d, st in objects.items()}
    last_use.update({d: mtime for d, (_, mtime) in buildroots.items()})
    # Named buildroots (buildroots/names/<name> → digest) are what a workspace builds on next.
    protected: set[str] = _named_buildroots(store)
    for key, (entry, st) in entries.items():
        if entry is None:
            continue
        names = references(entry) | ({entry.buildroot} if entry.buildroot in buildroots else set())
        for name in names:
            refcount[name] = refcount.get(name, 0) + 1
            last_use[name] = max(last_use.get(name, 0), st.st_mtime)
            if key in roots:
                protected.add(name)

    size_before = (sum(st.st_size for st in objects.values())
                   + sum(size for size, _ in buildroots.values())
                   + sum(st.st_size for _, st in entries.values()))
    total = size_before

    def recent(name: str) -> bool:
        return now - last_use.get(name, 0) < grace_seconds

    # (last use, kind order, name): the oldest first; entries before what they reference.
    heap: list[tuple[float, int, str, str]] = []
    for key, (entry, st) in entries.items():
        if key not in roots and entry is not None and now - st.st_mtime >= grace_seconds:
            heap.append((st.st_mtime, 0, "entry", key))
    for digest in objects:
        if refcount.get(digest, 0) == 0 and not recent(digest):
            heap.append((last_use[digest], 1, "object", digest))
    for digest in buildroots:
        if refcount.get(digest, 0) == 0 and digest not in protected and not recent(digest):
            heap.append((last_use[digest], 2, "buildroot", digest))
    heapq.heapify(heap)

    while heap and total > target:
        when, _, kind, name = heapq.heappop(heap)
        if kind == "entry":
            entry, st = entries[name]
            size = st.st_size
            if not dry_run and not _unlink_if_unused(store.actions.path(name), st):
                continue  # used (a cache hit) since we looked: it stays, and so do its objects
            assert entry is not None
            freed_refs = references(entry) | (
                {entry.buildroot} if entry.buildroot in buildroots else set())
            for ref in freed_refs:
                refcount[ref] -= 1
                if refcount[ref] == 0 and ref not in protected and not recent(ref):
                    order, ref_kind = (1, "object") if ref in objects else (2, "buildroot")
                    heapq.heappush(heap, (last_use[ref], order, ref_kind, ref))
        elif kind == "object":
            size = objects[name].st_size
            if not dry_run and not _unlink_if_unused(store.objects.path(name), objects[name]):
                continue
        else:
            size = buildroots[name][0]
            if not _evict_buildroot(store, name, dry_run):
                continue
        total -= size
        evicted.append(GcItem(kind, name, size, int(when)))

    return GcReport(size_before=size_before, size_after=total, target=target,
                    roots=len(roots), dry_run=dry_run, evicted=evicted)


def _unlink_if_unused(path: Path, scanned: os.stat_result) -> bool:
    """Remove ``path`` unless it was used (touched) since the scan; a hit just now wins."""
    try:
        if path.stat().st_mtime_ns != scanned.st_mtime_ns:
            return False
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _named_buildroots(store: Store) -> set[str]:
    names = store.buildroots_dir / "names"
    found: set[str] = set()
    if names.is_dir():
        for item in names.iterdir():
            try:
                digest = item.read_text().strip()
            except OSError:
                continue
            if _HEX64.fullmatch(digest):
                found.add(digest)
    return found


def _evict_buildroot(store: Store, digest: str, dry_run: bool) -> bool:
    """Remove one buildroot unless someone holds it in use; first rename it out of sight."""
    fd = store.try_lock_buildroot_exclusive(digest)
    if fd is None:
        return False
    try:
        if dry_run:
            return True
        path = store.buildroots_dir / digest
        doomed = store.tmp_dir() / f"gc-buildroot-{digest[:16]}-{os.getpid()}"
        try:
            os.chmod(path, stat.S_IMODE(path.stat().st_mode) | stat.S_IRWXU)
            os.rename(path, doomed)
        except FileNotFoundError:
            return False
        _remove_tree(doomed)
        (store.buildroots_dir / "meta" / f"{digest}.json").unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)
