from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import blake3
import pytest

from hermetic.hashing import THREADED_THRESHOLD, StatCache, StatKey, blake3_file, hash_file


def test_blake3_file_small_and_large_match_reference(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"hello hermetic\n")
    large = tmp_path / "large"
    large.write_bytes(os.urandom(1024) * (THREADED_THRESHOLD // 1024 + 7))  # threaded + mmap path
    for path in (small, large):
        assert blake3_file(path) == blake3.blake3(path.read_bytes()).hexdigest()


@pytest.mark.skipif(shutil.which("b3sum") is None, reason="b3sum not installed")
def test_blake3_file_agrees_with_b3sum(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(THREADED_THRESHOLD + 12345))
    out = subprocess.run(["b3sum", "--no-names", str(path)], check=True, capture_output=True,
                         text=True).stdout.strip()
    assert blake3_file(path) == out


def test_hash_file_computes_all_algorithms_in_one_pass(tmp_path: Path) -> None:
    data = os.urandom(THREADED_THRESHOLD * 2 + 3)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert hash_file(path, ["sha256", "blake3", "sha512"]) == {
        "blake3": blake3.blake3(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
    }
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert hash_file(empty, ["sha256"])["sha256"] == hashlib.sha256(b"").hexdigest()
    with pytest.raises(ValueError, match="md5"):
        hash_file(path, ["md5"])


BASE = StatKey(dev=1, ino=2, size=3, mtime_ns=4_000_000_000, ctime_ns=5_000_000_000)
OLD_ENOUGH = lambda: 100 * 10**9  # noqa: E731 - a clock far after every BASE timestamp


def test_stat_cache_hit_when_every_field_matches(tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "c.sqlite", clock_ns=OLD_ENOUGH)
    assert cache.remember(BASE, {"blake3": "b" * 64, "sha256": "s" * 64})
    assert cache.lookup(BASE, ["blake3"]) == {"blake3": "b" * 64}
    assert cache.lookup(BASE, ["sha512"]) is None  # an algorithm never computed is a miss
    cache.flush()
    # persisted: a second instance (another process, in effect) sees it
    assert StatCache(tmp_path / "c.sqlite").lookup(BASE, ["sha256"]) == {"sha256": "s" * 64}


@pytest.mark.parametrize("field", ["dev", "ino", "size", "mtime_ns", "ctime_ns"])
def test_stat_cache_miss_when_any_field_differs(tmp_path: Path, field: str) -> None:
    cache = StatCache(tmp_path / "c.sqlite", clock_ns=OLD_ENOUGH)
    cache.remember(BASE, {"blake3": "b" * 64})
    changed = dataclasses.replace(BASE, **{field: getattr(BASE, field) + 1})
    assert cache.lookup(changed, ["blake3"]) is None


def test_stat_cache_refuses_racy_files(tmp_path: Path) -> None:
    # modified within the clock granularity of "now": its content may still change unseen
    cache = StatCache(tmp_path / "c.sqlite", clock_ns=lambda: BASE.ctime_ns + 1_000_000)
    assert not cache.remember(BASE, {"blake3": "b" * 64})
    assert cache.lookup(BASE, ["blake3"]) is None


def test_cached_digest_on_real_files(tmp_path: Path) -> None:
    path = tmp_path / "src.tar"
    path.write_bytes(b"A" * 5000)
    clock = [os.stat(path).st_ctime_ns + 10**10]
    cache = StatCache(tmp_path / "c.sqlite", clock_ns=lambda: clock[0])
    first = cache.cached_digest(path, ["blake3", "sha256"])
    assert (cache.hits, cache.misses) == (0, 1)
    assert cache.cached_digest(path, ["sha256"]) == {"sha256": first["sha256"]}
    assert (cache.hits, cache.misses) == (1, 1)
    # same size, mtime put back: only ctime tells, and it must be enough
    st = os.stat(path)
    path.write_bytes(b"B" * 5000)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    clock[0] = os.stat(path).st_ctime_ns + 10**10
    again = cache.cached_digest(path, ["blake3"])
    assert again["blake3"] == blake3.blake3(b"B" * 5000).hexdigest()
    assert cache.misses == 2


def test_fresh_file_is_rehashed_until_it_settles(tmp_path: Path) -> None:
    path = tmp_path / "hot"
    path.write_bytes(b"hot")
    cache = StatCache(tmp_path / "c.sqlite")  # real clock: the file was written just now
    cache.cached_digest(path)
    cache.cached_digest(path)
    assert (cache.hits, cache.misses) == (0, 2)


def test_unusable_cache_file_falls_back_to_hashing(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    db.write_bytes(b"this is not sqlite" * 100)
    path = tmp_path / "f"
    path.write_bytes(b"data")
    assert StatCache(db).cached_digest(path) == {"blake3": blake3.blake3(b"data").hexdigest()}


def test_remembered_digests_reach_disk_at_process_exit(tmp_path: Path) -> None:
    from .conftest import python_process
    path = tmp_path / "f"
    path.write_bytes(b"settled")
    os.utime(path, (1_000_000, 1_000_000))
    db = tmp_path / "c.sqlite"
    ctime = os.stat(path).st_ctime_ns
    child = python_process(f"""
        from hermetic.hashing import StatCache
        cache = StatCache({str(db)!r}, clock_ns=lambda: {ctime} + 10**10)
        cache.cached_digest({str(path)!r})
        assert cache.misses == 1
    """)
    assert child.wait() == 0
    cache = StatCache(db)
    assert cache.cached_digest(path) == {"blake3": blake3.blake3(b"settled").hexdigest()}
    assert (cache.hits, cache.misses) == (1, 0)
