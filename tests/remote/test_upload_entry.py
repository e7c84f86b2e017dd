"""Which objects ``upload_entry`` asks about before sending (a recording remote: pure)."""

from __future__ import annotations

from pathlib import Path

from hermetic.remote.uploader import ASK_FIRST_BYTES, upload_entry
from hermetic.store import Store

from .conftest import make_result


class RecordingRemote:
    """Holds objects in memory and records every call (the Remote protocol's write side)."""

    def __init__(self, present: set[str] = frozenset()) -> None:
        self.objects = set(present)
        self.asked: list[list[str]] = []
        self.sent: list[str] = []
        self.entries: list[str] = []

    def missing(self, digests):
        self.asked.append(list(digests))
        return [d for d in digests if d not in self.objects]

    def put_object(self, digest: str, path: Path) -> bool:
        assert path.is_file()
        self.sent.append(digest)
        created = digest not in self.objects
        self.objects.add(digest)
        return created

    def put_entry(self, key: str, data: bytes) -> None:
        assert self.objects >= set(self.sent)  # objects before the entry
        self.entries.append(key)


def test_small_objects_are_sent_without_asking_large_ones_are_asked_about(tmp_path, team):
    store = Store(tmp_path / "store")
    entry = make_result(store, team, sizes=(3000, ASK_FIRST_BYTES + 1, 0))
    small = {o.digest for o in entry.outputs if o.size < ASK_FIRST_BYTES}
    large = [o.digest for o in entry.outputs if o.size >= ASK_FIRST_BYTES]

    remote = RecordingRemote()
    assert upload_entry(remote, store, entry) == 3
    assert remote.asked == [large]          # one round trip, for the large object only
    assert set(remote.sent) == small | set(large)
    assert remote.entries == [entry.key]


def test_a_large_object_the_cache_holds_is_not_sent_again(tmp_path, team):
    store = Store(tmp_path / "store")
    entry = make_result(store, team, sizes=(10, ASK_FIRST_BYTES * 2))
    large = next(o.digest for o in entry.outputs if o.size >= ASK_FIRST_BYTES)

    remote = RecordingRemote(present={large})
    assert upload_entry(remote, store, entry) == 1
    assert large not in remote.sent
