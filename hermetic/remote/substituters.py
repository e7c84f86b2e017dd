"""Substituters: fetch a trusted result for a key from remote caches instead of building it.

Order of checks for each remote (lowest priority number first, as in Nix):
the entry decodes and names the key asked for; at least one trusted key signed it and no trusted
signature fails; every object it names is downloaded, re-hashed and size-checked. Objects go into
the local store first, then the entry with the remote's own signatures (never re-signed here).
A rejection or a remote that is down costs one warning line; the caller then builds locally.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from hermetic.errors import HermeticError
from hermetic.remote.errors import IntegrityError, RemoteError, RemoteUnavailable
from hermetic.remote.localstore import adopt_object, download_path
from hermetic.remote.protocol import Remote

if TYPE_CHECKING:
    from hermetic.signing import PublicKey
    from hermetic.store import ActionEntry, Store

NEGATIVE_TTL = 60.0       # seconds a "not there" answer is believed
DOWN_TTL = 60.0           # seconds a remote that failed is left alone
DOWNLOAD_WORKERS = 4


def print_warning(line: str) -> None:
    print(f"hermetic: warning: {line}", file=sys.stderr, flush=True)


class Rejected(Exception):
    """An entry from a remote that must not be used (one line says why)."""


class Substituters:
    def __init__(self, remotes_with_priorities: Iterable[tuple[Remote | str, int] | Remote],
                 trusted_keys: Iterable["PublicKey | str"], *,
                 warn: Callable[[str], None] = print_warning,
                 negative_ttl: float = NEGATIVE_TTL, down_ttl: float = DOWN_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from hermetic.remote.open import open_remote
        from hermetic.signing import parse_public_key

        ranked: list[tuple[int, int, Remote]] = []
        for index, item in enumerate(remotes_with_priorities):
            remote, priority = item if isinstance(item, tuple) else (item, 50)
            if isinstance(remote, str):
                remote = open_remote(remote)
            ranked.append((priority, index, remote))
        self.remotes: list[Remote] = [remote for _, _, remote in sorted(ranked, key=lambda r: r[:2])]
        self.trusted: list[PublicKey] = [k if not isinstance(k, str) else parse_public_key(k)
                                         for k in trusted_keys]
        self._warn = warn
        self._negative_ttl = negative_ttl
        self._down_ttl = down_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._negative: dict[tuple[int, str], float] = {}
        self._down_until: dict[int, float] = {}

    def __bool__(self) -> bool:
        return bool(self.remotes)

    # -- bookkeeping --------------------------------------------------------------------------

    def _skip(self, index: int, key: str) -> bool:
        now = self._clock()
        with self._lock:
            if self._down_until.get(index, 0.0) > now:
                return True
            return self._negative.get((index, key), 0.0) > now

    def _remember_absent(self, index: int, key: str) -> None:
        with self._lock:
            self._negative[(index, key)] = self._clock() + self._negative_ttl

    def _mark_down(self, index: int, error: Exception) -> None:
        with self._lock:
            already = self._down_until.get(index, 0.0) > self._clock()
            self._down_until[index] = self._clock() + self._down_ttl
        if not already:
            self._warn(f"{error} (skipping this cache for {int(self._down_ttl)} s; "
                       "building locally instead)")

    # -- pulling ------------------------------------------------------------------------------

    def pull(self, store: "Store", key: str) -> "ActionEntry | None":
        """The entry for ``key``, fetched into ``store`` from the first remote that has a
        trusted, intact copy; None (after one warning line per problem) otherwise."""
        found = self._first(key, lambda remote, data: self._accept(store, remote, key, data))
        return found[1] if found else None

    def lookup(self, key: str) -> "tuple[str, ActionEntry] | None":
        """(remote URL, entry) of the first remote holding a trusted entry for ``key``, without
        downloading its objects: what ``hermetic show`` needs to plan a pull."""
        return self._first(key, lambda remote, data: self._trusted_entry(remote, key, data))

    def _first(self, key: str, accept: "Callable[[Remote, bytes], ActionEntry]"
               ) -> "tuple[str, ActionEntry] | None":
        """Ask each remote in priority order for ``key``'s entry; the first one ``accept``
        takes wins. Absent keys, remotes that are down and rejected entries move on."""
        for index, remote in enumerate(self.remotes):
            if self._skip(index, key):
                continue
            try:
                data = remote.get_entry(key)
                if data is None:
                    self._remember_absent(index, key)
                    continue
                return remote.url, accept(remote, data)
            except RemoteUnavailable as exc:
                self._mark_down(index, exc)
            except (Rejected, IntegrityError) as exc:
                self._warn(f"{remote.url}: rejected the cached result for {key[:16]}…: {exc}")
            except RemoteError as exc:
                self._warn(f"{exc}")
        return None

    def _accept(self, store: "Store", remote: Remote, key: str, data: bytes) -> "ActionEntry":
        entry = self._trusted_entry(remote, key, data)
        sizes = {o.digest: o.size for o in entry.outputs}
        missing = store.objects.missing(sizes)
        if missing:
            self._download(store, remote, missing, sizes)
        return store.actions.put(key, entry, sign=False)

    def _trusted_entry(self, remote: Remote, key: str, data: bytes) -> "ActionEntry":
        from hermetic.signing import verify_entry
        from hermetic.store import ActionEntry

        try:
            entry = ActionEntry.decode(data, where="entry")
        except HermeticError as exc:
            raise Rejected(str(exc)) from None
        if entry.key != key:
            raise Rejected(f"the entry claims key {entry.key[:16]}…")
        if not verify_entry(entry, self.trusted):
            trusted_names = {k.name for k in self.trusted}
            signers = [s.key_name for s in entry.signatures]
            if any(name in trusted_names for name in signers):
                raise Rejected(f"a signature by a trusted key does not verify "
                               f"(signed by {', '.join(signers)}; the entry was altered)")
            raise Rejected(f"no signature by a trusted key (signed by "
                           f"{', '.join(signers) or 'nobody'})")
        return entry

    def _download(self, store: "Store", remote: Remote, digests: Sequence[str],
                  sizes: dict[str, int]) -> None:
        def fetch(digest: str) -> None:
            staged = download_path(store)
            try:
                size = remote.get_object(digest, staged)
                if size != sizes[digest]:
                    raise IntegrityError(f"object {digest[:16]}… has {size} bytes, the signed "
                                         f"entry says {sizes[digest]}")
                adopt_object(store, digest, staged)
            finally:
                try:
                    staged.unlink()
                except FileNotFoundError:
                    pass

        if len(digests) == 1:
            fetch(digests[0])
            return
        with ThreadPoolExecutor(max_workers=min(DOWNLOAD_WORKERS, len(digests))) as pool:
            for future in [pool.submit(fetch, d) for d in digests]:
                future.result()  # the first failure propagates; the others finish or fail

    def close(self) -> None:
        for remote in self.remotes:
            remote.close()
