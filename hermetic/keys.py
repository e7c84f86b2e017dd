"""Content-addressed keys: one dict of named inputs, hashed canonically.

A component's key is ``blake3(canonical(manifest))`` where the manifest names every input that can
change its RPMs, and nothing else (see docs/keys.md). Inputs are identified by content digests,
never by paths or URLs, so a key is the same on every machine and in every checkout directory.
The manifest itself is stored with the result so ``hermetic explain`` can say why a key changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hermetic.canonical import digest

# Bump when the meaning or layout of the manifest changes: every key changes with it.
KEY_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class DependencyOutputs:
    """What a dependent sees of a dependency: the digests of the RPMs it produced (early cutoff)."""

    component: str
    rpms: tuple[tuple[str, str], ...]  # (file name, blake3) sorted by name

    def as_manifest(self) -> list[list[str]]:
        return [[name, blake3] for name, blake3 in sorted(self.rpms)]


def component_manifest(
    *,
    name: str,
    model: Mapping[str, Any],
    spec_name: str,
    spec_digest: str,
    files: Mapping[str, str],
    buildroot: str | None,
    sandbox_profile: str | None,
    arch: str,
    toolchain: Mapping[str, Any],
    dependencies: list[DependencyOutputs],
) -> dict[str, Any]:
    """The input manifest of one component.

    ``model`` is ``ComponentConfig.key_fields()``; ``spec_digest`` is the digest of the *rendered*
    spec; ``files`` maps every other input file (sources, patches, overlay-added files) to its
    digest; ``toolchain`` holds hermetic's own build-relevant settings (macro layers, reproducibility
    settings such as SOURCE_DATE_EPOCH). ``None`` marks an input not known yet (e.g. ``show`` before
    a buildroot exists): such a manifest is only ever displayed, never used to store a result.
    """
    return {
        "schema": KEY_SCHEMA_VERSION,
        "name": name,
        "model": dict(model),
        "spec": {"name": spec_name, "digest": spec_digest},
        "files": dict(sorted(files.items())),
        "buildroot": buildroot,
        "sandbox_profile": sandbox_profile,
        "arch": arch,
        "toolchain": dict(toolchain),
        "dependencies": {dep.component: dep.as_manifest() for dep in dependencies},
    }


def compute_key(manifest: Mapping[str, Any]) -> str:
    return digest(dict(manifest))


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key in value:
            _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, (list, tuple)) and value and all(
        isinstance(item, (Mapping, list, tuple)) for item in value
    ):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}[{index}]", out)
    else:
        out[prefix] = value


def diff_manifests(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human-readable lines, one per input that differs: ``path: old -> new``."""
    flat_old: dict[str, Any] = {}
    flat_new: dict[str, Any] = {}
    _flatten(old, "", flat_old)
    _flatten(new, "", flat_new)
    lines = []
    for path in sorted(flat_old.keys() | flat_new.keys()):
        before = flat_old.get(path, _ABSENT)
        after = flat_new.get(path, _ABSENT)
        if before == after:
            continue
        if before is _ABSENT:
            lines.append(f"{path}: added ({_show(after)})")
        elif after is _ABSENT:
            lines.append(f"{path}: removed (was {_show(before)})")
        else:
            lines.append(f"{path}: {_show(before)} -> {_show(after)}")
    return lines


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT = _Absent()


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12]  # digests: a prefix is enough to tell them apart
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
