"""source-files: lookaside first, then origin.uri; verification; offline re-fetch."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermetic.errors import FetchError
from hermetic.fetch import fetch_plan, materialize
from hermetic.fetch.digests import DeclaredDigest
from hermetic.fetch.plan import FetchPlan, SourceFileRequest

from .conftest import sha256, sha512

TARBALL = b"pretend this is hello-1.0.tar.gz\n" * 100
LOOKASIDE = "/lookaside/$pkg/$filename/$hashtype/$hash/$filename"


def local_component(tmp_path: Path, *requests: SourceFileRequest,
                    lookaside: str | None = None) -> FetchPlan:
    directory = tmp_path / "comps" / "hello"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hello.spec").write_text("Name: hello\nSource0: hello-1.0.tar.gz\n")
    (directory / "hello.comp.toml").write_text("[components.hello]\n")
    return FetchPlan("hello", "comps/hello/hello.comp.toml: components.hello",
                     local_spec=directory / "hello.spec", lookaside_template=lookaside,
                     lookaside_package="hello", source_files=requests)


def request(data: bytes = TARBALL, *, algorithm: str = "sha512", origin: str | None = None,
            name: str = "hello-1.0.tar.gz", replace: bool = False) -> SourceFileRequest:
    hexdigest = sha512(data) if algorithm == "sha512" else sha256(data)
    return SourceFileRequest(name, DeclaredDigest(algorithm, hexdigest), origin, replace,
                             "comps/hello/hello.comp.toml: components.hello.source-files[0]")


def lookaside_path(data: bytes, algorithm: str = "sha512") -> str:
    hexdigest = sha512(data) if algorithm == "sha512" else sha256(data)
    return f"/lookaside/hello/hello-1.0.tar.gz/{algorithm}/{hexdigest}/hello-1.0.tar.gz"


def objects_in(store) -> list[Path]:
    return sorted(p for p in store.objects_dir.rglob("*") if p.is_file())


def test_lookaside_first(http_server, store, tmp_path: Path) -> None:
    http_server.files[lookaside_path(TARBALL)] = TARBALL
    http_server.files["/origin/hello-1.0.tar.gz"] = TARBALL
    plan = local_component(tmp_path, request(origin=http_server.url("/origin/hello-1.0.tar.gz")),
                           lookaside=http_server.base + LOOKASIDE)
    fetched = fetch_plan(plan, store)
    assert http_server.requests == [lookaside_path(TARBALL)]
    digest = fetched.files["hello-1.0.tar.gz"]
    assert store.objects.path(digest).read_bytes() == TARBALL
    assert fetched.spec_name == "hello.spec"
    assert sorted(fetched.files) == ["hello-1.0.tar.gz", "hello.spec"]  # no component TOML
    assert fetched.stats.downloaded_files == 1
    assert fetched.stats.downloaded_bytes == len(TARBALL)


def test_origin_uri_when_the_lookaside_has_no_copy(http_server, store, tmp_path: Path) -> None:
    http_server.files["/origin/hello-1.0.tar.gz"] = TARBALL
    plan = local_component(tmp_path, request(algorithm="sha256",
                                             origin=http_server.url("/origin/hello-1.0.tar.gz")),
                           lookaside=http_server.base + LOOKASIDE)
    fetched = fetch_plan(plan, store)
    assert http_server.requests == [lookaside_path(TARBALL, "sha256"), "/origin/hello-1.0.tar.gz"]
    assert store.objects.path(fetched.files["hello-1.0.tar.gz"]).read_bytes() == TARBALL


def test_origin_reached_through_a_redirect(http_server, store, tmp_path: Path) -> None:
    http_server.files["/mirror/hello-1.0.tar.gz"] = TARBALL
    http_server.redirects["/download/hello"] = http_server.url("/mirror/hello-1.0.tar.gz")
    plan = local_component(tmp_path, request(origin=http_server.url("/download/hello")))
    fetched = fetch_plan(plan, store)
    assert store.objects.path(fetched.files["hello-1.0.tar.gz"]).read_bytes() == TARBALL


def test_nowhere_found_lists_every_attempt(http_server, store, tmp_path: Path) -> None:
    plan = local_component(tmp_path, request(origin=http_server.url("/origin/gone.tar.gz")),
                           lookaside=http_server.base + LOOKASIDE)
    with pytest.raises(FetchError) as caught:
        fetch_plan(plan, store)
    message = str(caught.value)
    assert message.startswith("comps/hello/hello.comp.toml: components.hello.source-files[0]: "
                              "cannot fetch hello-1.0.tar.gz: ")
    assert message.count("HTTP 404 Not Found") == 2
    assert "\n" not in message
    # Only the verified local spec reached the store; nothing of the failed downloads.
    assert [p.read_bytes() for p in objects_in(store)] == [plan.local_spec.read_bytes()]


def test_no_lookaside_and_no_origin(store, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="nowhere to fetch it from"):
        fetch_plan(local_component(tmp_path, request()), store)


def test_wrong_bytes_are_a_mismatch_and_nothing_is_stored(http_server, store,
                                                          tmp_path: Path) -> None:
    evil = b"not the declared tarball"
    http_server.files[lookaside_path(TARBALL)] = evil
    plan = local_component(tmp_path, request(), lookaside=http_server.base + LOOKASIDE)
    with pytest.raises(FetchError) as caught:
        fetch_plan(plan, store)
    message = str(caught.value)
    assert f"expected {sha512(TARBALL)}" in message
    assert f"got {sha512(evil)}" in message
    assert "sha512 mismatch" in message
    # Nothing of the bad download anywhere: no object with those bytes, no index entry,
    # no staging leftovers.
    assert all(p.read_bytes() != evil for p in objects_in(store))
    assert not (store.root / "index").exists()
    assert list((store.root / "tmp").iterdir()) == []


def test_mismatch_is_not_hidden_by_a_good_origin(http_server, store, tmp_path: Path) -> None:
    # A lookaside serving wrong bytes is an incident, not a miss: never fall through.
    http_server.files[lookaside_path(TARBALL)] = b"tampered"
    http_server.files["/origin/hello-1.0.tar.gz"] = TARBALL
    plan = local_component(tmp_path, request(origin=http_server.url("/origin/hello-1.0.tar.gz")),
                           lookaside=http_server.base + LOOKASIDE)
    with pytest.raises(FetchError, match="mismatch"):
        fetch_plan(plan, store)


def test_refetch_is_offline(http_server, store, tmp_path: Path) -> None:
    http_server.files[lookaside_path(TARBALL)] = TARBALL
    plan = local_component(tmp_path, request(), lookaside=http_server.base + LOOKASIDE)
    first = fetch_plan(plan, store)
    http_server.stop()
    second = fetch_plan(plan, store)
    assert second.files == first.files
    assert second.stats.downloaded_files == 0
    assert second.stats.reused_files == 1
    assert second.stats.reused_bytes == len(TARBALL)


def test_same_digest_under_another_component_is_not_downloaded_twice(
        http_server, store, tmp_path: Path) -> None:
    http_server.files["/origin/hello-1.0.tar.gz"] = TARBALL
    fetch_plan(local_component(tmp_path / "a", request(
        origin=http_server.url("/origin/hello-1.0.tar.gz"))), store)
    # A different URL, never served: the declared digest alone finds the stored object.
    again = fetch_plan(local_component(tmp_path / "b", request(
        origin=http_server.url("/elsewhere/hello-1.0.tar.gz"))), store)
    assert http_server.requests == ["/origin/hello-1.0.tar.gz"]
    assert again.stats.reused_files == 1


def test_evicted_object_is_fetched_again(http_server, store, tmp_path: Path) -> None:
    http_server.files[lookaside_path(TARBALL)] = TARBALL
    plan = local_component(tmp_path, request(), lookaside=http_server.base + LOOKASIDE)
    first = fetch_plan(plan, store)
    path = store.objects.path(first.files["hello-1.0.tar.gz"])
    path.chmod(0o644)
    path.unlink()  # as gc would
    second = fetch_plan(plan, store)
    assert second.stats.downloaded_files == 1
    assert store.objects.path(second.files["hello-1.0.tar.gz"]).read_bytes() == TARBALL


def test_a_file_next_to_the_spec_is_verified_against_its_entry(
        http_server, store, tmp_path: Path) -> None:
    plan = local_component(tmp_path, request(origin=http_server.url("/o/hello-1.0.tar.gz")))
    local = plan.local_spec.parent / "hello-1.0.tar.gz"
    local.write_bytes(TARBALL)
    fetched = fetch_plan(plan, store)
    assert http_server.requests == []  # the copy next to the spec is the declared file
    assert store.objects.path(fetched.files["hello-1.0.tar.gz"]).read_bytes() == TARBALL

    local.write_bytes(b"a different local file")
    with pytest.raises(FetchError, match="the copy next to the spec.*sha512 mismatch"):
        fetch_plan(plan, store)

    http_server.files["/o/hello-1.0.tar.gz"] = TARBALL
    replacing = local_component(tmp_path, request(origin=http_server.url("/o/hello-1.0.tar.gz"),
                                                  replace=True))
    fetched = fetch_plan(replacing, store)
    assert store.objects.path(fetched.files["hello-1.0.tar.gz"]).read_bytes() == TARBALL


def test_materialize_links_every_file(http_server, store, tmp_path: Path) -> None:
    http_server.files["/o/hello-1.0.tar.gz"] = TARBALL
    plan = local_component(tmp_path, request(origin=http_server.url("/o/hello-1.0.tar.gz")))
    (plan.local_spec.parent / "fix.patch").write_text("--- a\n+++ b\n")
    fetched = fetch_plan(plan, store)
    dest = materialize(fetched, store, tmp_path / "SOURCES")
    assert sorted(p.name for p in dest.iterdir()) == ["fix.patch", "hello-1.0.tar.gz",
                                                      "hello.spec"]
    assert (dest / "hello-1.0.tar.gz").read_bytes() == TARBALL
    assert (dest / "fix.patch").stat().st_ino == \
        store.objects.path(fetched.files["fix.patch"]).stat().st_ino
    materialize(fetched, store, dest)  # idempotent
