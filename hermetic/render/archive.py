"""Unpack a source archive into a ``MemoryTree`` and repack it deterministically.

Repacking writes the same bytes for the same tree on every machine run, whatever the umask,
time zone or file order: entries sorted by name, every parent directory present, mtime fixed at
``ARCHIVE_MTIME``, uid/gid 0, empty user and group names, GNU tar format, permission bits kept
from the original members. Compression follows the original (sniffed from the magic bytes, else
the name): gzip with header mtime 0 and no file name, xz (preset 6, CRC64), bzip2 (level 9), zstd
via the ``zstd`` binary with pinned flags, or a plain tar.

Why the ``zstd`` binary and not the ``zstandard`` wheel: the binary is already a Debian dependency of
this project (rpm payloads), it needs no compiled PyPI package, and its output is pinned by the
flags below. A different zstd (or zlib) version could in principle compress differently; the
post-overlay hash recorded in ``source-files`` then catches it, naming both hashes.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import posixpath
import shutil
import subprocess
import tarfile
from dataclasses import dataclass

from hermetic.render.filetree import Entry, FileTreeError, MemoryTree, check_name

# 2001-09-09T01:46:40Z: fixed, and far enough from 0 that tar does not warn about the epoch.
# One uniform mtime also keeps make/autotools from deciding that generated files are stale.
ARCHIVE_MTIME = 1_000_000_000

ZSTD_FLAGS = ("-q", "-c", "-3", "-T1", "--no-progress")

_SUFFIXES = (
    (".tar.gz", "gz"), (".tgz", "gz"), (".tar.xz", "xz"), (".txz", "xz"),
    (".tar.bz2", "bz2"), (".tbz2", "bz2"), (".tbz", "bz2"), (".tar.zst", "zst"),
    (".tzst", "zst"), (".tar", "tar"),
)
_MAGIC = ((b"\x1f\x8b", "gz"), (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bz2"), (b"\x28\xb5\x2f\xfd", "zst"))


class ArchiveError(Exception):
    """An archive that cannot be edited: unknown format, unsupported member, unsafe path."""


def compression_of(name: str, data: bytes) -> str:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    for suffix, kind in _SUFFIXES:
        if name.endswith(suffix):
            if kind != "tar":
                raise ArchiveError(f"{name} does not start with {kind} magic bytes")
            return kind
    raise ArchiveError(f"{name} is not a tar archive (.tar, .tar.gz, .tar.xz, .tar.bz2, .tar.zst)")


def _zstd(args: tuple[str, ...], data: bytes) -> bytes:
    binary = shutil.which("zstd")
    if binary is None:
        raise ArchiveError("the zstd program is needed for .tar.zst archives (apt-get install zstd)")
    result = subprocess.run([binary, *args], input=data, capture_output=True, check=False)
    if result.returncode != 0:
        raise ArchiveError(f"zstd failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def decompress(kind: str, data: bytes) -> bytes:
    try:
        if kind == "gz":
            return gzip.decompress(data)
        if kind == "xz":
            return lzma.decompress(data)
        if kind == "bz2":
            return bz2.decompress(data)
        if kind == "zst":
            return _zstd(("-d", "-q", "-c"), data)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise ArchiveError(f"cannot decompress ({kind}): {exc}") from None
    return data


def compress(kind: str, data: bytes) -> bytes:
    if kind == "gz":
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as out:
            out.write(data)
        return buffer.getvalue()
    if kind == "xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=6)
    if kind == "bz2":
        return bz2.compress(data, 9)
    if kind == "zst":
        return _zstd(ZSTD_FLAGS, data)
    return data


@dataclass
class UnpackedArchive:
    name: str
    compression: str
    top: str | None   # the single top directory that was stripped, if any
    tree: MemoryTree


def unpack(name: str, data: bytes) -> UnpackedArchive:
    kind = compression_of(name, data)
    raw = decompress(kind, data)
    members: list[tuple[str, Entry]] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            for member in archive:
                try:
                    member_name = check_name(member.name.rstrip("/") or ".")
                except FileTreeError as exc:
                    raise ArchiveError(f"{name}: member {member.name!r}: {exc}") from None
                mode = member.mode & 0o7777
                if member.isreg():
                    extracted = archive.extractfile(member)
                    content = extracted.read() if extracted is not None else b""
                    members.append((member_name, Entry("file", mode, content)))
                elif member.isdir():
                    members.append((member_name, Entry("dir", mode)))
                elif member.issym():
                    members.append((member_name, Entry("symlink", 0o777, target=member.linkname)))
                else:
                    what = "hard link" if member.islnk() else "special file"
                    raise ArchiveError(f"{name}: member {member.name!r} is a {what}; only regular "
                                       "files, directories and symlinks can be edited")
    except tarfile.TarError as exc:
        raise ArchiveError(f"{name}: not a readable tar archive: {exc}") from None

    tops = {member_name.split("/", 1)[0] for member_name, _ in members}
    top: str | None = None
    if len(tops) == 1:
        (candidate,) = tops
        explicit = [entry for member_name, entry in members if member_name == candidate]
        has_children = any(member_name != candidate for member_name, _ in members)
        if (explicit and explicit[-1].kind == "dir") or (not explicit and has_children):
            top = candidate
    tree = MemoryTree()
    top_mode = 0o755
    for member_name, entry in members:
        if top is not None:
            if member_name == top:
                top_mode = entry.mode
                continue
            member_name = member_name[len(top) + 1:]
        tree.entries[member_name] = entry  # later duplicates win, as tar extraction does
    if top is not None:
        tree.entries.setdefault("", Entry("dir", top_mode))  # remembers the top's mode
    return UnpackedArchive(name, kind, top, tree)


def _tar_info(name: str, entry: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = ARCHIVE_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = entry.mode
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
    elif entry.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = entry.target
    else:
        info.type = tarfile.REGTYPE
    return info


def repack(unpacked: UnpackedArchive) -> bytes:
    """The archive's bytes, deterministic for a given tree and compression."""
    entries: dict[str, Entry] = {}
    for member_name, entry in unpacked.tree.entries.items():
        if member_name == "":
            continue
        entries[member_name] = entry
        parent = posixpath.dirname(member_name)
        while parent:  # every parent directory gets its own entry
            entries.setdefault(parent, Entry("dir", 0o755))
            parent = posixpath.dirname(parent)
    prefix = ""
    ordered: list[tuple[str, Entry]] = []
    if unpacked.top is not None:
        prefix = unpacked.top + "/"
        root = unpacked.tree.entries.get("", Entry("dir", 0o755))
        ordered.append((unpacked.top, Entry("dir", root.mode)))
    ordered.extend((prefix + name, entries[name]) for name in sorted(entries))

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:", format=tarfile.GNU_FORMAT, encoding="utf-8") as out:
        for member_name, entry in ordered:
            info = _tar_info(member_name, entry)
            if entry.kind == "file":
                content = unpacked.tree.read(member_name[len(prefix):])
                info.size = len(content)
                out.addfile(info, io.BytesIO(content))
            else:
                out.addfile(info)
    return compress(unpacked.compression, buffer.getvalue())
