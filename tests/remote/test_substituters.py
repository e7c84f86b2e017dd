"""Substituter behaviour: priorities, negative lookups, a remote that is down, impure entries,
buildroots through the cache, and the 64-client load test against `hermetic serve`."""

from __future__ import annotations

import random
import threading
import time

import blake3

from hermetic.remote import (Substituters, Uploader, open_remote, pull_buildroot,
                             push_buildroot)
from hermetic.remote.file import FileRemote
from hermetic.remote.layout import object_path
from hermetic.store import Store

from .conftest import free_port, make_result


class CountingRemote(FileRemote):
    """A real directory remote that counts entry lookups."""

    def __init__(self, root):
        super().__init__(root)
        self.lookups = 0

    def get_entry(self, key):
        self.lookups += 1
        return super().get_entry(key)


def test_priorities_negative_cache_and_expiry(tmp_path, team):
    source = Store(tmp_path / "src")
    entry = make_result(source, team)
    near, far = CountingRemote(tmp_path / "near"), CountingRemote(tmp_path / "far")
    near.root.mkdir(), far.root.mkdir()
    uploader = Uploader([far])
    uploader.submit(source, entry.key)
    assert uploader.close() == []
    now = [0.0]
    substituters = Substituters([(far, 40), (near, 10)], [team.public_text],
                                clock=lambda: now[0], negative_ttl=30)
    assert substituters.remotes == [near, far]
    unknown = "9" * 64
    assert substituters.pull(Store(tmp_path / "x"), unknown) is None
    assert substituters.pull(Store(tmp_path / "x"), unknown) is None
    assert (near.lookups, far.lookups) == (1, 1)          # remembered as absent
    now[0] = 31.0
    assert substituters.pull(Store(tmp_path / "x"), unknown) is None
    assert (near.lookups, far.lookups) == (2, 2)          # forgotten after the TTL
    pulled = substituters.pull(Store(tmp_path / "y"), entry.key)
    assert pulled is not None and near.lookups == 3 and far.lookups == 3


def test_a_remote_that_is_down_degrades_with_one_warning(tmp_path, team):
    warnings: list[str] = []
    dead = f"http://127.0.0.1:{free_port()}"
    substituters = Substituters([(dead, 1)], [team.public_text], warn=warnings.append)
    store = Store(tmp_path / "s")
    for _ in range(3):
        assert substituters.pull(store, "1" * 64) is None
        assert substituters.pull(store, "2" * 64) is None
    assert len(warnings) == 1 and "127.0.0.1" in warnings[0]
    uploader = Uploader([dead])
    entry = make_result(store, team)
    uploader.submit(store, entry.key)
    failures = uploader.close()
    assert len(failures) == 1 and "127.0.0.1" in failures[0]


def test_impure_results_are_not_pushed_unless_forced(tmp_path, team):
    store = Store(tmp_path / "s")
    entry = make_result(store, team, impure=True)
    cache = tmp_path / "cache"
    cache.mkdir()
    uploader = Uploader([f"file://{cache}"])
    uploader.submit(store, entry.key)
    assert uploader.close() == [] and len(uploader.skipped) == 1
    assert open_remote(f"file://{cache}").get_entry(entry.key) is None
    forced = Uploader([f"file://{cache}"], force=True)
    forced.submit(store, entry.key)
    assert forced.close() == [] and forced.skipped == []
    assert open_remote(f"file://{cache}").get_entry(entry.key) == entry.encode()


def test_push_signs_with_a_team_key_without_dropping_the_local_signature(tmp_path, team):
    store = Store(tmp_path / "s")
    entry = make_result(store, team)
    plain = store.actions.put(entry.key, entry.with_signatures(()))  # local signature only
    cache = tmp_path / "cache"
    cache.mkdir()
    uploader = Uploader([f"file://{cache}"], secret_key=team.secret)
    uploader.submit(store, plain.key)
    assert uploader.close() == []
    pulled = Substituters([f"file://{cache}"], [team.public_text]).pull(Store(tmp_path / "o"),
                                                                       plain.key)
    assert pulled is not None
    assert {s.key_name for s in pulled.signatures} == {store.local_public_key().name,
                                                      team.public.name}


def _small_tree(path):
    (path / "usr/bin").mkdir(parents=True)
    (path / "usr/bin/tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (path / "usr/bin/tool").chmod(0o755)
    (path / "etc").mkdir()
    (path / "etc/os-release").write_text("ID=test\n")
    (path / "usr/bin/alias").symlink_to("tool")
    (path / "empty").mkdir()


def test_buildroots_travel_through_the_cache(tmp_path, served):
    from hermetic.buildroot import import_tree, lookup

    tree = tmp_path / "tree"
    _small_tree(tree)
    first = import_tree(tmp_path / "a", tree, "team-root")
    remote = open_remote(served.url, served.token)
    record = push_buildroot(tmp_path / "a", first.digest, [remote], name="team-root")
    again = push_buildroot(tmp_path / "a", first.digest, [remote], name="team-root")
    assert again.tarball == record.tarball           # the tarball is deterministic
    pulled = pull_buildroot(tmp_path / "b", first.digest, remote)
    assert pulled is not None and pulled.digest == first.digest and pulled.name == "team-root"
    assert lookup(tmp_path / "b", "team-root").digest == first.digest
    assert (pulled.path / "usr/bin/tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert pull_buildroot(tmp_path / "c", "7" * 64, remote) is None
    # A tampered tarball is refused and installs nothing.
    path = served.root / object_path(record.tarball)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[600] ^= 1
    path.write_bytes(bytes(data))
    import pytest
    from hermetic.remote import IntegrityError
    with pytest.raises(IntegrityError):
        pull_buildroot(tmp_path / "d", first.digest, remote)
    assert lookup(tmp_path / "d", "team-root") is None
    remote.close()


def test_64_concurrent_clients_lose_nothing(served, team, tmp_path):
    """Load test (short here; benchmarks/bench_serve.py runs it for 30 s)."""
    source = Store(tmp_path / "src")
    entries = [make_result(source, team, component=f"c{i}", sizes=(50_000, 300_000))
               for i in range(4)]
    uploader = Uploader([served.url], served.token)
    for entry in entries:
        uploader.submit(source, entry.key)
    assert uploader.close() == []
    digests = [o.digest for e in entries for o in e.outputs]
    errors: list[str] = []
    counts = [0] * 64
    stop_at = time.monotonic() + 3.0

    def client(index: int) -> None:
        remote = open_remote(served.url)
        rng = random.Random(index)
        scratch = tmp_path / f"client-{index}"
        scratch.mkdir()
        try:
            while time.monotonic() < stop_at:
                digest = rng.choice(digests)
                dest = scratch / f"{counts[index]}"
                remote.get_object(digest, dest)
                if blake3.blake3(dest.read_bytes()).hexdigest() != digest:
                    errors.append(f"client {index}: wrong bytes")
                dest.unlink()
                if remote.missing(digests) != []:
                    errors.append(f"client {index}: objects reported missing")
                counts[index] += 1
        except Exception as exc:  # every failure is collected and fails the test
            errors.append(f"client {index}: {exc!r}")
        finally:
            remote.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(count > 0 for count in counts)
    metrics = open_remote(served.url)
    import urllib.request
    text = urllib.request.urlopen(f"{served.url}/metrics").read().decode()
    assert 'hermetic_http_errors_total{kind="server"} 0' in text
    assert 'hermetic_http_errors_total{kind="client"} 0' in text
    metrics.close()
