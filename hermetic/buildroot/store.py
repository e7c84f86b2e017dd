"""Buildroots in the store: ``<store>/buildroots/<digest>/`` trees, a name index and metadata.

```
store/buildroots/<digest>/          the tree (never modified once moved into place)
store/buildroots/names/<name>       one line: the digest that name currently means
store/buildroots/meta/<digest>.json how the tree was made (kind, suite, include, source)
```
A tree is digested in a staging directory under ``store/tmp`` and renamed into place, so a crash
never leaves a half-written tree under a digest; names and metadata are written temp + fsync +
rename.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hermetic.buildroot.digest import digest_tree
from hermetic.treewalk import force_rmtree
from hermetic.errors import ConfigError, StoreError

BuildrootKind = Literal["created", "image", "host"]
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Buildroot:
    """A buildroot a build can run on. ``path`` is None for the host provider."""

    name: str
    digest: str
    path: Path | None
    kind: BuildrootKind
    impure: bool = False


def buildroots_dir(store_root: Path) -> Path:
    return Path(store_root) / "buildroots"


def check_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise ConfigError(f"buildroot name {name!r} is not valid",
                          hint="use letters, digits, '.', '_', '+' and '-' (not leading)")
    return name


def staging_dir(store_root: Path, prefix: str) -> Path:
    tmp = Path(store_root) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=tmp))


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def set_name(store_root: Path, name: str, digest: str) -> None:
    """Point ``name`` at ``digest`` (atomic replace)."""
    check_name(name)
    _write_atomic(buildroots_dir(store_root) / "names" / name, f"{digest}\n".encode())


def read_meta(store_root: Path, digest: str) -> dict[str, Any]:
    path = buildroots_dir(store_root) / "meta" / f"{digest}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: unreadable buildroot metadata ({exc})") from exc


def _from_digest(store_root: Path, name: str, digest: str) -> Buildroot | None:
    tree = buildroots_dir(store_root) / digest
    if not tree.is_dir():
        return None
    meta = read_meta(store_root, digest)
    return Buildroot(name=name, digest=digest, path=tree, kind=meta.get("kind", "image"),
                     impure=False)


def lookup_digest(store_root: Path, name: str, digest: str) -> Buildroot | None:
    """The stored tree with ``digest`` (shown as ``name``), or None if the store lacks it."""
    if not _DIGEST_RE.match(digest):
        raise StoreError(f"{digest!r} is not a buildroot digest")
    return _from_digest(store_root, name, digest)


def lookup(store_root: Path, name: str) -> Buildroot | None:
    """The buildroot ``name`` points at, or None if the name or its tree is missing."""
    index = buildroots_dir(store_root) / "names" / check_name(name)
    try:
        digest = index.read_text().strip()
    except FileNotFoundError:
        return None
    if not _DIGEST_RE.match(digest):
        raise StoreError(f"{index}: does not hold a buildroot digest")
    return _from_digest(store_root, name, digest)


def list_buildroots(store_root: Path) -> list[Buildroot]:
    """Named buildroots first (by name), then trees no name points at (name "")."""
    base = buildroots_dir(store_root)
    found: list[Buildroot] = []
    named: set[str] = set()
    names_dir = base / "names"
    if names_dir.is_dir():
        for entry in sorted(names_dir.iterdir()):
            if entry.name.startswith("."):
                continue
            buildroot = lookup(store_root, entry.name)
            if buildroot is not None:
                found.append(buildroot)
                named.add(buildroot.digest)
    if base.is_dir():
        for entry in sorted(base.iterdir()):
            if _DIGEST_RE.match(entry.name) and entry.name not in named and entry.is_dir():
                unnamed = _from_digest(store_root, "", entry.name)
                if unnamed is not None:
                    found.append(unnamed)
    return found


def install_tree(store_root: Path, staging: Path, name: str, kind: BuildrootKind,
                 meta: dict[str, Any]) -> Buildroot:
    """Digest the staged tree, move it to ``buildroots/<digest>`` and point ``name`` at it.

    The staging directory is consumed: renamed into place, or removed when an identical tree
    is already stored.
    """
    check_name(name)
    digest = digest_tree(staging)
    base = buildroots_dir(store_root)
    base.mkdir(parents=True, exist_ok=True)
    final = base / digest
    if final.is_dir():
        force_rmtree(staging)
    else:
        try:
            os.rename(staging, final)
        except OSError as exc:
            if not final.is_dir():  # not the benign race with an identical import
                raise StoreError(f"cannot move buildroot into {final}: {exc.strerror}") from exc
            force_rmtree(staging)
    record = {"kind": kind, "digest": digest, **meta}
    _write_atomic(base / "meta" / f"{digest}.json",
                  json.dumps(record, indent=2, sort_keys=True).encode() + b"\n")
    set_name(store_root, name, digest)
    return Buildroot(name=name, digest=digest, path=final, kind=kind, impure=False)
