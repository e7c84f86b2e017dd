"""What to fetch for one component, as plain values: the only module that reads the model.

``plan_for(component)`` turns a loaded ``hermetic.model`` Component into a ``FetchPlan``; the
fetch core works on plans alone, so it can be tested with hand-written plans and does not move
when the model grows fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermetic.errors import FetchError
from hermetic.fetch.digests import DeclaredDigest, check_file_name, declared_digest

# Files next to a local spec that describe the component rather than build it.
DESCRIPTOR_SUFFIXES = (".comp.toml", ".overlay.toml")
DESCRIPTOR_NAMES = frozenset({"hermetic.toml", "azldev.toml"})


@dataclass(frozen=True)
class SourceFileRequest:
    """One ``source-files`` entry that must be fetched (overlay-produced entries never are)."""

    filename: str
    digest: DeclaredDigest
    origin_uri: str | None
    replace_upstream: bool
    where: str


@dataclass(frozen=True)
class UpstreamSpec:
    package: str                # the dist-git repository's package name (upstream-name)
    dist_git_url: str
    branch: str | None
    commit: str | None
    snapshot: str | None


@dataclass(frozen=True)
class FetchPlan:
    name: str
    where: str                                   # "<file>: components.<name>" for errors
    local_spec: Path | None = None               # local specs: absolute path of the .spec
    upstream: UpstreamSpec | None = None
    lookaside_template: str | None = None
    lookaside_package: str = ""
    source_files: tuple[SourceFileRequest, ...] = ()
    ignored_local_files: frozenset[Path] = field(default_factory=frozenset)


def _get(obj: Any, *names: str) -> Any:
    """First present attribute among ``names`` (the model spells a few things two ways)."""
    for name in names:
        if obj is not None and hasattr(obj, name):
            value = getattr(obj, name)
            if value is not None:
                return value
    return None


def _text(value: Any) -> str | None:
    """Enum members and plain strings alike, lower-cased for comparisons."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def shown_path(path: Path) -> str:
    """Paths in errors as the user typed them: relative to the working directory if inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def plan_for(component: Any) -> FetchPlan:
    """The fetch plan of one loaded Component (``hermetic.model.loader``)."""
    from hermetic.fetch.template import dist_git_url

    name: str = component.name
    config = component.config
    where = f"{shown_path(Path(component.defined_in))}: components.{name}"
    spec = _get(config, "spec")
    spec_type = (_text(_get(spec, "type", "source_type")) or "local").lower()
    # ResolvedDistro carries the inherited upstream identity; the spec table is the fallback.
    distro = _get(component, "distro")
    upstream_name = _get(distro, "upstream_name") or _get(spec, "upstream_name") or name
    lookaside = _get(distro, "lookaside_base_uri")
    allow_origins = not bool(_get(distro, "disable_origins"))
    source_files = tuple(_source_requests(config, where, allow_origins))

    if spec_type == "upstream":
        base = _get(distro, "dist_git_base_uri")
        if not base:
            raise FetchError(f"{where}.spec: upstream spec but its distro has no "
                             f"dist-git-base-uri")
        reference = _get(spec, "upstream_distro")
        commit = _get(distro, "upstream_commit") or _get(spec, "upstream_commit")
        snapshot = _get(distro, "snapshot") or _get(reference, "snapshot")
        upstream = UpstreamSpec(upstream_name, dist_git_url(base, upstream_name),
                                _get(distro, "dist_git_branch"), commit,
                                str(snapshot) if snapshot else None)
        return FetchPlan(name, where, upstream=upstream, lookaside_template=lookaside,
                         lookaside_package=upstream_name, source_files=source_files)

    spec_path = _get(component, "spec_path")
    if spec_path is None:
        raise FetchError(f"{where}.spec: local spec without a path")
    # The component's own TOML may sit next to the spec under any name: it is not an input
    # file (its content reaches the key through the model).
    ignored = frozenset({Path(component.defined_in).resolve()})
    return FetchPlan(name, where, local_spec=Path(spec_path).resolve(),
                     lookaside_template=lookaside, lookaside_package=upstream_name,
                     source_files=source_files, ignored_local_files=ignored)


def _source_requests(config: Any, where: str, allow_origins: bool):
    seen: set[str] = set()
    for index, entry in enumerate(_get(config, "source_files") or ()):
        entry_where = f"{where}.source-files[{index}]"
        filename = check_file_name(entry.filename, entry_where)
        if filename in seen:
            raise FetchError(f"{entry_where}: {filename!r} is declared twice in source-files")
        seen.add(filename)
        origin = _get(entry, "origin")
        origin_type = (_text(_get(origin, "type")) or "").lower()
        if origin_type == "overlay":
            continue  # produced by render from the overlays, never downloaded
        hash_value = _get(entry, "hash")
        hash_type = _text(_get(entry, "hash_type")) or "SHA256"
        if not hash_value:
            raise FetchError(f"{entry_where}: {filename!r} has no hash; every fetched file "
                             f"must declare its SHA256 or SHA512 digest")
        digest = declared_digest(hash_type, hash_value, entry_where)
        origin_uri = _get(origin, "uri") if allow_origins else None
        yield SourceFileRequest(filename, digest, origin_uri,
                                bool(_get(entry, "replace_upstream")), entry_where)
