"""Action entries by key (``actions/ab/<key>``) and the latest key per component (``refs/<name>``).

An entry is written only after every object it names is present, through temp + fsync +
rename, so a reader (or a crash) never sees an entry whose outputs are missing. The entry
file's mtime is its last use, which ``gc`` evicts by: a cache hit costs one ``utime``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hermetic.errors import StoreError
from hermetic.store.entry import ActionEntry
from hermetic.store.fsutil import atomic_write, check_digest, fanout, touch
from hermetic.store.objects import ObjectStore

if TYPE_CHECKING:
    from hermetic.signing import PublicKey, SecretKey

# RPM package names, plus what azldev component names use; never a path.
_COMPONENT_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]*")


def check_component_name(name: str) -> str:
    if not isinstance(name, str) or not _COMPONENT_NAME.fullmatch(name):
        raise StoreError(f"component name {name!r} cannot name a store ref")
    return name


class ActionStore:
    def __init__(self, root: Path, refs_dir: Path, tmp_dir: Path, objects: ObjectStore,
                 secret_key: Callable[[], "SecretKey"]) -> None:
        self.root = root
        self.refs_dir = refs_dir
        self.tmp_dir = tmp_dir
        self.objects = objects
        self._secret_key = secret_key

    def path(self, key: str) -> Path:
        return fanout(self.root, check_digest(key, "action key"))

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def put(self, key: str, entry: ActionEntry, *, sign: bool = True,
            set_latest: bool = True) -> ActionEntry:
        """Store ``entry`` under ``key`` (signed with the local key unless ``sign=False``).

        Refuses when the entry names objects that are not in the store. Returns the entry as
        stored (with its signature). Also makes it the latest entry of its component.
        """
        if entry.key != key:
            raise StoreError(f"entry for key {entry.key} cannot be stored under {key}")
        missing = self.objects.missing(o.digest for o in entry.outputs)
        if missing:
            raise StoreError(
                f"entry {key} ({entry.component}) names objects not in the store: "
                f"{', '.join(missing)}",
                hint="store the output objects first, then the entry")
        if sign:
            from hermetic.signing import sign_entry
            entry = sign_entry(entry, self._secret_key())
        atomic_write(self.path(key), entry.encode(), self.tmp_dir)
        if set_latest:
            self.set_latest(entry.component, key)
        return entry

    def get(self, key: str, *, record_use: bool = True,
            trusted: Iterable["PublicKey | str"] | None = None) -> ActionEntry | None:
        """The entry stored under ``key``, or None.

        ``record_use`` marks it recently used (for gc) and latest for its component: pass
        False for inspection (explain, log, verify). With ``trusted`` keys, an entry without a
        valid trusted signature raises StoreError.
        """
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        entry = ActionEntry.decode(data, where=f"actions/{key[:2]}/{key}")
        if entry.key != key:
            raise StoreError(f"actions/{key[:2]}/{key}: entry claims key {entry.key}",
                             hint="run `hermetic store verify` to quarantine it")
        if trusted is not None:
            from hermetic.signing import verify_entry
            if not verify_entry(entry, trusted):
                raise StoreError(f"entry {key} ({entry.component}) has no valid signature "
                                 "from a trusted key")
        if record_use:
            touch(path)
            if self.latest(entry.component) != key:
                self.set_latest(entry.component, key)
        return entry

    def keys(self) -> Iterator[str]:
        """Every key with an entry file (not parsed)."""
        if not self.root.is_dir():
            return
        for bucket in sorted(self.root.iterdir()):
            if bucket.is_dir():
                for item in sorted(bucket.iterdir()):
                    yield item.name

    # -- refs: latest key per component name ------------------------------------------------

    def ref_path(self, component: str) -> Path:
        return self.refs_dir / check_component_name(component)

    def latest(self, component: str) -> str | None:
        try:
            text = self.ref_path(component).read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def set_latest(self, component: str, key: str) -> None:
        check_digest(key, "action key")
        atomic_write(self.ref_path(component), (key + "\n").encode(), self.tmp_dir, mode=0o644)

    def refs(self) -> dict[str, str]:
        """component name → latest key, for every ref."""
        result: dict[str, str] = {}
        if self.refs_dir.is_dir():
            for path in sorted(self.refs_dir.iterdir()):
                try:
                    result[path.name] = path.read_text().strip()
                except OSError:
                    continue
        return result
