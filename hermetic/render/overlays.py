"""Apply a component's overlays, in declaration order, with azldev's semantics.

Pure: the spec comes in as text, the files as a ``FileTree``, overlay ``source`` files through a
reader function; nothing here touches the store or the network. Every failure is a
``ConfigError`` with one line naming the component, the overlay's index, its type and its
description, and a hint naming where it was declared.

File overlays with ``archive = "name.tar.gz"`` edit inside that source archive. Consecutive
overlays on the same archive share one unpack/repack. Each edited archive must be declared in
``source-files`` with ``origin = { type = "overlay" }`` and the hash of the repacked archive.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Protocol, Sequence

import blake3

from hermetic.errors import ConfigError
from hermetic.model.overlays import (
    FileAdd, FilePrependLines, FileRemove, FileRename, FileSearchReplace, PatchAdd, PatchRemove,
    SpecAddTag, SpecAppendLines, SpecInsertTag, SpecPrependLines, SpecRemoveSection,
    SpecRemoveSubpackage, SpecRemoveTag, SpecSearchReplace, SpecSetTag, SpecUpdateTag,
)
from hermetic.render import spec_edit
from hermetic.render.archive import ArchiveError, UnpackedArchive, repack, unpack
from hermetic.render.filetree import FileTree, FileTreeError
from hermetic.render.globs import GlobError, glob_filter
from hermetic.render.spec import SpecStructureError, SpecText

FILE_OVERLAYS = (FilePrependLines, FileSearchReplace, FileAdd, FileRemove, FileRename)


class BoundOverlayLike(Protocol):
    """What the loader's ``BoundOverlay`` provides (see docs/architecture.md)."""

    overlay: object
    base_dir: Path
    origin: str
    index: int


@dataclass(frozen=True)
class Bound:
    """A stand-alone ``BoundOverlay`` for callers without the loader (tests, tools)."""

    overlay: object
    base_dir: Path = Path(".")
    origin: str = ""
    index: int = 0


def bind(overlays: Iterable[object], base_dir: Path = Path("."), origin: str = "") -> list[Bound]:
    return [Bound(o, base_dir, f"{origin}overlays[{i}]" if origin else "", i)
            for i, o in enumerate(overlays)]


@dataclass(frozen=True)
class DeclaredSource:
    """A ``source-files`` entry as far as archive overlays care."""

    name: str
    hash_type: str          # "sha256", "sha512", "blake3", ...
    hash: str
    origin_type: str | None  # "overlay" for archives that overlays edit


@dataclass
class RenderResult:
    spec_text: str
    edited_archives: dict[str, str] = field(default_factory=dict)  # name → blake3 after overlays


def _fail(component: str, bound: BoundOverlayLike, problem: str) -> ConfigError:
    overlay = bound.overlay
    description = getattr(overlay, "description", "") or "no description"
    kind = getattr(overlay, "type", type(overlay).__name__)
    return ConfigError(f"component {component}: overlay {bound.index} ({kind}, \"{description}\"): "
                       f"{problem}", hint=bound.origin or None)


def _read_source(bound: BoundOverlayLike, source: str,
                 reader: Callable[[Path], bytes]) -> bytes:
    path = Path(bound.base_dir) / source
    try:
        return reader(path)
    except FileNotFoundError:
        raise FileTreeError(f"source {source} not found (looked for {path})") from None
    except IsADirectoryError:
        raise FileTreeError(f"source {source} is a directory ({path})") from None


def _default_reader(path: Path) -> bytes:
    return path.read_bytes()


# ---- file overlays on any FileTree --------------------------------------------------------


def _is_spec(name: str) -> bool:
    return name.endswith(".spec")


