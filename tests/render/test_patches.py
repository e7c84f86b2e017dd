"""patch-add and patch-remove: PatchN numbering, %patchlist, files copied and removed."""

from __future__ import annotations

import pytest

from hermetic.errors import ConfigError
from hermetic.render.filetree import MemoryTree

from .conftest import render

PATCHLIST_SPEC = """Name:           tool
Version:        1
Release:        1
Summary:        t
License:        MIT
Source:         tool-1.tar.gz

%description
t

%patchlist
0001-first.patch
0002-second.patch

%prep
%autosetup -p1
"""


@pytest.fixture
def patch_dir(tmp_path):
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches" / "fix-flags.patch").write_text("--- a/x\n+++ b/x\n")
    return tmp_path


def tree_with(*names):
    tree = MemoryTree()
    for name in names:
        tree.add_file(name, f"patch {name}\n".encode())
    return tree


def test_patch_add_next_number(widget_spec, patch_dir):
    out, tree = render(widget_spec, {"type": "patch-add", "source": "patches/fix-flags.patch"},
                       base_dir=patch_dir)
    assert "Patch2:         fix-flags.patch\n" in out
    assert tree.read("fix-flags.patch") == b"--- a/x\n+++ b/x\n"


def test_patch_add_renamed_file(widget_spec, patch_dir):
    out, tree = render(widget_spec, {"type": "patch-add", "source": "patches/fix-flags.patch",
                                     "file": "9000-azl-flags.patch"}, base_dir=patch_dir)
    assert "Patch2:         9000-azl-flags.patch\n" in out
    assert tree.list() == ["9000-azl-flags.patch"]


def test_patch_add_counts_unnumbered_patches(patch_dir):
    spec = "Name: a\nPatch: one.patch\nPatch: two.patch\n"
    out, _ = render(spec, {"type": "patch-add", "source": "patches/fix-flags.patch"}, base_dir=patch_dir)
    assert out.endswith("Patch2: fix-flags.patch\n")


def test_patch_add_first_patch_is_zero(patch_dir):
    out, _ = render("Name: a\n", {"type": "patch-add", "source": "patches/fix-flags.patch"},
                    base_dir=patch_dir)
    assert out == "Name: a\nPatch0: fix-flags.patch\n"


def test_patch_add_uses_patchlist(patch_dir):
    out, _ = render(PATCHLIST_SPEC, {"type": "patch-add", "source": "patches/fix-flags.patch"},
                    base_dir=patch_dir)
    assert "0002-second.patch\nfix-flags.patch\n\n%prep" in out
    assert "Patch0" not in out


def test_patch_add_errors(widget_spec, patch_dir):
    with pytest.raises(ConfigError, match=r"source patches/missing.patch not found"):
        render(widget_spec, {"type": "patch-add", "source": "patches/missing.patch"}, base_dir=patch_dir)
    with pytest.raises(ConfigError, match="patch fix-flags.patch already exists"):
        render(widget_spec, {"type": "patch-add", "source": "patches/fix-flags.patch"},
               base_dir=patch_dir, tree=tree_with("fix-flags.patch"))


def test_patch_remove_tag_and_file(widget_spec):
    tree = tree_with("0001-fix-gcc14.patch", "0002-cve-2024-0001.patch", "libwidget.conf")
    out, tree = render(widget_spec, {"type": "patch-remove", "file": "0001-*.patch"}, tree=tree)
    assert "Patch0" not in out and "Patch1:" in out
    assert tree.list() == ["0002-cve-2024-0001.patch", "libwidget.conf"]


def test_patch_remove_matches_url_basename(widget_spec):
    tree = tree_with("0002-cve-2024-0001.patch")
    out, tree = render(widget_spec, {"type": "patch-remove", "file": "*cve-2024-0001.patch"}, tree=tree)
    assert "Patch1" not in out
    assert tree.list() == []


def test_patch_remove_from_patchlist():
    tree = tree_with("0001-first.patch", "0002-second.patch")
    out, tree = render(PATCHLIST_SPEC, {"type": "patch-remove", "file": "0002-*"}, tree=tree)
    assert "%patchlist\n0001-first.patch\n\n%prep" in out
    assert tree.list() == ["0001-first.patch"]


def test_patch_remove_errors(widget_spec):
    with pytest.raises(ConfigError, match=r"no Patch tag or %patchlist entry matches 'CVE-\*'"):
        render(widget_spec, {"type": "patch-remove", "file": "CVE-*"}, tree=tree_with("x"))
    with pytest.raises(ConfigError, match=r"no file matches '0001-\*'"):
        render(widget_spec, {"type": "patch-remove", "file": "0001-*"}, tree=tree_with("other"))
