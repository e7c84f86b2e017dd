import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hermetic.treewalk import force_rmtree, walk_sorted

REPO = Path(__file__).resolve().parents[2]


def test_walk_is_sorted_parents_first_and_does_not_follow_symlinks(tmp_path):
    (tmp_path / "b" / "inner").mkdir(parents=True)
    (tmp_path / "a").write_text("x")
    (tmp_path / "b" / "inner" / "f").write_text("y")
    (tmp_path / "link").symlink_to("b")
    assert [rel for rel, _, _ in walk_sorted(tmp_path)] == ["a", "b", "link", "b/inner",
                                                            "b/inner/f"]


def _tree_with_locked_dirs(root: Path) -> None:
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "b" / "c" / "f").write_text("x")
    (root / "a" / "x").write_text("y")
    os.chmod(root / "a" / "b", 0)       # unreadable
    os.chmod(root / "a", 0o555)         # read-only


def test_force_rmtree_removes_read_only_and_unreadable_directories(tmp_path):
    target = tmp_path / "tree"
    _tree_with_locked_dirs(target)
    force_rmtree(target)
    assert not target.exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to run the check as nobody")
def test_force_rmtree_as_an_ordinary_user(tmp_path):
    """Root reads unreadable directories anyway; an ordinary user is where they bite."""
    system_python = "/usr/bin/python3"
    if not os.access(system_python, os.X_OK):
        pytest.skip("no system python3 for the unprivileged run")
    base = Path("/tmp") / f"hermetic-rmtree-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(mode=0o755)
    try:
        target = base / "tree"
        _tree_with_locked_dirs(target)
        # The module needs only the standard library: copy it where nobody can read it (the
        # checkout itself may sit under a directory nobody cannot enter).
        shutil.copy(REPO / "hermetic" / "treewalk.py", base / "treewalk.py")
        subprocess.run(["chown", "-R", "65534:65534", str(base)], check=True)
        code = (f"import sys; sys.path.insert(0, {str(base)!r}); "
                f"from treewalk import force_rmtree; force_rmtree({str(target)!r})")
        result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 system_python, "-c", code], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert not target.exists()
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)