def _matches(tree: FileTree, pattern: str) -> list[str]:
    found = [name for name in glob_filter(pattern, tree.list()) if not _is_spec(name)]
    if not found:
        raise FileTreeError(f"no file matches {pattern!r}")
    return found


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def apply_file_overlay(tree: FileTree, overlay: object, read_source: Callable[[str], bytes]) -> None:
    """One file overlay on ``tree``. Raises FileTreeError/GlobError with a plain message."""
    if isinstance(overlay, FilePrependLines):
        for name in _matches(tree, overlay.file):
            tree.write(name, _bytes("\n".join(overlay.lines) + "\n") + tree.read(name))
    elif isinstance(overlay, FileSearchReplace):
        pattern = re.compile(overlay.regex)
        changed = 0
        for name in _matches(tree, overlay.file):
            old = _text(tree.read(name))
            new = pattern.sub(lambda _m: overlay.replacement, old)
            if new != old:
                tree.write(name, _bytes(new))
                changed += 1
        if not changed:
            raise FileTreeError(f"regex {overlay.regex!r} matched nothing in files matching "
                                f"{overlay.file!r}")
    elif isinstance(overlay, FileAdd):
        if _is_spec(overlay.file):
            raise FileTreeError(f"{overlay.file} is a spec; use spec-* overlays to edit it")
        if tree.exists(overlay.file):
            raise FileTreeError(f"{overlay.file} already exists")
        tree.write(overlay.file, read_source(overlay.source))
    elif isinstance(overlay, FileRemove):
        for name in _matches(tree, overlay.file):
            tree.remove(name)
    elif isinstance(overlay, FileRename):
        found = _matches(tree, overlay.file)
        if len(found) > 1:
            raise FileTreeError(f"{overlay.file!r} matches {len(found)} files ({', '.join(found)}); "
                                "file-rename needs exactly one")
        new_name = posixpath.join(posixpath.dirname(found[0]), overlay.replacement)
        tree.rename(found[0], new_name)
    else:
        raise TypeError(f"not a file overlay: {overlay!r}")


# ---- spec overlays --------------------------------------------------------------------------


def apply_spec_overlay(spec: SpecText, overlay: object) -> None:
    """One spec overlay (patch-add/remove: the spec half only). Raises SpecEditError."""
    if isinstance(overlay, SpecAddTag):
        spec_edit.add_tag(spec, overlay.package, overlay.tag, overlay.value)
    elif isinstance(overlay, SpecInsertTag):
        spec_edit.insert_tag(spec, overlay.package, overlay.tag, overlay.value)
    elif isinstance(overlay, SpecSetTag):
        spec_edit.set_tag(spec, overlay.package, overlay.tag, overlay.value)
    elif isinstance(overlay, SpecUpdateTag):
        spec_edit.update_tag(spec, overlay.package, overlay.tag, overlay.value)
    elif isinstance(overlay, SpecRemoveTag):
        spec_edit.remove_tag(spec, overlay.package, overlay.tag, overlay.value)
    elif isinstance(overlay, SpecPrependLines):
        spec_edit.prepend_lines(spec, overlay.section, overlay.package, list(overlay.lines))
    elif isinstance(overlay, SpecAppendLines):
        spec_edit.append_lines(spec, overlay.section, overlay.package, list(overlay.lines))
    elif isinstance(overlay, SpecSearchReplace):
        spec_edit.search_replace(spec, overlay.section, overlay.package, overlay.regex,
                                 overlay.replacement)
    elif isinstance(overlay, SpecRemoveSection):
        spec_edit.remove_section(spec, overlay.section, overlay.package)
    elif isinstance(overlay, SpecRemoveSubpackage):
        spec_edit.remove_subpackage(spec, overlay.package)
    elif isinstance(overlay, PatchAdd):
        spec_edit.add_patch_entry(spec, None, patch_file_name(overlay))
    elif isinstance(overlay, PatchRemove):
        spec_edit.remove_patch_entries(spec, overlay.file)
    else:
        raise TypeError(f"not a spec overlay: {overlay!r}")


def patch_file_name(overlay: PatchAdd) -> str:
    return overlay.file or posixpath.basename(overlay.source.replace("\\", "/"))


# ---- the whole list -------------------------------------------------------------------------


def _digest(hash_type: str, data: bytes) -> str:
    kind = hash_type.lower().replace("-", "")
    if kind == "blake3":
        return blake3.blake3(data).hexdigest()
    try:
        return hashlib.new(kind, data).hexdigest()
    except ValueError:
        raise FileTreeError(f"unknown hash type {hash_type!r}") from None


