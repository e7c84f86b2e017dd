from __future__ import annotations

import os

from hermetic.store import Store
from hermetic.store.verify import verify_store

from .conftest import make_entry


def _corrupt(path) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def test_clean_store_verifies(store: Store) -> None:
    entry = make_entry(store, "hello", "k", {"a.rpm": b"rpm"})
    store.actions.put(entry.key, entry)
    report = verify_store(store)
    assert report.ok and (report.objects, report.entries, report.refs) == (1, 1, 1)


def test_corrupted_object_is_quarantined_with_its_entry_and_ref(store: Store) -> None:
    entry = make_entry(store, "hello", "k", {"a.rpm": b"rpm bytes"})
    store.actions.put(entry.key, entry)
    healthy = make_entry(store, "other", "k2", {"b.rpm": b"fine"})
    store.actions.put(healthy.key, healthy)
    object_path = store.objects.path(entry.outputs[0].digest)
    _corrupt(object_path)

    report = verify_store(store)
    problems = {d.path: d for d in report.damage}
    rel = str(object_path.relative_to(store.root))
    assert "content hashes to" in problems[rel].problem
    assert problems[rel].quarantined_to.startswith("quarantine/objects/")
    assert (store.root / problems[rel].quarantined_to).exists()  # moved, never deleted
    assert not object_path.exists()
    entry_rel = f"actions/{entry.key[:2]}/{entry.key}"
    assert "output objects missing: a.rpm" in problems[entry_rel].problem
    assert "refs/hello" in problems
    assert len(report.damage) == 3
    # the healthy component is untouched, and a second pass finds nothing
    assert store.actions.get(healthy.key) is not None
    assert verify_store(store).ok


def test_altered_and_garbage_entries_are_quarantined(store: Store) -> None:
    entry = make_entry(store, "hello", "k", {"a.rpm": b"rpm"})
    store.actions.put(entry.key, entry)
    path = store.actions.path(entry.key)
    path.chmod(0o644)
    # flip the impure flag inside the signed entry: still parses, signature no longer matches
    data = path.read_bytes()
    assert b"\xa6impure\xc2" in data
    path.write_bytes(data.replace(b"\xa6impure\xc2", b"\xa6impure\xc3"))
    junk_key = "cd" * 32
    (store.root / "actions" / "cd").mkdir()
    (store.root / "actions" / "cd" / junk_key).write_bytes(b"\x00\x01not msgpack map")
    report = verify_store(store)
    problems = {d.path: d.problem for d in report.damage}
    assert "does not verify" in problems[f"actions/{entry.key[:2]}/{entry.key}"]
    assert "damaged action entry" in problems[f"actions/cd/{junk_key}"]
    assert len(list((store.root / "quarantine" / "actions").iterdir())) == 2


def test_misnamed_object_is_reported(store: Store) -> None:
    digest = store.objects.put_bytes(b"x")
    bucket = store.root / "objects" / ("ff" if digest[:2] != "ff" else "ee")
    bucket.mkdir()
    wrong = bucket / digest
    os.link(store.objects.path(digest), wrong)
    report = verify_store(store)
    assert [d.problem for d in report.damage] == ["not named by a digest in its bucket"]


def test_verify_while_a_builder_writes_reports_no_damage(store: Store) -> None:
    import time

    from .conftest import python_process
    writer = python_process(f"""
        import blake3
        from hermetic.store import ActionEntry, Store
        store = Store({str(store.root)!r})
        for i in range(100000):
            data = b"rpm %d" % i
            digest = store.objects.put_bytes(data)
            key = blake3.blake3(b"key %d" % i).hexdigest()
            store.actions.put(key, ActionEntry(key=key, component="c%d" % (i % 3),
                outputs=[{{"name": "x.rpm", "digest": digest, "size": len(data), "kind": "rpm"}}],
                manifest={{}}))
    """)
    try:
        while not (store.root / "refs").is_dir():
            assert writer.poll() is None
            time.sleep(0.01)
        for _ in range(3):
            report = verify_store(store)
            assert report.damage == []
    finally:
        writer.kill()
        writer.wait()
    assert verify_store(store).ok
