"""Load a workspace: TOML files, includes, inheritance, overlay files → frozen models.

``load_workspace(path)`` accepts a project directory, a project file (``hermetic.toml`` or
``azldev.toml``) or a lone ``*.comp.toml``. It reads files and checks that the files it names
exist, and nothing else: no network, no writes.

Inheritance follows azldev: the default distro's version defaults, then the project's
``[default-component-config]`` (one layer per file declaring it, in load order), then the
component groups the component belongs to (sorted by group name), then the component. Tables
merge key by key, arrays are appended (azldev merges with ``WithAppendSlice``), any other
value set by a later layer wins — including an explicit ``false``, which azldev's merge cannot
express. Relative paths (``spec.path``, overlay ``source``, ``overlay-files``) resolve
against the file of the layer that wrote them.
"""

from __future__ import annotations

import datetime as _dt
import glob
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from hermetic.context import PROJECT_FILE_NAMES, find_project_file
from hermetic.errors import ConfigError
from hermetic.model.component import ComponentConfig
from hermetic.model.distro import DistroDefinition, ResolvedDistro
from hermetic.model.overlays import OVERLAY_TYPES, Overlay
from hermetic.model.project import BuildrootConfig, ConfigFile, OverlayFile

COMPONENT_PLACEHOLDER = "{component}"


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class BoundOverlay:
    overlay: Overlay
    base_dir: Path  # relative `source` paths resolve against this
    origin: str  # "<file>: components.<name>.overlays[<i>]" for error messages
    index: int  # position in the component's final overlay list

    @property
    def source_path(self) -> Path | None:
        """Absolute path of the overlay's ``source`` file, for overlays that have one."""
        source = getattr(self.overlay, "source", None)
        return None if source is None else (self.base_dir / source).resolve()


@dataclass(frozen=True)
class Component:
    name: str
    defined_in: Path  # file holding [components.<name>]
    config: ComponentConfig  # after inheritance, overlays from overlay-files included
    overlays: tuple[BoundOverlay, ...]  # inline overlays, then overlay-files, in order
    spec_path: Path | None  # local specs: absolute path of the .spec
    distro: ResolvedDistro | None  # upstream specs: dist-git/lookaside templates, branch, ...


@dataclass(frozen=True)
class Workspace:
    root: Path  # project dir, or the lone component file's dir
    project_file: Path | None
    buildroot: BuildrootConfig
    components: dict[str, Component]  # sorted by name
    # Names the PATH given to load_workspace designates: every component for a project,
    # the components a *.comp.toml defines when that file belongs to a project.
    selected: tuple[str, ...] = ()
    files: tuple[Path, ...] = field(default=())  # every configuration file read, in load order


def load_workspace(path: Path) -> Workspace:
    """Load and validate everything under ``path``; raises ``ConfigError`` (exit 2)."""
    path = Path(path).absolute()
    if not path.exists():
        raise ConfigError(f"{path}: no such file or directory")
    if path.is_dir():
        project = find_project_file(path)
        if project is None:
            raise ConfigError(
                f"{path}: no {' or '.join(PROJECT_FILE_NAMES)} here or in any parent directory",
                hint="pass a project directory, a project file or a *.comp.toml file")
        return _load(project.resolve(), is_project=True)
    path = path.resolve()
    if path.name in PROJECT_FILE_NAMES:
        return _load(path, is_project=True)
    # A component file: part of an enclosing project when that project includes it.
    project = find_project_file(path.parent)
    if project is not None:
        workspace = _load(project.resolve(), is_project=True)
        if path in workspace.files:
            selected = tuple(name for name, comp in workspace.components.items()
                             if comp.defined_in == path)
            return Workspace(workspace.root, workspace.project_file, workspace.buildroot,
                             workspace.components, selected, workspace.files)
    return _load(path, is_project=False)


# --------------------------------------------------------------------------- file loading