def apply_overlays(
    component: str,
    spec_text: str,
    tree: FileTree,
    overlays: Sequence[BoundOverlayLike],
    *,
    declared_sources: Mapping[str, DeclaredSource] | None = None,
    reader: Callable[[Path], bytes] = _default_reader,
) -> RenderResult:
    """Apply ``overlays`` in order: returns the final spec text; ``tree`` is edited in place."""
    spec = SpecText(spec_text)
    result = RenderResult(spec_text)
    last_touch: dict[str, BoundOverlayLike] = {}
    position = 0
    while position < len(overlays):
        bound = overlays[position]
        overlay = bound.overlay
        archive = getattr(overlay, "archive", None) if isinstance(overlay, FILE_OVERLAYS) else None
        if archive:
            run = [bound]
            while (position + len(run) < len(overlays)
                   and getattr(overlays[position + len(run)].overlay, "archive", None) == archive):
                run.append(overlays[position + len(run)])
            _apply_archive_run(component, tree, archive, run, reader)
            last_touch[archive] = run[-1]
            position += len(run)
            continue
        _apply_one(component, spec, tree, bound, reader)
        position += 1

    for archive, bound in last_touch.items():
        data = tree.read(archive)
        result.edited_archives[archive] = blake3.blake3(data).hexdigest()
        _verify_archive(component, bound, archive, data, declared_sources or {})
    result.spec_text = spec.text
    return result


def _apply_one(component: str, spec: SpecText, tree: FileTree, bound: BoundOverlayLike,
               reader: Callable[[Path], bytes]) -> None:
    overlay = bound.overlay
    try:
        if isinstance(overlay, FILE_OVERLAYS):
            apply_file_overlay(tree, overlay, lambda source: _read_source(bound, source, reader))
            return
        if isinstance(overlay, PatchAdd):
            name = patch_file_name(overlay)
            if tree.exists(name):
                raise FileTreeError(f"patch {name} already exists among the component's files")
            content = _read_source(bound, overlay.source, reader)
            apply_spec_overlay(spec, overlay)
            tree.write(name, content)
            return
        apply_spec_overlay(spec, overlay)
        if isinstance(overlay, PatchRemove):
            for name in _matches(tree, overlay.file):
                tree.remove(name)
    except (spec_edit.SpecEditError, SpecStructureError, FileTreeError, GlobError) as exc:
        raise _fail(component, bound, str(exc)) from None
    except re.error as exc:
        raise _fail(component, bound, f"invalid regex: {exc}") from None


def _apply_archive_run(component: str, tree: FileTree, archive: str,
                       run: list[BoundOverlayLike], reader: Callable[[Path], bytes]) -> None:
    first = run[0]
    if not tree.exists(archive):
        raise _fail(component, first, f"archive {archive} is not among the component's files")
    try:
        unpacked: UnpackedArchive = unpack(archive, tree.read(archive))
    except (ArchiveError, FileTreeError) as exc:
        raise _fail(component, first, str(exc)) from None
    for bound in run:
        try:
            apply_file_overlay(unpacked.tree, bound.overlay,
                               lambda source, b=bound: _read_source(b, source, reader))
        except (FileTreeError, GlobError, ArchiveError) as exc:
            raise _fail(component, bound, f"in archive {archive}: {exc}") from None
        except re.error as exc:
            raise _fail(component, bound, f"invalid regex: {exc}") from None
    try:
        tree.write(archive, repack(unpacked))
    except (ArchiveError, FileTreeError) as exc:
        raise _fail(component, run[-1], f"repacking {archive}: {exc}") from None


def _verify_archive(component: str, bound: BoundOverlayLike, archive: str, data: bytes,
                    declared: Mapping[str, DeclaredSource]) -> None:
    entry = declared.get(archive)
    sha512 = hashlib.sha512(data).hexdigest()
    if entry is None:
        raise ConfigError(
            f"component {component}: archive {archive} is edited by overlays but has no "
            "source-files entry with origin type \"overlay\"",
            hint=f"add {{ filename = \"{archive}\", hash-type = \"SHA512\", hash = \"{sha512}\", "
                 "origin = { type = \"overlay\" } } to source-files")
    if (entry.origin_type or "").lower() != "overlay":
        raise ConfigError(
            f"component {component}: source-files entry for {archive} must have origin type "
            f"\"overlay\" because overlays edit it (it has {entry.origin_type or 'none'})",
            hint=bound.origin or None)
    try:
        actual = _digest(entry.hash_type, data)
    except FileTreeError as exc:
        raise ConfigError(f"component {component}: source-files entry for {archive}: {exc}") from None
    if actual.lower() != entry.hash.lower():
        raise ConfigError(
            f"component {component}: archive {archive} after overlays has {entry.hash_type} "
            f"{actual}, but source-files declares {entry.hash}",
            hint="update the source-files hash if the overlay change is intended")
