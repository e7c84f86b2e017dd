"""Buildroots through the team cache: one deterministic tarball object plus a small record.

``buildroots/<tree digest>.entry`` holds ``{format, digest, tarball, size, meta}``: the tree's
content digest (``hermetic.buildroot.digest_tree``), the blake3 of the tarball object and how
the tree was made. A pulled tree is unpacked in staging and digested again; only a tree whose
digest equals the one asked for is installed, so no signature is needed: the digest is the trust.
The tarball is deterministic (sorted names, owner 0, mtime 0, hard links as files) so two pushes
of one tree upload the same object.
"""

from __future__ import annotations

import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermetic.treewalk import walk_sorted
from hermetic.canonical import canonical, decode
from hermetic.errors import StoreError
from hermetic.remote.errors import IntegrityError
from hermetic.remote.protocol import Remote, hash_path
from hermetic.store.fsutil import check_digest

RECORD_FORMAT = 1
# Metadata that describes the source on the pushing machine only; never travels.
_LOCAL_META = ("source", "source_size", "source_mtime_ns")


@dataclass(frozen=True)
class BuildrootRecord:
    digest: str
    tarball: str
    size: int
    meta: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        return canonical({"format": RECORD_FORMAT, "digest": self.digest,
                          "tarball": self.tarball, "size": self.size, "meta": self.meta})

    @classmethod
    def decode(cls, data: bytes, where: str = "buildroot record") -> "BuildrootRecord":
        try:
            raw = decode(data)
            if not isinstance(raw, dict) or raw.get("format") != RECORD_FORMAT:
                raise ValueError("not a buildroot record of a known format")
            record = cls(check_digest(raw["digest"], "buildroot digest"),
                         check_digest(raw["tarball"], "tarball digest"),
                         int(raw["size"]), dict(raw.get("meta") or {}))
        except StoreError as exc:
            raise StoreError(f"{where}: {exc.message}") from None
        except Exception as exc:
            raise StoreError(f"{where}: damaged buildroot record ({exc})") from None
        return record


def pack_tree(tree: Path, dest: Path) -> None:
    """Write ``tree`` as an uncompressed, deterministic tarball at ``dest``."""
    tree = Path(tree)
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as archive:
        for relative, absolute, info in walk_sorted(tree):
            member = tarfile.TarInfo(relative)
            member.mode = stat.S_IMODE(info.st_mode)
            member.mtime = 0
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            if stat.S_ISDIR(info.st_mode):
                member.type = tarfile.DIRTYPE
                archive.addfile(member)
            elif stat.S_ISLNK(info.st_mode):
                member.type = tarfile.SYMTYPE
                member.linkname = os.readlink(absolute)
                archive.addfile(member)
            elif stat.S_ISREG(info.st_mode):
                member.type = tarfile.REGTYPE
                member.size = info.st_size
                with open(absolute, "rb") as handle:
                    archive.addfile(member, handle)
            elif stat.S_ISFIFO(info.st_mode):
                member.type = tarfile.FIFOTYPE
                archive.addfile(member)
            # Devices and sockets: imports skip them, so stored trees hold none.


def push_buildroot(store_root: Path, digest: str, remotes: list[Remote],
                   name: str | None = None) -> BuildrootRecord:
    """Upload the stored tree ``buildroots/<digest>`` to every remote (tarball, then record).

    ``name`` (the local name of the tree) travels in the record as the default name to pull as.
    """
    from hermetic.buildroot.store import read_meta

    check_digest(digest, "buildroot digest")
    tree = Path(store_root) / "buildroots" / digest
    if not tree.is_dir():
        raise StoreError(f"buildroot {digest[:16]}… is not in the store {store_root}",
                         hint="`hermetic buildroot list` shows the stored buildroots")
    tmp = Path(store_root) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    tarball = tmp / f"buildroot-{digest[:16]}.{os.getpid()}.tar"
    try:
        pack_tree(tree, tarball)
        tarball_digest, size = hash_path(tarball)
        meta = {k: v for k, v in read_meta(Path(store_root), digest).items()
                if k not in _LOCAL_META}
        if name:
            meta["name"] = name
        record = BuildrootRecord(digest, tarball_digest, size, meta)
        for remote in remotes:
            if remote.missing([tarball_digest]):
                remote.put_object(tarball_digest, tarball)
            remote.put_buildroot_entry(digest, record.encode())
        return record
    finally:
        try:
            tarball.unlink()
        except FileNotFoundError:
            pass


def pull_buildroot(store_root: Path, digest: str, remote: Remote, name: str | None = None):
    """Install buildroot ``digest`` from ``remote`` as ``name``; None when the remote lacks it.

    Raises IntegrityError when the unpacked tree does not digest to ``digest``.
    """
    from hermetic.buildroot import digest_tree
    from hermetic.buildroot.store import install_tree, lookup, staging_dir
    from hermetic.buildroot.unpack import unpack_tarball
    from hermetic.treewalk import force_rmtree

    check_digest(digest, "buildroot digest")
    data = remote.get_buildroot_entry(digest)
    if data is None:
        return None
    record = BuildrootRecord.decode(data, where=f"{remote.url}: buildroot {digest[:16]}…")
    if record.digest != digest:
        raise IntegrityError(f"{remote.url}: the record for buildroot {digest[:16]}… describes "
                             f"{record.digest[:16]}…")
    name = name or str(record.meta.get("name") or f"pulled-{digest[:12]}")
    existing = lookup(Path(store_root), name)
    if existing is not None and existing.digest == digest:
        return existing
    staging = staging_dir(Path(store_root), "pull-buildroot-")
    try:
        tarball = staging / "tree.tar"
        size = remote.get_object(record.tarball, tarball)
        if size != record.size:
            raise IntegrityError(f"{remote.url}: buildroot tarball has {size} bytes, "
                                 f"its record says {record.size}")
        tree = staging / "tree"
        tree.mkdir()
        unpack_tarball(tarball, tree)
        tarball.unlink()
        actual = digest_tree(tree)
        if actual != digest:
            raise IntegrityError(f"{remote.url}: buildroot {digest[:16]}… unpacks to a tree "
                                 f"digesting {actual[:16]}…")
        kind = record.meta.get("kind") if record.meta.get("kind") in ("created", "image") \
            else "image"
        meta = {k: v for k, v in record.meta.items() if k not in ("kind", "digest")}
        meta["pulled_from"] = remote.url
        return install_tree(Path(store_root), tree, name, kind, meta)
    finally:
        force_rmtree(staging)
