"""``hermetic store verify``: re-hash every object, check every entry and ref, quarantine damage.

Damaged files are moved to ``quarantine/<kind>/`` (never deleted) so that nothing trusts them
again and a person can still look at them. Objects are checked first: an entry that names an
object which had to be quarantined is itself damaged (a cache hit on it could not check out).
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermetic.errors import StoreError
from hermetic.hashing import blake3_file
from hermetic.store import Store
from hermetic.store.entry import ActionEntry

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Damage:
    path: str                    # relative to the store root
    problem: str
    quarantined_to: str | None   # relative to the store root

    def line(self) -> str:
        where = f" (moved to {self.quarantined_to})" if self.quarantined_to else ""
        return f"{self.path}: {self.problem}{where}"


@dataclass
class VerifyReport:
    objects: int = 0
    entries: int = 0
    refs: int = 0
    damage: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damage

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "objects": self.objects, "entries": self.entries,
                "refs": self.refs, "damage": [d.__dict__ for d in self.damage]}


def _quarantine(store: Store, path: Path, kind: str) -> str | None:
    target_dir = store.quarantine_dir / kind
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{path.name}.{time.time_ns()}"
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    return str(target.relative_to(store.root))


_GONE = ""  # removed while we looked (gc ran concurrently): not damage


def _rehash(path: Path) -> str | None:
    try:
        return blake3_file(path)
    except FileNotFoundError:
        return _GONE
    except OSError:
        return None


def verify_store(store: Store, *, workers: int | None = None) -> VerifyReport:
    report = VerifyReport()

    def damaged(path: Path, problem: str, kind: str) -> None:
        moved = _quarantine(store, path, kind)
        report.damage.append(Damage(str(path.relative_to(store.root)), problem, moved))

    # Objects: the name is the content's blake3, in the bucket of its first two characters.
    candidates: list[Path] = []
    if store.objects_dir.is_dir():
        for bucket in sorted(store.objects_dir.iterdir()):
            if not bucket.is_dir():
                damaged(bucket, "unexpected file in objects/", "objects")
                continue
            for item in sorted(bucket.iterdir()):
                if not _HEX64.fullmatch(item.name) or item.name[:2] != bucket.name:
                    damaged(item, "not named by a digest in its bucket", "objects")
                elif not item.is_file() or item.is_symlink():
                    damaged(item, "not a regular file", "objects")
                else:
                    candidates.append(item)
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        for item, actual in zip(candidates, pool.map(_rehash, candidates)):
            if actual == _GONE:
                continue
            report.objects += 1
            if actual is None:
                damaged(item, "unreadable", "objects")
            elif actual != item.name:
                damaged(item, f"content hashes to {actual}", "objects")

    # Entries: parse, key matches name, every output present, the local signature verifies.
    local_public = _local_public_key(store)
    valid_keys: set[str] = set()
    if store.actions_dir.is_dir():
        for bucket in sorted(store.actions_dir.iterdir()):
            items = sorted(bucket.iterdir()) if bucket.is_dir() else [bucket]
            for item in items:
                problem = _entry_problem(store, item, local_public)
                if problem == _GONE:
                    continue
                report.entries += 1
                if problem:
                    damaged(item, problem, "actions")
                else:
                    valid_keys.add(item.name)

    # Refs: each names a valid entry of that component.
    if store.refs_dir.is_dir():
        for item in sorted(store.refs_dir.iterdir()):
            report.refs += 1
            try:
                key = item.read_text().strip()
            except FileNotFoundError:
                continue
            except OSError as exc:
                damaged(item, f"unreadable ({exc.strerror})", "refs")
                continue
            if key not in valid_keys and not _written_since(store, key, local_public):
                damaged(item, f"names missing or damaged entry {key[:64]!r}", "refs")
    return report


def _written_since(store: Store, key: str, local_public) -> bool:
    """A build stored this entry after we scanned the entries: judge it now."""
    if not _HEX64.fullmatch(key):
        return False
    return _entry_problem(store, store.actions.path(key), local_public) is None


def _local_public_key(store: Store):
    path = store.keys_dir / "local.public"
    if not path.is_file():
        return None
    from hermetic.signing import parse_public_key
    try:
        return parse_public_key(path.read_text())
    except Exception:
        return None


def _entry_problem(store: Store, path: Path, local_public) -> str | None:
    if not _HEX64.fullmatch(path.name) or path.parent.name != path.name[:2]:
        return "not named by a key in its bucket"
    try:
        entry = ActionEntry.decode(path.read_bytes())
    except StoreError as exc:
        return exc.message.removeprefix("entry: ")
    except FileNotFoundError:
        return _GONE
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if entry.key != path.name:
        return f"entry claims key {entry.key}"
    missing = store.objects.missing(o.digest for o in entry.outputs)
    if missing:
        names = {o.digest: o.name for o in entry.outputs}
        return "output objects missing: " + ", ".join(f"{names[d]} ({d[:12]}…)" for d in missing)
    for output in entry.outputs:
        actual = store.objects.path(output.digest).stat().st_size
        if actual != output.size:
            return f"output {output.name}: entry says {output.size} bytes, object has {actual}"
    if local_public is not None and any(s.key_name == local_public.name
                                        for s in entry.signatures):
        from hermetic.signing import verify_entry
        if not verify_entry(entry, [local_public]):
            return f"signature by {local_public.name} does not verify (entry was altered)"
    return None
