"""End to end through the real loader and CLI: a project with a local and an upstream component,
the upstream one from the example's dist-git folder made into a git repository, its tarball
served by a lookaside on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from hermetic.cli import main
from hermetic.errors import ConfigError, FetchError
from hermetic.fetch import fetch_component, fetch_workspace, materialize
from hermetic.model import load_workspace

from .conftest import GitRepo, sha256

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "upstream"
PATCH = b"--- a/x\n+++ b/x\n"


@pytest.fixture
def project(tmp_path: Path, http_server) -> Path:
    root = tmp_path / "project"
    dist_git = GitRepo(tmp_path / "dist-git" / "hello-sh")
    shutil.copytree(EXAMPLE / "dist-git" / "hello-sh", dist_git.path, dirs_exist_ok=True)
    commit = dist_git.commit({}, "import", "2024-05-01T00:00:00Z")
    for tarball in (EXAMPLE / "lookaside").iterdir():
        http_server.files[f"/lookaside/{tarball.name}"] = tarball.read_bytes()
    http_server.files["/patches/extra.patch"] = PATCH

    (root / "comps" / "tool").mkdir(parents=True)
    (root / "comps" / "tool" / "tool.spec").write_text("Name: tool\nPatch0: extra.patch\n")
    (root / "comps" / "tool" / "tool.comp.toml").write_text(textwrap.dedent(f"""
        [components.tool]
        spec = {{ type = "local", path = "tool.spec" }}

        [[components.tool.source-files]]
        filename = "extra.patch"
        hash = "{sha256(PATCH)}"
        hash-type = "SHA256"
        origin = {{ type = "download", uri = "{http_server.url('/patches/extra.patch')}" }}
        """))
    (root / "comps" / "tool" / "notes.overlay.toml").write_text("overlays = []\n")
    (root / "hermetic.toml").write_text(textwrap.dedent(f"""
        includes = ["comps/**/*.comp.toml"]

        [distros.example]
        dist-git-base-uri = "file://{tmp_path}/dist-git/$pkg"
        lookaside-base-uri = "{http_server.base}/lookaside/$filename"

        [distros.example.versions.1]
        dist-git-branch = "rawhide"

        [components.hello-sh.spec]
        type = "upstream"
        upstream-distro = {{ name = "example", version = "1" }}
        upstream-commit = "{commit}"
        """))
    return root


def test_fetch_workspace_through_the_loader(project: Path, store, http_server,
                                            tmp_path: Path) -> None:
    workspace = load_workspace(project)
    fetched = fetch_workspace(workspace, store, jobs=2)
    assert list(fetched) == ["hello-sh", "tool"]
    hello, tool = fetched["hello-sh"], fetched["tool"]
    assert sorted(hello.files) == ["hello-sh-2.0.tar.gz", "hello-sh.spec"]
    assert hello.upstream_commit is not None and len(hello.upstream_commit) == 40
    assert sorted(tool.files) == ["extra.patch", "tool.spec"]  # no TOML files
    tarball = (EXAMPLE / "lookaside" / "hello-sh-2.0.tar.gz").read_bytes()
    out = materialize(hello, store, tmp_path / "SOURCES")
    assert (out / "hello-sh-2.0.tar.gz").read_bytes() == tarball

    http_server.stop()
    shutil.rmtree(tmp_path / "dist-git")
    again = fetch_workspace(workspace, store, names=["tool", "hello-sh"])
    assert {n: f.files for n, f in again.items()} == {n: f.files for n, f in fetched.items()}
    assert all(f.stats.downloaded_files == 0 for f in again.values())


def test_one_component_by_name_and_unknown_names(project: Path, store) -> None:
    workspace = load_workspace(project)
    assert list(fetch_workspace(workspace, store, names=["tool"])) == ["tool"]
    with pytest.raises(ConfigError, match="no component named 'nope'"):
        fetch_workspace(workspace, store, names=["nope"])


def test_failures_surface_in_name_order(project: Path, store, http_server) -> None:
    http_server.files.clear()  # both components now miss a file
    with pytest.raises(FetchError) as caught:
        fetch_workspace(load_workspace(project), store, jobs=2)
    assert "components.hello-sh" in str(caught.value)
    assert "hello-sh-2.0.tar.gz" in str(caught.value)


def test_tampered_lookaside_through_a_component(project: Path, store, http_server) -> None:
    http_server.files["/lookaside/hello-sh-2.0.tar.gz"] = b"evil"
    component = load_workspace(project).components["hello-sh"]
    with pytest.raises(FetchError, match="sha512 mismatch: expected 7f0cacd2"):
        fetch_component(component, store)


def test_cli_fetch_json_and_text(project: Path, tmp_path: Path, capsys) -> None:
    store_dir = tmp_path / "cli-store"
    assert main(["--store", str(store_dir), "fetch", str(project), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [item["name"] for item in listing] == ["hello-sh", "tool"]
    assert listing[1]["downloaded_files"] == 1
    assert main(["fetch", str(project), "tool", "--store", str(store_dir)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("tool  2 files  fetched 0 (0 B), reused 1 (")


def test_cli_fetch_error_is_one_line_with_exit_3(project: Path, tmp_path: Path, http_server,
                                                 capsys) -> None:
    http_server.files.pop("/patches/extra.patch")
    code = main(["fetch", str(project), "tool", "--store", str(tmp_path / "s")])
    assert code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("hermetic: error: ")
    assert "components.tool.source-files[0]: cannot fetch extra.patch" in err[0]
    assert "HTTP 404" in err[0]
