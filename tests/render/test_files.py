"""file-* overlays on loose files: globs, errors, and both FileTree implementations."""

from __future__ import annotations

import pytest

from hermetic.errors import ConfigError
from hermetic.render.filetree import DirectoryTree, MemoryTree

from .conftest import render

SPEC = "Name: a\n"


def make_tree(kind, tmp_path):
    files = {"a.conf": b"x = 1\n", "sub/b.conf": b"x = 2\n", "README": b"hello\n"}
    if kind == "memory":
        tree = MemoryTree()
        for name, data in files.items():
            tree.add_file(name, data)
        return tree
    root = tmp_path / "src"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return DirectoryTree(root)


@pytest.fixture(params=["memory", "directory"])
def tree(request, tmp_path):
    return make_tree(request.param, tmp_path)


def test_prepend_lines_to_globbed_files(tree):
    render(SPEC, {"type": "file-prepend-lines", "file": "**/*.conf", "lines": ["# azl", "y = 0"]}, tree=tree)
    assert tree.read("a.conf") == b"# azl\ny = 0\nx = 1\n"
    assert tree.read("sub/b.conf") == b"# azl\ny = 0\nx = 2\n"
    assert tree.read("README") == b"hello\n"


def test_search_replace_needs_one_changed_file(tree):
    render(SPEC, {"type": "file-search-replace", "file": "*.conf", "regex": r"x = \d", "replacement": "x = 9"},
           tree=tree)
    assert tree.read("a.conf") == b"x = 9\n"
    assert tree.read("sub/b.conf") == b"x = 2\n"  # '*' does not cross '/'
    with pytest.raises(ConfigError, match=r"regex 'nomatch' matched nothing in files matching '\*\*'"):
        render(SPEC, {"type": "file-search-replace", "file": "**", "regex": "nomatch"}, tree=tree)


def test_add_remove_rename(tree, tmp_path):
    (tmp_path / "extra.conf").write_text("new\n")
    render(SPEC, {"type": "file-add", "file": "sub/extra.conf", "source": "extra.conf"},
           {"type": "file-remove", "file": "README"},
           {"type": "file-rename", "file": "sub/b.conf", "replacement": "c.conf"},
           tree=tree, base_dir=tmp_path)
    assert tree.list() == ["a.conf", "sub/c.conf", "sub/extra.conf"]
    assert tree.read("sub/extra.conf") == b"new\n"


@pytest.mark.parametrize("fields, message", [
    ({"type": "file-add", "file": "a.conf", "source": "x"}, "a.conf already exists"),
    ({"type": "file-add", "file": "b.spec", "source": "x"}, "b.spec is a spec"),
    ({"type": "file-add", "file": "new", "source": "missing"}, "source missing not found"),
    ({"type": "file-remove", "file": "nothing*"}, r"no file matches 'nothing\*'"),
    ({"type": "file-prepend-lines", "file": "nope", "lines": ["x"]}, "no file matches 'nope'"),
    ({"type": "file-rename", "file": "**/*.conf", "replacement": "z"}, "matches 2 files"),
    ({"type": "file-rename", "file": "a.conf", "replacement": "README"}, "README already exists"),
])
def test_file_overlay_errors(tree, tmp_path, fields, message):
    with pytest.raises(ConfigError, match=message) as error:
        render(SPEC, dict(fields, description="d"), tree=tree, base_dir=tmp_path)
    assert str(error.value).startswith("component libwidget: overlay 0 (")


def test_directory_tree_confines_names(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    tree = DirectoryTree(root)
    from hermetic.render.filetree import FileTreeError
    with pytest.raises(FileTreeError):
        tree.write("../escape", b"x")
    with pytest.raises(FileTreeError):
        tree.write("link/escape", b"x")
    assert not (tmp_path / "escape").exists()
