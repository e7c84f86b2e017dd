"""Upstream specs from a real git repository acting as dist-git, sources from a lookaside."""

from __future__ import annotations

import shutil

import pytest

from hermetic.errors import FetchError
from hermetic.fetch import fetch_plan
from hermetic.fetch.digests import DeclaredDigest
from hermetic.fetch.distgit import DistGitMirror
from hermetic.fetch.plan import FetchPlan, SourceFileRequest, UpstreamSpec

from .conftest import GitRepo, sha256, sha512

TARBALL = b"hello 2.12 sources\n" * 50
OLD_TARBALL = b"an md5-era tarball\n"
LOOKASIDE = "/repo/pkgs/$pkg/$filename/$hashtype/$hash/$filename"


def spec_text(version: str) -> str:
    return f"Name: hello\nVersion: {version}\nSource0: hello-{version}.tar.gz\n"


@pytest.fixture
def history(dist_git: GitRepo) -> dict[str, str]:
    """rawhide: jan → feb → (side branch mar-10 merged on mar-20) → apr; f40 forks at jan."""
    commits = {}
    commits["jan"] = dist_git.commit({"hello.spec": spec_text("2.10"), ".gitignore": "*.tar.gz\n",
                                      "tests/smoke.fmf": "summary: smoke\n"},
                                     "2.10", "2024-01-01T12:00:00Z")
    commits["feb"] = dist_git.commit({"hello.spec": spec_text("2.11"),
                                      "fix.patch": "--- a\n+++ b\n"}, "2.11",
                                     "2024-02-01T12:00:00Z")
    dist_git.git("checkout", "-q", "-b", "side")
    commits["side"] = dist_git.commit({"side.txt": "side\n"}, "side work",
                                      "2024-03-10T12:00:00Z")
    dist_git.git("checkout", "-q", "rawhide")
    dist_git.git("merge", "-q", "--no-ff", "-m", "merge side", "side",
                 date="2024-03-20T12:00:00Z")
    commits["merge"] = dist_git.git("rev-parse", "HEAD")
    commits["apr"] = dist_git.commit(
        {"hello.spec": spec_text("2.12"),
         "sources": f"SHA512 (hello-2.12.tar.gz) = {sha512(TARBALL)}\n"},
        "2.12", "2024-04-01T12:00:00Z")
    dist_git.git("branch", "f40", commits["jan"])
    dist_git.git("checkout", "-q", "f40")
    commits["f40"] = dist_git.commit({"hello.spec": spec_text("2.10.1")}, "f40 update",
                                     "2024-01-15T12:00:00Z")
    dist_git.git("checkout", "-q", "rawhide")
    return commits


def upstream_plan(repo: GitRepo, *, commit: str | None = None, snapshot: str | None = None,
                  branch: str | None = "rawhide", name: str = "hello",
                  lookaside: str | None = None,
                  source_files: tuple[SourceFileRequest, ...] = ()) -> FetchPlan:
    return FetchPlan(name, f"comps/{name}.comp.toml: components.{name}",
                     upstream=UpstreamSpec("hello", str(repo.path), branch, commit, snapshot),
                     lookaside_template=lookaside, lookaside_package="hello",
                     source_files=source_files)


def spec_of(store, fetched) -> str:
    return store.objects.path(fetched.files[fetched.spec_name]).read_text()


def test_pinned_commit_is_checked_out_exactly(dist_git, history, store) -> None:
    fetched = fetch_plan(upstream_plan(dist_git, commit=history["feb"]), store)
    assert fetched.upstream_commit == history["feb"]
    assert sorted(fetched.files) == ["fix.patch", "hello.spec"]  # no dot files, no subdirs
    assert "Version: 2.11" in spec_of(store, fetched)


def test_abbreviated_commit_resolves_to_the_full_id(dist_git, history, store) -> None:
    fetched = fetch_plan(upstream_plan(dist_git, commit=history["jan"][:10]), store)
    assert fetched.upstream_commit == history["jan"]


def test_missing_commit_is_a_clear_error(dist_git, history, store) -> None:
    missing = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(FetchError) as caught:
        fetch_plan(upstream_plan(dist_git, commit=missing), store)
    assert str(caught.value) == (f"comps/hello.comp.toml: components.hello.spec: upstream-commit "
                                 f"{missing} does not exist in {dist_git.path}")


@pytest.mark.parametrize("snapshot, expected", [
    ("2024-02-15T00:00:00Z", "feb"),
    # The side branch's commit (mar-10) is newer than feb but only reachable through the
    # merge's second parent: a first-parent walk never lands on it.
    ("2024-03-15T00:00:00+00:00", "feb"),
    ("2024-03-25T00:00:00", "merge"),   # no zone: UTC
    ("2024-04-01T12:00:00Z", "apr"),    # at the snapshot counts as before it
    ("2030-01-01T00:00:00Z", "apr"),
])
def test_snapshot_picks_the_last_first_parent_commit(dist_git, history, store, snapshot,
                                                     expected) -> None:
    resolved = DistGitMirror(store.root, str(dist_git.path)).resolve(
        branch="rawhide", commit=None, snapshot=snapshot, where="here")
    assert resolved.commit == history[expected]


def test_snapshot_on_another_branch(dist_git, history, store) -> None:
    fetched = fetch_plan(upstream_plan(dist_git, branch="f40", snapshot="2024-06-01T00:00:00Z"),
                         store)
    assert fetched.upstream_commit == history["f40"]
    assert "Version: 2.10.1" in spec_of(store, fetched)


def test_snapshot_before_the_first_commit(dist_git, history, store) -> None:
    with pytest.raises(FetchError, match="has no commit at or before snapshot 2023-01-01"):
        fetch_plan(upstream_plan(dist_git, snapshot="2023-01-01T00:00:00Z"), store)


