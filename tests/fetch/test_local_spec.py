"""Local specs: the spec's directory is the input set; a sources file next to it works too."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermetic.errors import FetchError
from hermetic.fetch import fetch_plan
from hermetic.fetch.plan import FetchPlan
from hermetic.hashing import StatCache

from .conftest import sha512

TARBALL = b"local fork tarball\n" * 10


def plan_for_dir(directory: Path, lookaside: str | None = None,
                 toml: str = "components.toml") -> FetchPlan:
    return FetchPlan("hello", "hello.comp.toml: components.hello",
                     local_spec=directory / "hello.spec", lookaside_template=lookaside,
                     lookaside_package="hello",
                     ignored_local_files=frozenset({(directory / toml).resolve()}))


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "hello"
    (directory / "subdir").mkdir(parents=True)
    files = {"hello.spec": "Name: hello\n", "fix.patch": "--- a\n", "hello.comp.toml": "",
             "extra.overlay.toml": "", "hermetic.toml": "", ".hello.spec.swp": "x",
             "subdir/nested.txt": "not an input", "components.toml": ""}
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_only_regular_files_next_to_the_spec(spec_dir: Path, store) -> None:
    fetched = fetch_plan(plan_for_dir(spec_dir), store)
    assert sorted(fetched.files) == ["fix.patch", "hello.spec"]
    assert fetched.stats.local_files == 2


def test_missing_spec(tmp_path: Path, store) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FetchError, match=r"components.hello.spec.path: spec file .* does not exist"):
        fetch_plan(plan_for_dir(tmp_path / "empty"), store)


def test_stat_cache_avoids_rereading_unchanged_files(spec_dir: Path, store) -> None:
    cache = StatCache(store.root / "stat.sqlite", racy_window_ns=0)
    fetch_plan(plan_for_dir(spec_dir), store, stat_cache=cache)
    misses = cache.misses
    fetch_plan(plan_for_dir(spec_dir), store, stat_cache=cache)
    assert cache.misses == misses and cache.hits >= 2


def test_sources_file_next_to_a_local_spec_uses_the_lookaside(spec_dir: Path, store,
                                                              http_server) -> None:
    (spec_dir / "sources").write_text(f"SHA512 (hello-1.0.tar.gz) = {sha512(TARBALL)}\n")
    http_server.files["/la/hello-1.0.tar.gz"] = TARBALL
    fetched = fetch_plan(plan_for_dir(spec_dir, http_server.base + "/la/$filename"), store)
    assert sorted(fetched.files) == ["fix.patch", "hello-1.0.tar.gz", "hello.spec"]
    assert "sources" not in fetched.files


def test_a_tarball_already_next_to_the_spec_is_verified_not_downloaded(spec_dir: Path, store,
                                                                       http_server) -> None:
    (spec_dir / "sources").write_text(f"SHA512 (hello-1.0.tar.gz) = {sha512(TARBALL)}\n")
    (spec_dir / "hello-1.0.tar.gz").write_bytes(TARBALL)
    fetched = fetch_plan(plan_for_dir(spec_dir, http_server.base + "/la/$filename"), store)
    assert http_server.requests == []
    assert store.objects.path(fetched.files["hello-1.0.tar.gz"]).read_bytes() == TARBALL


def test_a_different_tarball_next_to_the_spec_is_a_mismatch(spec_dir: Path, store) -> None:
    (spec_dir / "sources").write_text(f"SHA512 (hello-1.0.tar.gz) = {sha512(TARBALL)}\n")
    (spec_dir / "hello-1.0.tar.gz").write_bytes(b"edited by hand")
    with pytest.raises(FetchError) as caught:
        fetch_plan(plan_for_dir(spec_dir), store)
    assert f"expected {sha512(TARBALL)}, got {sha512(b'edited by hand')}" in str(caught.value)
    assert "hello.comp.toml: components.hello: " in str(caught.value)
