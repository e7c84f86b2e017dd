from __future__ import annotations

import os
from pathlib import Path

import pytest

from hermetic.errors import StoreError
from hermetic.store import Store
from hermetic.store.gc import collect_garbage, parse_size

from .conftest import make_entry

NOW = 2_000_000_000


def _age(store: Store, key: str, when: int, objects: bool = True) -> None:
    """Pretend the entry (and its objects) were last used at ``when``."""
    os.utime(store.actions.path(key), (when, when))
    if objects:
        entry = store.actions.get(key, record_use=False)
        for output in entry.outputs:
            os.utime(store.objects.path(output.digest), (when, when))


def _names(report, kind):
    return [item.name for item in report.evicted if item.kind == kind]


def test_parse_size() -> None:
    assert parse_size("4096") == 4096
    assert parse_size("500M") == 500 << 20
    assert parse_size("1.5GiB") == 3 << 29
    assert parse_size("2t") == 2 << 40
    with pytest.raises(StoreError, match="--max-size"):
        parse_size("lots")


def test_gc_keeps_roots_and_evicts_least_recently_used_to_target(store: Store) -> None:
    blob = lambda tag: tag.encode() * 10_000  # noqa: E731 - 10 KB+ objects dominate the size
    shared = blob("shared-src")
    # three old builds of "lib" (the newest is the root) and one of "app"
    lib_v1 = store.actions.put(*_pair(make_entry(store, "lib", "lib1", {"lib.rpm": blob("l1")},
                                                 manifest={"src": store.objects.put_bytes(shared)})))
    lib_v2 = store.actions.put(*_pair(make_entry(store, "lib", "lib2", {"lib.rpm": blob("l2")})))
    lib_v3 = store.actions.put(*_pair(make_entry(store, "lib", "lib3", {"lib.rpm": blob("l3")},
                                                 manifest={"src": store.objects.put_bytes(shared)})))
    app = store.actions.put(*_pair(make_entry(store, "app", "app1", {"app.rpm": blob("a1")})))
    stray = store.objects.put_bytes(blob("stray source"))   # named by no entry
    _age(store, lib_v1.key, NOW - 4000)
    _age(store, lib_v2.key, NOW - 3000)
    _age(store, lib_v3.key, NOW - 5000)   # root even though least recently used
    _age(store, app.key, NOW - 100)
    os.utime(store.objects.path(stray), (NOW - 3500, NOW - 3500))

    dry = collect_garbage(store, max_size=1, dry_run=True, grace_seconds=0, now=NOW)
    assert store.actions.has(lib_v1.key) and store.objects.has(stray)  # dry run removed nothing

    # a target that needs exactly the oldest entry, its private rpm and the stray object gone
    total = dry.size_before
    need = (store.actions.path(lib_v1.key).stat().st_size + len(blob("l1")) + len(blob("stray source")))
    report = collect_garbage(store, max_size=total - need + 1, grace_seconds=0, now=NOW)
    assert _names(report, "entry") == [lib_v1.key]
    assert set(_names(report, "object")) == {lib_v1.outputs[0].digest, stray}
    assert report.size_after <= total - need + 1
    # the shared source is still named by the root lib entry's manifest
    assert store.objects.has(store.objects.put_bytes(shared))
    assert store.actions.has(lib_v2.key)

    # no target: everything but the roots and what they reference goes
    report = collect_garbage(store, grace_seconds=0, now=NOW)
    assert _names(report, "entry") == [lib_v2.key]
    assert not store.actions.has(lib_v2.key)
    for kept in (lib_v3, app):
        assert store.actions.has(kept.key)
        assert all(store.objects.has(o.digest) for o in kept.outputs)
    assert store.objects.has(store.objects.put_bytes(shared))
    from hermetic.store.verify import verify_store
    assert verify_store(store).ok


def test_gc_spares_recent_items(store: Store) -> None:
    old = store.actions.put(*_pair(make_entry(store, "lib", "old", {"lib.rpm": b"old"})))
    store.actions.put(*_pair(make_entry(store, "lib", "new", {"lib.rpm": b"new"})))
    fresh_object = store.objects.put_bytes(b"just fetched, entry not written yet")
    report = collect_garbage(store)  # real clock, default grace of an hour
    assert report.evicted == []
    assert store.actions.has(old.key) and store.objects.has(fresh_object)


def test_gc_buildroots_referenced_in_use_or_unused(store: Store) -> None:
    def buildroot(seed: str) -> tuple[str, Path]:
        import blake3
        digest = blake3.blake3(seed.encode()).hexdigest()
        tree = store.root / "buildroots" / digest
        (tree / "usr" / "bin").mkdir(parents=True)
        (tree / "usr" / "bin" / "rpmbuild").write_bytes(b"#!" + seed.encode() * 1000)
        for directory in (tree / "usr" / "bin", tree / "usr", tree):
            directory.chmod(0o555)  # buildroots are read-only trees
        os.utime(tree, (NOW - 9000, NOW - 9000))
        return digest, tree

    used, used_tree = buildroot("used-by-root")
    busy, busy_tree = buildroot("mounted-by-a-build")
    idle, idle_tree = buildroot("idle")
    named, named_tree = buildroot("named-but-not-built-on-yet")
    (store.root / "buildroots" / "names").mkdir()
    (store.root / "buildroots" / "names" / "debian-12-rpm").write_text(named + "\n")
    (store.root / "buildroots" / "meta").mkdir()
    (store.root / "buildroots" / "meta" / f"{idle}.json").write_text("{}")
    entry = make_entry(store, "lib", "k", {"lib.rpm": b"rpm"}, buildroot=used)
    store.actions.put(entry.key, entry)
    _age(store, entry.key, NOW - 9000)
    with store.buildroot_in_use(busy):
        report = collect_garbage(store, grace_seconds=0, now=NOW)
    assert _names(report, "buildroot") == [idle]
    assert used_tree.is_dir() and busy_tree.is_dir() and named_tree.is_dir()
    assert not idle_tree.exists()
    assert not (store.root / "buildroots" / "meta" / f"{idle}.json").exists()
    assert not any(p.name.startswith("gc-buildroot") for p in store.tmp_dir().iterdir())


def _pair(entry):
    return entry.key, entry


def test_gc_spares_an_entry_used_after_its_scan(store: Store, monkeypatch) -> None:
    import hermetic.store.gc as gc
    old = store.actions.put(*_pair(make_entry(store, "lib", "old", {"lib.rpm": b"old"})))
    store.actions.put(*_pair(make_entry(store, "lib", "new", {"lib.rpm": b"new"})))
    _age(store, old.key, NOW - 9000)
    # a cache hit lands between gc's scan and its unlink (it touches the entry's mtime)
    real_heappop = gc.heapq.heappop

    def heappop_with_a_hit(heap):
        item = real_heappop(heap)
        if item[3] == old.key:
            os.utime(store.actions.path(old.key))
        return item

    monkeypatch.setattr(gc.heapq, "heappop", heappop_with_a_hit)
    report = gc.collect_garbage(store, grace_seconds=0, now=NOW)
    assert report.evicted == []
    assert store.actions.has(old.key) and store.objects.has(old.outputs[0].digest)
