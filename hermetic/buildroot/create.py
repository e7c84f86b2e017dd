"""The ``created`` provider: build an rpm buildroot from Debian packages with mmdebstrap.

mmdebstrap writes a tarball (``--mode=root`` as root, ``--mode=unshare`` otherwise, which needs
subordinate ids in /etc/subuid); the tarball is then unpacked exactly like an imported image, so a
created tree is owned by the invoking user whatever mode made it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

from hermetic.buildroot.store import Buildroot, check_name, install_tree, staging_dir
from hermetic.buildroot.unpack import unpack_tarball
from hermetic.treewalk import force_rmtree
from hermetic.errors import ConfigError, FetchError
from hermetic.buildset import RPM_BUILD_SET


def mmdebstrap_command(suite: str, include: Sequence[str], output: Path,
                       mirror: str | None = None, as_root: bool | None = None) -> list[str]:
    as_root = os.geteuid() == 0 if as_root is None else as_root
    packages = sorted(set(include))
    command = ["mmdebstrap", "--variant=minbase", f"--mode={'root' if as_root else 'unshare'}",
               "--format=tar", "--quiet"]
    if packages:
        command.append("--include=" + ",".join(packages))
    command += [suite, os.fspath(output)]
    if mirror:
        command.append(mirror)
    return command


def create(store_root: Path, name: str, suite: str, include: Sequence[str] = RPM_BUILD_SET,
           mirror: str | None = None) -> Buildroot:
    """Create buildroot ``name`` from Debian ``suite`` plus ``include`` (needs network)."""
    check_name(name)
    if not suite or not all(c.isalnum() or c in "-_." for c in suite):
        raise ConfigError(f"buildroot {name}: debian suite {suite!r} is not valid")
    bad = [package for package in include if not package or "," in package or " " in package]
    if bad:
        raise ConfigError(f"buildroot {name}: include entry {bad[0]!r} is not a package name")
    if shutil.which("mmdebstrap") is None:
        raise ConfigError("creating a buildroot needs mmdebstrap, which is not installed",
                          hint="apt-get install mmdebstrap (and uidmap when not root)")
    staging = staging_dir(store_root, "create-")
    try:
        tarball = staging / "root.tar"
        command = mmdebstrap_command(suite, include, tarball, mirror)
        proc = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
            raise FetchError(f"mmdebstrap failed for buildroot {name} (exit {proc.returncode}): "
                             f"{tail.splitlines()[-1] if tail else 'no output'}",
                             hint=f"command: {' '.join(command)}\n{tail}")
        tree = staging / "tree"
        tree.mkdir()
        skipped = unpack_tarball(tarball, tree)
        tarball.unlink()
        return install_tree(store_root, tree, name, "created",
                            {"suite": suite, "include": sorted(set(include)),
                             "mirror": mirror or "", "skipped_devices": skipped})
    finally:
        force_rmtree(staging)
