import pytest

from hermetic import fastpath
from hermetic.store import Store
from tests.workspaces import age

KEY = "a" * 64


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "ws"
    (root / "components/lib").mkdir(parents=True)
    (root / "hermetic.toml").write_text("includes = []\n")
    (root / "components/lib/lib.spec").write_text("Name: lib\n")
    store = Store(tmp_path / "store")
    age(root)
    return root, store


def remember(root, store, buildroot="br"):
    return fastpath.record(store, root, [], roots=[root], files=[root / "hermetic.toml"],
                           skip=[store.root], buildroot_name=buildroot,
                           components=[("lib", KEY)])


def test_unchanged_inputs_hit(tree):
    root, store = tree
    assert remember(root, store)
    assert fastpath.lookup(store, root, []).components == [("lib", KEY)]
    assert fastpath.lookup(store, root, ["lib"]) is None  # another request


def test_same_size_edit_misses(tree):
    root, store = tree
    assert remember(root, store)
    spec = root / "components/lib/lib.spec"
    spec.write_text("Name: lix\n")
    age(root, 30)
    assert fastpath.lookup(store, root, []) is None


def test_new_file_in_a_subdirectory_misses(tree):
    root, store = tree
    assert remember(root, store)
    (root / "components/lib/extra.patch").write_text("x")
    assert fastpath.lookup(store, root, []) is None


def test_store_and_out_are_not_inputs(tree):
    root, store = tree
    store_inside = Store(root / "store")
    assert remember(root, store_inside)
    (root / "store" / "objects").mkdir(parents=True, exist_ok=True)
    (root / "out").mkdir()
    (root / "out" / "x.rpm").write_text("x")
    assert fastpath.lookup(store_inside, root, []) is not None


def test_fresh_files_are_not_recorded(tree):
    root, store = tree
    (root / "components/lib/lib.spec").write_text("Name: lib\n")  # mtime: now
    assert not remember(root, store)
    assert fastpath.lookup(store, root, []) is None


def test_buildroot_rebinding_misses(tree):
    root, store = tree
    names = store.root / "buildroots/names"
    names.mkdir(parents=True)
    (names / "br").write_text("1" * 64 + "\n")
    assert remember(root, store)
    assert fastpath.lookup(store, root, []) is not None
    (names / "br").write_text("2" * 64 + "\n")
    assert fastpath.lookup(store, root, []) is None
