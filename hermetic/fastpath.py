"""The no-op fast path: when nothing a build read has changed, its keys still hold.

After a fully successful ``hermetic build PATH``, the store records the keys it ended with,
together with a fingerprint of everything the pipeline read to compute them: the stat data of
every file and directory of the workspace (or, for a lone component file, of the files it names),
the buildroot name → digest binding, and hermetic's own code. The next ``build`` of the same PATH
recomputes only that fingerprint — a directory walk with ``lstat``, no TOML, no pydantic, no
hashing — and, when it matches and every entry is still in the store, reports the components
cached without running the pipeline. Any difference at all falls back to the full pipeline, which
is always right; this only skips work whose result is already known, as ninja and git do.

Stat data can lie when a file changes twice within one timestamp tick without changing size, so,
as git does, nothing is recorded while any fingerprinted file is younger than ``RACY_SECONDS``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3

from hermetic.canonical import canonical, decode

RECORD_FORMAT = 1
RACY_SECONDS = 2.0
# Build products and tool state that live inside a workspace but are not its inputs.
SKIPPED_DIR_NAMES = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "out"})


@dataclass(frozen=True)
class Recorded:
    components: list[tuple[str, str]]  # (name, key) in build order


def _stat_line(path: str, newest: list[float]) -> bytes:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return f"{path}\0missing\n".encode()
    newest[0] = max(newest[0], st.st_mtime)
    return (f"{path}\0{st.st_mode}\0{st.st_size}\0{st.st_ino}\0{st.st_dev}\0"
            f"{st.st_mtime_ns}\0{st.st_ctime_ns}\n").encode()


def _walk(root: Path, skip: set[str], hasher: Any, newest: list[float]) -> None:
    stack = [str(root)]
    while stack:
        directory = stack.pop()
        # A directory's own mtime is noise (out/ or store/ appearing in it); its entries, each
        # hashed below, already say what was added or removed.
        hasher.update(f"{directory}\0dir\n".encode())
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIPPED_DIR_NAMES and entry.path not in skip:
                    stack.append(entry.path)
            else:
                hasher.update(_stat_line(entry.path, newest))


def _code_files() -> list[str]:
    package = Path(__file__).resolve().parent
    return sorted(str(p) for p in package.rglob("*") if p.suffix in (".py", ".macros"))


def fingerprint(roots: Iterable[Path], files: Iterable[Path], skip: Iterable[Path],
                buildroot_binding: str) -> tuple[str, float]:
    """(digest of everything a build of these inputs read, newest timestamp seen)."""
    hasher = blake3.blake3()
    newest = [0.0]
    skipped = {str(p) for p in skip}
    for root in sorted(set(roots)):
        hasher.update(b"root\0")
        _walk(root, skipped, hasher, newest)
    hasher.update(b"files\0")
    for path in sorted({str(p) for p in files}):
        hasher.update(_stat_line(path, newest))
    hasher.update(b"code\0")
    code_newest = [0.0]  # hermetic's own files are never "racy": they change between runs only
    for path in _code_files():
        hasher.update(_stat_line(path, code_newest))
    hasher.update(b"buildroot\0" + buildroot_binding.encode())
    return hasher.hexdigest(), newest[0]


def _record_path(store_root: Path, path: Path, names: Iterable[str]) -> Path:
    request = canonical({"path": str(path), "names": sorted(names)})
    return store_root / "fastpath" / blake3.blake3(request).hexdigest()


def buildroot_binding(store_root: Path, name: str | None) -> str:
    if not name:
        return ""
    try:
        return (store_root / "buildroots" / "names" / name).read_text().strip()
    except OSError:
        return ""


def lookup(store: Any, path: Path, names: Iterable[str]) -> Recorded | None:
    """The recorded keys for this request if nothing they depend on has changed, else None."""
    record_file = _record_path(store.root, path, names)
    try:
        record = decode(record_file.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return None
    digest, _ = fingerprint([Path(p) for p in record["roots"]],
                            [Path(p) for p in record["files"]],
                            [Path(p) for p in record["skip"]],
                            buildroot_binding(store.root, record["buildroot_name"]))
    if digest != record["fingerprint"]:
        return None
    return Recorded([(name, key) for name, key in record["components"]])


def record(store: Any, path: Path, names: Iterable[str], *, roots: Iterable[Path],
           files: Iterable[Path], skip: Iterable[Path], buildroot_name: str | None,
           components: list[tuple[str, str]]) -> bool:
    """Remember the keys of a fully successful build; False when the inputs are too fresh."""
    from hermetic.store.fsutil import atomic_write

    roots, files, skip = list(roots), list(files), list(skip)
    digest, newest = fingerprint(roots, files, skip,
                                 buildroot_binding(store.root, buildroot_name))
    if time.time() - newest < RACY_SECONDS:
        return False
    payload = canonical({
        "format": RECORD_FORMAT, "fingerprint": digest,
        "roots": [str(p) for p in roots], "files": [str(p) for p in files],
        "skip": [str(p) for p in skip], "buildroot_name": buildroot_name or "",
        "components": [[name, key] for name, key in components],
    })
    target = _record_path(store.root, path, names)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, payload, store.tmp_dir())
    return True


def forget(store: Any, path: Path, names: Iterable[str]) -> None:
    try:
        _record_path(store.root, path, names).unlink()
    except FileNotFoundError:
        pass
