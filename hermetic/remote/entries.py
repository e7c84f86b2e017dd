"""Entries and buildroot records on a transport: small files at the store layout's paths.

Every transport stores them the same way; a transport supplies ``_get_small`` and ``_put_small``
for one small file, and the rest of this part of the ``Remote`` protocol follows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from hermetic.remote.errors import RemoteError
from hermetic.remote.layout import buildroot_entry_path, entry_path


class SmallFileEntries(ABC):
    url: str
    # A transport with no server in front (a directory, a blob container) refuses an entry whose
    # outputs are not there yet itself; an HTTP cache's server does it.
    checks_outputs_before_entries = True

    @abstractmethod
    def _get_small(self, relative: str) -> bytes | None: ...

    @abstractmethod
    def _put_small(self, relative: str, data: bytes) -> None: ...

    @abstractmethod
    def missing(self, digests: Iterable[str]) -> list[str]: ...

    def get_entry(self, key: str) -> bytes | None:
        return self._get_small(entry_path(key))

    def get_buildroot_entry(self, digest: str) -> bytes | None:
        return self._get_small(buildroot_entry_path(digest))

    def put_entry(self, key: str, data: bytes) -> None:
        if self.checks_outputs_before_entries:
            from hermetic.store.entry import ActionEntry

            entry = ActionEntry.decode(data, where=f"entry {key}")
            missing = self.missing(o.digest for o in entry.outputs)
            if missing:
                raise RemoteError(f"{self.url}: entry {key[:16]}… names objects it lacks: "
                                  f"{', '.join(d[:12] for d in missing)}")
        self._put_small(entry_path(key), data)

    def put_buildroot_entry(self, digest: str, data: bytes) -> None:
        self._put_small(buildroot_entry_path(digest), data)