@dataclass(frozen=True)
class _File:
    path: Path
    raw: dict[str, Any]
    model: ConfigFile


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: list[_File] = []
        self._seen: set[Path] = set()

    def show(self, path: Path) -> str:
        """A path as shown in messages: relative to the workspace root when inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def load_tree(self, path: Path, chain: tuple[Path, ...] = ()) -> None:
        if path in chain:
            cycle = " -> ".join(self.show(p) for p in (*chain[chain.index(path):], path))
            raise ConfigError(f"{self.show(chain[-1])}: includes: circular include: {cycle}")
        if path in self._seen:
            return  # reached again through another include: load each file once
        self._seen.add(path)
        raw = read_toml(path, self.show(path))
        model = validate(ConfigFile, raw, self.show(path))
        self.files.append(_File(path, raw, model))
        for index, pattern in enumerate(model.includes):
            for match in expand_glob(path.parent, pattern,
                                     f"{self.show(path)}: includes[{index}]"):
                self.load_tree(match, (*chain, path))


def read_toml(path: Path, shown: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if where:
            message = message[:where.start()]
            raise ConfigError(f"{shown}:{where.group(1)}:{where.group(2)}: TOML syntax error: "
                              f"{message}") from None
        raise ConfigError(f"{shown}: TOML syntax error: {message}") from None
    return _plain_toml(data)


def _plain_toml(value: Any) -> Any:
    # TOML's unquoted dates (snapshot = 2025-01-01T00:00:00Z) become text, the form the
    # model and keys use.
    if isinstance(value, dict):
        return {key: _plain_toml(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_toml(item) for item in value]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return value


def _has_magic(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def expand_glob(base: Path, pattern: str, where: str) -> list[Path]:
    """Files matching ``pattern`` (``**`` allowed) relative to ``base``, sorted.

    A literal path naming no file is an error (a typo); a glob matching nothing is not.
    """
    full = pattern if Path(pattern).is_absolute() else str(base / pattern)
    if not _has_magic(pattern):
        candidate = Path(full)
        if not candidate.is_file():
            raise ConfigError(f"{where}: file not found: {pattern}")
        return [candidate.resolve()]
    matches = {Path(m).resolve() for m in glob.glob(full, recursive=True)}
    return sorted(m for m in matches if m.is_file())


# --------------------------------------------------------------------------- errors


def _loc_text(loc: Iterable[Any]) -> str:
    text = ""
    previous: Any = None
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(previous, int) and part in OVERLAY_TYPES:
            previous = part  # the discriminated union's tag is not a TOML key
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = str(part)
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
            text += ("." if text else "") + name
        previous = part
    return text


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required key missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "union_tag_not_found":
        return f"type is required (one of: {', '.join(OVERLAY_TYPES)})"
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        return f"unknown overlay type {tag!r} (one of: {', '.join(OVERLAY_TYPES)})"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix):]
    value = repr(error.get("input"))
    if len(value) > 60:
        value = value[:57] + "..."
    return f"{message[:1].lower()}{message[1:]}, got {value}"


def format_validation_error(exc: ValidationError, shown_file: str,
                            prefix: tuple[Any, ...] = (), note: str = "") -> str:
    """One line: ``file: table.key: message`` (TOML names, not Python ones)."""
    errors = exc.errors()
    first = errors[0]
    loc = _loc_text((*prefix, *first["loc"]))
    text = f"{shown_file}: {loc}: {_message(first)}" if loc else f"{shown_file}: {_message(first)}"
    if note:
        text += f" ({note})"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return text


def validate(model: type[BaseModel], raw: Any, shown_file: str,
             prefix: tuple[Any, ...] = (), note: str = "") -> Any:
    try:
        # TOML names only: the Python spellings (upstream_name) are not keys of the format.
        return model.model_validate(raw, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, shown_file, prefix, note)) from None


# --------------------------------------------------------------------------- inheritance


@dataclass(frozen=True)
class _Layer:
    raw: dict[str, Any]  # a component config as written (TOML names)
    file: Path
    table: str  # e.g. "component-groups.java.default-component-config"


def merge_tables(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: tables merge, arrays append, other values are replaced."""
    result = dict(base)
    for key, value in over.items():
        old = result.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            result[key] = merge_tables(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            result[key] = old + value
        else:
            result[key] = value
    return result


def _replace_tables(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge for distros and [project]: arrays are replaced, as azldev does there."""
    result = dict(base)
    for key, value in over.items():
        old = result.get(key)
        result[key] = (_replace_tables(old, value)
                       if isinstance(old, dict) and isinstance(value, dict) else value)
    return result


def _dig(raw: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(key)  # type: ignore[assignment]
    return raw


class _Resolver:
    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.show = loader.show
        files = loader.files
        self.project_raw: dict[str, Any] = {}
        self.distros_raw: dict[str, Any] = {}
        self.distro_version_file: dict[tuple[str, str], Path] = {}
        self.project_defaults: list[_Layer] = []
        self.groups: dict[str, tuple[_File, Any]] = {}
        self.component_sites: dict[str, _File] = {}
        self.empty_sites: dict[str, _File] = {}
        self.buildroot_site: _File | None = None
        for item in files:
            self._collect(item)

    def _collect(self, item: _File) -> None:
        raw, shown = item.raw, self.show(item.path)
        if "project" in raw:
            self.project_raw = _replace_tables(self.project_raw, raw["project"])
        for name, distro in raw.get("distros", {}).items():
            self.distros_raw[name] = _replace_tables(self.distros_raw.get(name, {}), distro)
            for version in distro.get("versions", {}):
                self.distro_version_file[(name, version)] = item.path
        if "default-component-config" in raw:
            self.project_defaults.append(
                _Layer(raw["default-component-config"], item.path, "default-component-config"))
        for name in raw.get("component-groups", {}):
            if name in self.groups:
                first = self.show(self.groups[name][0].path)
                raise ConfigError(f"{shown}: component-groups.{name}: already defined in {first}")
            self.groups[name] = (item, item.model.component_groups[name])
        for name, table in raw.get("components", {}).items():
            # azurelinux lists every component once in components.toml ([components.x] with
            # nothing in it) and defines it in x.comp.toml: an empty table only registers.
            if not table:
                self.empty_sites.setdefault(name, item)
                continue
            if name in self.component_sites:
                first = self.show(self.component_sites[name].path)
                raise ConfigError(f"{shown}: components.{name}: component {name!r} is already "
                                  f"defined in {first}",
                                  hint="component names must be unique across all files")
            self.component_sites[name] = item
        if "buildroot" in raw:
            if self.buildroot_site is not None:
                raise ConfigError(f"{shown}: buildroot: already defined in "
                                  f"{self.show(self.buildroot_site.path)}")
            self.buildroot_site = item

    # ------------------------------------------------------------------ distros

    def _distro_layer(self) -> tuple[_Layer | None, str]:
        reference = self.project_raw.get("default-distro")
        if not reference:
            return None, ""
        name = reference.get("name")
        distro = self.distros_raw.get(name)
        where = f"{self.show(self.loader.files[0].path)}: project.default-distro"
        if distro is None:
            raise ConfigError(f"{where}: unknown distro {name!r} (defined: "
                              f"{', '.join(sorted(self.distros_raw)) or 'none'})")
        version = str(reference.get("version") or distro.get("default-version") or "")
        if not version:
            return None, ""
        if version not in distro.get("versions", {}):
            raise ConfigError(f"{where}: distro {name!r} has no version {version!r}")
        raw = _dig(distro, "versions", version, "default-component-config") or {}
        table = f"distros.{name}.versions.{_loc_text([version])}.default-component-config"
        return _Layer(raw, self.distro_version_file[(name, version)], table), version

    def resolve_distro(self, component: str, config: ComponentConfig, where: str
                       ) -> ResolvedDistro:
        reference = config.spec.upstream_distro
        if reference is None:
            raise ConfigError(f"{where}.spec: upstream-distro is required when type = "
                              "\"upstream\"")
        distro_raw = self.distros_raw.get(reference.name)
        if distro_raw is None:
            raise ConfigError(f"{where}.spec.upstream-distro: unknown distro {reference.name!r} "
                              f"(defined: {', '.join(sorted(self.distros_raw)) or 'none'})",
                              hint="declare it as [distros.<name>] in the project")
        distro = validate(DistroDefinition, distro_raw, where)
        version = reference.version or distro.default_version
        if version is None:
            raise ConfigError(f"{where}.spec.upstream-distro: version is required (distro "
                              f"{reference.name!r} has no default-version)")
        if version not in distro.versions:
            raise ConfigError(f"{where}.spec.upstream-distro: distro {reference.name!r} has no "
                              f"version {version!r} (known: {', '.join(sorted(distro.versions))})")
        details = distro.versions[version]
        return ResolvedDistro(
            name=reference.name, version=version,
            dist_git_base_uri=distro.dist_git_base_uri,
            lookaside_base_uri=distro.lookaside_base_uri,
            dist_git_branch=details.dist_git_branch, release_ver=details.release_ver,
            upstream_name=config.spec.upstream_name or component,
            upstream_commit=config.spec.upstream_commit, snapshot=reference.snapshot,
            disable_origins=distro.disable_origins)

    # ------------------------------------------------------------------ components

    def components(self) -> dict[str, Component]:
        distro_layer, _ = self._distro_layer()
        membership: dict[str, list[str]] = {}
        for group_name, (_, group) in self.groups.items():
            for member in group.components:
                membership.setdefault(member, []).append(group_name)
        names = sorted(set(self.component_sites) | set(self.empty_sites))
        result: dict[str, Component] = {}
        for name in names:
            site = self.component_sites.get(name) or self.empty_sites[name]
            layers: list[_Layer] = []
            if distro_layer is not None:
                layers.append(distro_layer)
            layers.extend(self.project_defaults)
            for group_name in sorted(membership.get(name, [])):
                group_file = self.groups[group_name][0]
                raw = _dig(group_file.raw, "component-groups", group_name,
                           "default-component-config") or {}
                layers.append(_Layer(raw, group_file.path,
                                     f"component-groups.{group_name}.default-component-config"))
            layers.append(_Layer(site.raw["components"][name], site.path, f"components.{name}"))
            result[name] = self._component(name, site.path, layers)
        return result

    def _component(self, name: str, defined_in: Path, layers: list[_Layer]) -> Component:
        shown = self.show(defined_in)
        table = f"components.{_loc_text([name])}"
        where = f"{shown}: {table}"
        merged: dict[str, Any] = {}
        spec_base = defined_in.parent
        inline: list[tuple[Any, Path, str]] = []
        overlay_file_patterns: list[tuple[str, Path, str]] = []
        for layer in layers:
            raw = dict(layer.raw)
            layer_shown = f"{self.show(layer.file)}: {layer.table}"
            for index, overlay in enumerate(raw.pop("overlays", [])):
                inline.append((overlay, layer.file.parent, f"{layer_shown}.overlays[{index}]"))
            for index, pattern in enumerate(raw.get("overlay-files", [])):
                overlay_file_patterns.append(
                    (pattern, layer.file.parent, f"{layer_shown}.overlay-files[{index}]"))
            if _dig(raw, "spec", "path") is not None:
                spec_base = layer.file.parent
            merged = merge_tables(merged, raw)
        merged["overlays"] = [overlay for overlay, _, _ in inline]
        config: ComponentConfig = validate(ComponentConfig, merged, shown, ("components", name),
                                           note="after inheritance")

        bound: list[BoundOverlay] = []
        for (_, base_dir, origin), overlay in zip(inline, config.overlays):
            bound.append(BoundOverlay(overlay, base_dir, origin, len(bound)))
        for overlay, base_dir, origin in self._overlay_files(name, overlay_file_patterns):
            bound.append(BoundOverlay(overlay, base_dir, origin, len(bound)))
        for item in bound:
            source = item.source_path
            if source is not None and not source.is_file():
                raise ConfigError(f"{item.origin}.source: file not found: "
                                  f"{getattr(item.overlay, 'source')}")

        spec = config.spec
        spec_path: Path | None = None
        distro: ResolvedDistro | None = None
        if (spec.type or "local") == "local":
            relative = spec.path or f"{name}.spec"
            spec_path = (spec_base / relative).resolve()
            if not spec_path.is_file():
                raise ConfigError(f"{where}.spec.path: spec file not found: {relative}",
                                  hint=f"looked for {spec_path}")
            spec = spec.model_copy(update={"type": "local"})
        else:
            distro = self.resolve_distro(name, config, where)
            spec = spec.model_copy(update={"upstream_name": distro.upstream_name})
        config = config.model_copy(update={
            "spec": spec, "overlays": tuple(item.overlay for item in bound)})
        return Component(name, defined_in, config, tuple(bound), spec_path, distro)

    def _overlay_files(self, component: str, patterns: list[tuple[str, Path, str]]
                       ) -> list[tuple[Any, Path, str]]:
        ordered: list[Path] = []
        for pattern, base_dir, origin in patterns:
            concrete = pattern.replace(COMPONENT_PLACEHOLDER, component)
            matches = expand_glob(base_dir, concrete, origin)
            # azldev order: by file name, then full path; first occurrence wins.
            for match in sorted(matches, key=lambda p: (p.name, str(p))):
                if match not in ordered:
                    ordered.append(match)
        result: list[tuple[Any, Path, str]] = []
        for path in ordered:
            shown = self.show(path)
            model: OverlayFile = validate(OverlayFile, read_toml(path, shown), shown)
            for index, overlay in enumerate(model.overlays):
                # azldev stamps the file's [metadata] on each overlay (documentation only).
                overlay = overlay.model_copy(update={"metadata": model.metadata})
                result.append((overlay, path.parent, f"{shown}: overlays[{index}]"))
        return result

    # ------------------------------------------------------------------ buildroot

    def buildroot(self) -> BuildrootConfig:
        site = self.buildroot_site
        if site is None:
            return BuildrootConfig()
        config = site.model.buildroot
        assert config is not None
        if config.path is not None:
            absolute = (site.path.parent / config.path).resolve()
            if not absolute.exists():
                raise ConfigError(f"{self.show(site.path)}: buildroot.path: not found: "
                                  f"{config.path}")
            config = config.model_copy(update={"path": str(absolute)})
        return config


def _load(first: Path, is_project: bool) -> Workspace:
    loader = _Loader(first.parent)
    loader.load_tree(first)
    resolver = _Resolver(loader)
    components = resolver.components()
    return Workspace(
        root=first.parent,
        project_file=first if is_project else None,
        buildroot=resolver.buildroot(),
        components=components,
        selected=tuple(components),
        files=tuple(item.path for item in loader.files),
    )
