"""Render one fetched component: its overlays applied to its spec and files, results in the store.

``render_component`` is the edge between the pure overlay code and the store: it reads the fetched
files lazily from the store (an untouched 200 MB tarball is never read), applies the overlays, puts
new or changed files into the store, and returns their digests. The rendered spec digest replaces
the raw one in the key, so editing an overlay invalidates exactly the components it applies to.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import blake3

from hermetic.errors import ConfigError
from hermetic.render.filetree import MemoryTree
from hermetic.render.overlays import DeclaredSource, apply_overlays


@dataclass(frozen=True)
class RenderedComponent:
    name: str
    spec_name: str
    spec_text: str
    spec_digest: str          # blake3 of the final spec bytes (UTF-8)
    files: dict[str, str]     # every file after overlays, the spec included: name → blake3
    changed: tuple[str, ...] = ()  # names added or changed by overlays (spec included)
    removed: tuple[str, ...] = ()  # names overlays removed

    @property
    def spec_bytes(self) -> bytes:
        return encode_spec(self.spec_text)


def encode_spec(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def decode_spec(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def declared_sources(config: Any) -> dict[str, DeclaredSource]:
    """``source-files`` entries of a ComponentConfig, as the archive check needs them."""
    result = {}
    for entry in getattr(config, "source_files", ()) or ():
        origin = getattr(entry, "origin", None)
        origin_type = getattr(origin, "type", None) if origin is not None else None
        result[entry.filename] = DeclaredSource(
            name=entry.filename, hash_type=str(getattr(entry, "hash_type", "SHA256")),
            hash=str(getattr(entry, "hash", "")), origin_type=origin_type)
    return result


def _tree_from_store(files: Mapping[str, str], spec_name: str, store: Any) -> MemoryTree:
    tree = MemoryTree()
    for name, digest in files.items():
        if name == spec_name:
            continue
        path = Path(store.objects.path(digest))
        tree.add_file(name, loader=path.read_bytes, digest=digest)
    return tree


def render_component(component: Any, fetched: Any, store: Any) -> RenderedComponent:
    """Apply ``component.overlays`` to the fetched spec and files; new files go into the store."""
    spec_name = fetched.spec_name
    if spec_name not in fetched.files:
        raise ConfigError(f"component {component.name}: fetched files lack the spec {spec_name}")
    raw_spec = Path(store.objects.path(fetched.files[spec_name])).read_bytes()
    tree = _tree_from_store(fetched.files, spec_name, store)
    overlays = tuple(getattr(component, "overlays", ()) or ())
    result = apply_overlays(component.name, decode_spec(raw_spec), tree, overlays,
                            declared_sources=declared_sources(getattr(component, "config", None)))

    files: dict[str, str] = {}
    changed: list[str] = []
    for name in tree.list():
        digest = tree.digest_if_unchanged(name)
        if digest is None:
            digest = store.objects.put_bytes(tree.read(name))
            if fetched.files.get(name) != digest:
                changed.append(name)
        files[name] = digest
    spec_bytes = encode_spec(result.spec_text)
    spec_digest = (fetched.files[spec_name] if spec_bytes == raw_spec
                   else store.objects.put_bytes(spec_bytes))
    if spec_digest != fetched.files[spec_name]:
        changed.append(spec_name)
    files[spec_name] = spec_digest
    removed = tuple(sorted(set(fetched.files) - set(files)))
    return RenderedComponent(component.name, spec_name, result.spec_text, spec_digest,
                             dict(sorted(files.items())), tuple(sorted(changed)), removed)


# ---- diff -----------------------------------------------------------------------------------


def _lines_or_none(data: bytes) -> list[str] | None:
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _file_diff(name: str, old: bytes | None, new: bytes | None) -> str:
    old_label = f"a/{name}" if old is not None else "/dev/null"
    new_label = f"b/{name}" if new is not None else "/dev/null"
    old_lines = _lines_or_none(old) if old is not None else []
    new_lines = _lines_or_none(new) if new is not None else []
    if old_lines is None or new_lines is None:
        return f"Binary files {old_label} and {new_label} differ\n"
    chunks = []
    for line in difflib.unified_diff(old_lines, new_lines, old_label, new_label):
        chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(chunks)


def render_diff(fetched: Any, rendered: RenderedComponent, store: Any) -> str:
    """The unified diff overlays made to the spec and the files (archives: a binary note)."""
    def content(digest: str | None) -> bytes | None:
        return None if digest is None else Path(store.objects.path(digest)).read_bytes()

    parts = []
    for name in sorted(set(fetched.files) | set(rendered.files)):
        before, after = fetched.files.get(name), rendered.files.get(name)
        if before == after:
            continue
        parts.append(_file_diff(name, content(before), content(after)))
    return "".join(parts)


def spec_digest_of(text: str) -> str:
    return blake3.blake3(encode_spec(text)).hexdigest()
