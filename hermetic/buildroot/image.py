"""The ``image`` provider: import a root filesystem from a directory or a tarball."""

from __future__ import annotations

import os
from pathlib import Path

from hermetic.buildroot.store import Buildroot, check_name, install_tree, staging_dir
from hermetic.buildroot.unpack import copy_directory, is_tarball, unpack_tarball
from hermetic.treewalk import force_rmtree
from hermetic.errors import ConfigError


def source_fingerprint(path: Path) -> dict[str, int | str]:
    """Cheap identity of an import source, so an unchanged image is not re-imported."""
    info = os.stat(path)
    return {"source": os.fspath(path.resolve()), "source_size": info.st_size,
            "source_mtime_ns": info.st_mtime_ns}


def import_tree(store_root: Path, path: Path, name: str) -> Buildroot:
    """Import ``path`` (a directory, or a .tar/.tar.gz/.tar.xz/.tar.zst) as buildroot ``name``.

    Ownership is squashed to the invoking user, device nodes are skipped, setuid/setgid bits
    dropped; the tree is digested and moved into the store atomically.
    """
    check_name(name)
    path = Path(path)
    if path.is_dir():
        unpack = copy_directory
    elif is_tarball(path):
        unpack = unpack_tarball
    elif path.exists():
        raise ConfigError(f"{path}: not a directory or a tarball (.tar, .tar.gz, .tar.xz, "
                          f".tar.zst)")
    else:
        raise ConfigError(f"{path}: no such file or directory")
    staging = staging_dir(store_root, "import-")
    try:
        tree = staging / "tree"
        tree.mkdir()
        skipped = unpack(path, tree)
        return install_tree(store_root, tree, name, "image",
                            {**source_fingerprint(path), "skipped_devices": skipped})
    finally:
        force_rmtree(staging)
