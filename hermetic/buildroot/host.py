"""The ``host`` provider: the machine's own /usr, /etc, ... bound read-only (dev only, impure).

Its digest is taken from the installed package list (``dpkg-query -W`` with versions) rather than
from the files, so it changes when packages change but cannot see local edits: entries built on it
are marked impure.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

from hermetic.buildroot.store import Buildroot
from hermetic.canonical import digest as canonical_digest
from hermetic.errors import ConfigError

# Host directories a build may read. Symlinks among them (merged /usr) are resolved by the caller.
HOST_SYSTEM_DIRS: tuple[str, ...] = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32",
                                     "/libx32", "/opt", "/var/lib/rpm")


def installed_packages() -> list[str]:
    """``name:arch=version`` for every installed Debian package, sorted."""
    if shutil.which("dpkg-query") is None:
        raise ConfigError("the host buildroot needs dpkg-query to describe the installed "
                          "packages", hint="use an image or created buildroot on this system")
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}|${Package}:${Architecture}=${Version}\n"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise ConfigError(f"dpkg-query failed: {proc.stderr.strip()}")
    packages = [line.split("|", 1)[1] for line in proc.stdout.splitlines()
                if line.startswith("ii") and "|" in line]
    return sorted(packages)


def host_buildroot() -> Buildroot:
    digest = canonical_digest({"kind": "host", "machine": platform.machine(),
                               "packages": installed_packages()})
    return Buildroot(name="host", digest=digest, path=None, kind="host", impure=True)


def host_binds() -> list[tuple[str, str]]:
    """(source, target) pairs of host system directories to bind read-only.

    A top-level symlink such as ``/bin -> usr/bin`` is returned with its resolved source, so the
    sandbox sees the same files at the same path.
    """
    binds: list[tuple[str, str]] = []
    for directory in HOST_SYSTEM_DIRS:
        if not os.path.exists(directory):
            continue
        binds.append((os.path.realpath(directory), directory))
    return binds
