from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import blake3
import pytest

from hermetic.errors import FetchError, StoreError
from hermetic.store import Store

from .conftest import python_process


def test_put_file_round_trip_read_only_and_idempotent(store: Store, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    source = tmp_path / "hello-1.0.tar.gz"
    source.write_bytes(data)
    digest = store.objects.put_file(source)
    assert digest == blake3.blake3(data).hexdigest()
    path = store.objects.path(digest)
    assert path == store.root / "objects" / digest[:2] / digest
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert store.objects.has(digest)
    inode = path.stat().st_ino
    assert store.objects.put_file(source) == digest
    assert path.stat().st_ino == inode  # the first copy stays: readers may hold it
    assert store.objects.put_bytes(data) == digest
    assert list((store.root / "tmp").iterdir()) == []


def test_put_file_verifies_declared_digests(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "src.tar"
    source.write_bytes(b"payload")
    good = {"sha256": hashlib.sha256(b"payload").hexdigest(),
            "SHA512": hashlib.sha512(b"payload").hexdigest().upper()}
    digest = store.objects.put_file(source, expected=good)
    assert store.objects.has(digest)


def test_digest_mismatch_raises_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "src.tar"
    source.write_bytes(b"evil payload")
    wrong = hashlib.sha256(b"good payload").hexdigest()
    with pytest.raises(FetchError) as caught:
        store.objects.put_file(source, expected={"sha256": wrong})
    message = str(caught.value)
    assert wrong in message and hashlib.sha256(b"evil payload").hexdigest() in message
    assert "src.tar" in message
    assert not store.objects.has(blake3.blake3(b"evil payload").hexdigest())
    assert not any((store.root / "objects").rglob("*")) if (store.root / "objects").exists() else True
    assert list((store.root / "tmp").iterdir()) == []


def test_missing_and_malformed_digests(store: Store) -> None:
    present = store.objects.put_bytes(b"a")
    absent = blake3.blake3(b"b").hexdigest()
    assert store.objects.missing([present, absent, absent]) == [absent]
    with pytest.raises(StoreError, match="malformed digest"):
        store.objects.path("../../etc/passwd")


def test_link_to_checks_out_a_hardlink(store: Store, tmp_path: Path) -> None:
    digest = store.objects.put_bytes(b"rpm bytes")
    dest = store.objects.link_to(digest, tmp_path / "out" / "hello-1.0-1.x86_64.rpm")
    assert dest.read_bytes() == b"rpm bytes"
    assert dest.stat().st_ino == store.objects.path(digest).stat().st_ino
    store.objects.link_to(digest, dest)  # replacing an existing checkout is fine
    with pytest.raises(StoreError, match="not in the store"):
        store.objects.link_to(blake3.blake3(b"nope").hexdigest(), tmp_path / "x")


def test_concurrent_writers_of_the_same_object(store: Store, tmp_path: Path) -> None:
    data = os.urandom(2_000_000)
    source = tmp_path / "big.rpm"
    source.write_bytes(data)
    code = f"""
        from hermetic.store import Store
        store = Store({str(store.root)!r})
        for _ in range(15):
            print(store.objects.put_file({str(source)!r}))
    """
    import subprocess
    procs = [python_process(code, stdout=subprocess.PIPE) for _ in range(4)]
    outputs = [p.communicate()[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    expected = blake3.blake3(data).hexdigest()
    assert {d for out in outputs for d in out} == {expected}
    assert store.objects.path(expected).read_bytes() == data
    assert list((store.root / "tmp").iterdir()) == []


def test_kill_9_mid_write_leaves_nothing_visible(store: Store, tmp_path: Path) -> None:
    # The source is a FIFO we feed by hand: the writer is provably mid-copy when it dies.
    fifo = tmp_path / "source.fifo"
    os.mkfifo(fifo)
    writer = python_process(f"""
        from hermetic.store import Store
        Store({str(store.root)!r}).objects.put_file({str(fifo)!r})
    """)
    with open(fifo, "wb") as feed:
        feed.write(b"x" * 3_000_000)
        feed.flush()
        tmp = store.root / "tmp"
        while not (tmp.is_dir() and any(p.stat().st_size > 0 for p in tmp.iterdir())):
            assert writer.poll() is None, "writer ended before it was killed"
            time.sleep(0.01)
        writer.kill()
        writer.wait()
    assert writer.returncode == -9
    objects = store.root / "objects"
    assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))
    junk = list((store.root / "tmp").iterdir())
    assert len(junk) == 1  # only staging junk, which gc removes (the writer's flock is gone)
    from hermetic.store.gc import collect_garbage
    report = collect_garbage(store, grace_seconds=0)
    assert [item.kind for item in report.evicted] == ["tmp"]
    assert list((store.root / "tmp").iterdir()) == []


def test_gc_spares_tmp_files_a_live_writer_holds(store: Store, tmp_path: Path) -> None:
    from hermetic.store.fsutil import open_temp
    from hermetic.store.gc import collect_garbage
    fd, path = open_temp(store.tmp_dir(), "obj")
    try:
        collect_garbage(store, grace_seconds=0)
        assert path.exists()
    finally:
        os.close(fd)
    collect_garbage(store, grace_seconds=0)
    assert not path.exists()
