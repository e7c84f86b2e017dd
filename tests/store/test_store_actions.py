from __future__ import annotations

import subprocess
import time

import blake3
import pytest

from hermetic.errors import StoreError
from hermetic.store import ActionEntry, Store

from .conftest import make_entry, python_process


def test_entry_round_trip_signed_and_latest(store: Store) -> None:
    entry = make_entry(store, "hello", "k1", {"hello-1.0-1.x86_64.rpm": b"rpm",
                                              "hello-1.0-1.src.rpm": b"srpm"})
    stored = store.actions.put(entry.key, entry)
    assert stored.signatures and stored.signatures[0].key_name == store.local_public_key().name
    assert store.actions.get(entry.key) == stored
    assert store.latest("hello") == entry.key
    path = store.actions.path(entry.key)
    assert path == store.root / "actions" / entry.key[:2] / entry.key
    assert oct(path.stat().st_mode & 0o777) == "0o444"
    assert ActionEntry.decode(path.read_bytes()) == stored
    assert (store.root / "keys" / "local.secret").stat().st_mode & 0o777 == 0o600
    assert store.actions.get(blake3.blake3(b"other").hexdigest()) is None


def test_put_refuses_entries_whose_objects_are_missing(store: Store) -> None:
    entry = make_entry(store, "hello", "k1", {"a.rpm": b"rpm"})
    store.objects.path(entry.outputs[0].digest).unlink()
    with pytest.raises(StoreError, match="names objects not in the store"):
        store.actions.put(entry.key, entry)
    assert not store.actions.has(entry.key)
    assert store.latest("hello") is None


def test_put_refuses_a_key_mismatch_and_bad_fields(store: Store) -> None:
    entry = make_entry(store, "hello", "k1", {"a.rpm": b"rpm"})
    with pytest.raises(StoreError, match="cannot be stored under"):
        store.actions.put("f" * 64, entry)
    with pytest.raises(ValueError, match="timings.build_ms must be an integer"):
        ActionEntry(key=entry.key, component="x", outputs=[], manifest={},
                    timings={"build_ms": 1.5})
    with pytest.raises(ValueError, match="kind"):
        ActionEntry(key=entry.key, component="x", manifest={},
                    outputs=[{"name": "a", "digest": "0" * 64, "size": 1, "kind": "tarball"}])


def test_damaged_entry_file_is_one_clear_error(store: Store) -> None:
    entry = make_entry(store, "hello", "k1", {"a.rpm": b"rpm"})
    store.actions.put(entry.key, entry)
    path = store.actions.path(entry.key)
    path.chmod(0o644)
    path.write_bytes(b"\xc1garbage")
    with pytest.raises(StoreError, match=f"actions/{entry.key[:2]}/{entry.key}: damaged"):
        store.actions.get(entry.key)


def test_get_records_use_and_moves_latest(store: Store) -> None:
    old = make_entry(store, "hello", "old", {"a.rpm": b"1"})
    new = make_entry(store, "hello", "new", {"a.rpm": b"2"})
    store.actions.put(old.key, old)
    store.actions.put(new.key, new)
    assert store.latest("hello") == new.key
    import os
    os.utime(store.actions.path(old.key), (1000, 1000))
    store.actions.get(old.key, record_use=False)
    assert store.actions.path(old.key).stat().st_mtime == 1000
    assert store.latest("hello") == new.key
    store.actions.get(old.key)  # a cache hit on the old inputs (switching branches back)
    assert store.actions.path(old.key).stat().st_mtime > 1000
    assert store.latest("hello") == old.key


def test_second_builder_waits_for_the_lock(store: Store) -> None:
    key = "ab" * 32
    holder = python_process(f"""
        import sys
        from hermetic.store import Store
        with Store({str(store.root)!r}).lock({key!r}):
            print("locked", flush=True)
            sys.stdin.readline()
        print("released", flush=True)
    """, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == "locked"
    waiter = python_process(f"""
        from hermetic.store import Store
        with Store({str(store.root)!r}).lock({key!r}, on_wait=lambda: print("waiting", flush=True)):
            print("acquired", flush=True)
    """, stdout=subprocess.PIPE)
    assert waiter.stdout.readline().strip() == "waiting"
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert waiter.stdout.readline().strip() == "acquired"
    assert holder.wait() == 0 and waiter.wait() == 0


def test_kill_9_while_storing_entries_leaves_only_whole_entries(store: Store) -> None:
    worker = python_process(f"""
        import blake3
        from hermetic.store import ActionEntry, Store
        store = Store({str(store.root)!r})
        for i in range(100000):
            data = (b"rpm %d " % i) * 5000
            digest = store.objects.put_bytes(data)
            key = blake3.blake3(b"key %d" % i).hexdigest()
            store.actions.put(key, ActionEntry(key=key, component="c%d" % (i % 7),
                outputs=[{{"name": "x.rpm", "digest": digest, "size": len(data), "kind": "rpm"}}],
                manifest={{"i": i, "blob": "m" * 20000}}))
    """)
    actions = store.root / "actions"

    def entries_written() -> int:
        return sum(1 for p in actions.rglob("*") if p.is_file()) if actions.exists() else 0

    while entries_written() < 30:
        assert worker.poll() is None
        time.sleep(0.01)
    worker.kill()
    worker.wait()
    from hermetic.store.verify import verify_store
    report = verify_store(store)
    assert report.entries >= 20 and report.damage == []
    for key in store.actions.keys():
        entry = store.actions.get(key, record_use=False)
        assert all(store.objects.has(o.digest) for o in entry.outputs)