def test_bad_snapshot_text(dist_git, history, store) -> None:
    with pytest.raises(FetchError, match="is not an ISO 8601 date-time"):
        fetch_plan(upstream_plan(dist_git, snapshot="last tuesday"), store)


def test_missing_branch(dist_git, history, store) -> None:
    with pytest.raises(FetchError, match="branch 'f99' does not exist in"):
        fetch_plan(upstream_plan(dist_git, branch="f99", snapshot="2024-06-01T00:00:00Z"), store)


def test_unreachable_dist_git(tmp_path, store) -> None:
    plan = FetchPlan("hello", "comps/hello.comp.toml: components.hello",
                     upstream=UpstreamSpec("hello", str(tmp_path / "nowhere.git"), "rawhide",
                                           None, None))
    with pytest.raises(FetchError, match="cannot fetch dist-git repository"):
        fetch_plan(plan, store)


def test_branch_tip_when_nothing_is_pinned(dist_git, history, store) -> None:
    fetched = fetch_plan(upstream_plan(dist_git, branch="f40"), store)
    assert fetched.upstream_commit == history["f40"]


def test_sources_file_entries_come_from_the_lookaside(dist_git, history, store,
                                                      http_server) -> None:
    path = (f"/repo/pkgs/hello/hello-2.12.tar.gz/sha512/{sha512(TARBALL)}/hello-2.12.tar.gz")
    http_server.files[path] = TARBALL
    fetched = fetch_plan(upstream_plan(dist_git, commit=history["apr"],
                                       lookaside=http_server.base + LOOKASIDE), store)
    assert http_server.requests == [path]
    assert sorted(fetched.files) == ["fix.patch", "hello-2.12.tar.gz", "hello.spec", "side.txt"]
    assert store.objects.path(fetched.files["hello-2.12.tar.gz"]).read_bytes() == TARBALL


def test_refetch_is_offline_even_without_the_server(dist_git, history, store,
                                                    http_server) -> None:
    path = (f"/repo/pkgs/hello/hello-2.12.tar.gz/sha512/{sha512(TARBALL)}/hello-2.12.tar.gz")
    http_server.files[path] = TARBALL
    pinned = upstream_plan(dist_git, commit=history["apr"], lookaside=http_server.base + LOOKASIDE)
    by_date = upstream_plan(dist_git, snapshot="2024-02-15T00:00:00Z")
    first, first_by_date = fetch_plan(pinned, store), fetch_plan(by_date, store)
    http_server.stop()
    shutil.rmtree(dist_git.path)  # dist-git gone too
    second, second_by_date = fetch_plan(pinned, store), fetch_plan(by_date, store)
    assert (second.files, second.upstream_commit) == (first.files, first.upstream_commit)
    assert second_by_date.upstream_commit == first_by_date.upstream_commit == history["feb"]
    assert second.stats.downloaded_files == 0


def test_upstream_name_differs_spec_is_renamed(dist_git, history, store) -> None:
    fetched = fetch_plan(upstream_plan(dist_git, commit=history["feb"], name="hello-azl"), store)
    assert fetched.spec_name == "hello-azl.spec"
    assert "hello.spec" not in fetched.files


def test_missing_spec_in_the_repository(dist_git, history, store) -> None:
    plan = FetchPlan("hello", "c.toml: components.hello",
                     upstream=UpstreamSpec("goodbye", str(dist_git.path), "rawhide",
                                           history["feb"], None))
    with pytest.raises(FetchError, match=r"has no goodbye.spec \(spec files found: hello.spec\)"):
        fetch_plan(plan, store)


@pytest.fixture
def md5_repo(dist_git: GitRepo) -> str:
    md5 = "0" * 32
    return dist_git.commit({"hello.spec": spec_text("1.0"),
                            "sources": f"{md5}  old-1.0.tar.gz\n"}, "old", "2024-01-01T00:00:00Z")


def test_md5_only_sources_entry_is_refused(dist_git, md5_repo, store) -> None:
    with pytest.raises(FetchError) as caught:
        fetch_plan(upstream_plan(dist_git, commit=md5_repo, lookaside="http://127.0.0.1:9" +
                                 LOOKASIDE), store)
    assert "/sources:1: hash type MD5 is not supported" in str(caught.value)
    assert "replace-upstream" in caught.value.hint


def replacement(data: bytes, origin: str, replace: bool) -> SourceFileRequest:
    return SourceFileRequest("old-1.0.tar.gz", DeclaredDigest("sha256", sha256(data)), origin,
                             replace, "comps/hello.comp.toml: components.hello.source-files[0]")


def test_source_files_replace_an_md5_entry(dist_git, md5_repo, store, http_server) -> None:
    http_server.files["/old-1.0.tar.gz"] = OLD_TARBALL
    plan = upstream_plan(dist_git, commit=md5_repo, source_files=(
        replacement(OLD_TARBALL, http_server.url("/old-1.0.tar.gz"), True),))
    fetched = fetch_plan(plan, store)
    assert store.objects.path(fetched.files["old-1.0.tar.gz"]).read_bytes() == OLD_TARBALL


def test_clash_with_upstream_sources_without_replace_upstream(dist_git, md5_repo, store,
                                                              http_server) -> None:
    plan = upstream_plan(dist_git, commit=md5_repo, source_files=(
        replacement(OLD_TARBALL, http_server.url("/old-1.0.tar.gz"), False),))
    with pytest.raises(FetchError, match=r"'old-1.0.tar.gz' is also listed, with another digest, "
                                         r"in the upstream sources file \(.*/sources:1\)"):
        fetch_plan(plan, store)
