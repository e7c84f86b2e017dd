"""The project file (``hermetic.toml`` / ``azldev.toml``) and every file it includes.

All configuration files share one schema, ``ConfigFile``: a project file, an included
``*.distro.toml`` and a ``*.comp.toml`` may each hold any of these tables. azldev tables that
hermetic has no use for (images, tools, tests, package groups, resources) are accepted as they
are so Azure Linux trees load unchanged, and ignored.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from hermetic.buildset import RPM_BUILD_SET
from hermetic.model.component import ComponentConfig, DistroReference, StrictModel
from hermetic.model.distro import DistroDefinition
from hermetic.model.overlays import Overlay, OverlayMetadata

# The default [buildroot] include: one list with the buildroot provider (hermetic.buildset).
DEFAULT_BUILDROOT_PACKAGES: tuple[str, ...] = RPM_BUILD_SET


class ProjectInfo(StrictModel):
    """``[project]``."""

    description: str = ""
    log_dir: str | None = Field(default=None, alias="log-dir")
    work_dir: str | None = Field(default=None, alias="work-dir")
    output_dir: str | None = Field(default=None, alias="output-dir")
    # The distro built for: its version's default-component-config is the first layer of
    # every component's inheritance.
    default_distro: DistroReference | None = Field(default=None, alias="default-distro")


class BuildrootConfig(StrictModel):
    """``[buildroot]`` (hermetic's own): the tree rpmbuild runs in."""

    type: Literal["created", "image", "host"] = "created"
    name: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    debian_suite: str = Field(default="bookworm", alias="debian-suite", min_length=1)
    include: tuple[str, ...] = DEFAULT_BUILDROOT_PACKAGES
    # image: tarball or directory; relative to the file declaring it, stored absolute.
    path: str | None = None
    mirror: str | None = None  # created: Debian mirror URL (mmdebstrap's default if absent)
    # A team pins the one buildroot it shares: the store uses the tree with this digest, pulled
    # from a team cache when missing; a tree made here with another digest is an error.
    digest: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @field_validator("include")
    @classmethod
    def _package_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not name or name.startswith("-") or any(c.isspace() for c in name):
                raise ValueError(f"invalid Debian package name {name!r}")
        return value

    @model_validator(mode="after")
    def _path_for_images(self) -> BuildrootConfig:
        if self.type == "image" and not self.path:
            raise ValueError("path is required when type = \"image\"")
        if self.type != "image" and self.path is not None:
            raise ValueError("path is only allowed when type = \"image\"")
        return self


class CacheSubstituter(StrictModel):
    """One ``[[cache.substituters]]`` item: a remote cache to pull from."""

    url: str = Field(min_length=1)
    # Lower is tried first (as in Nix).
    priority: int = 50


class CacheConfig(StrictModel):
    """``[cache]`` (hermetic's own): the team binary cache (see docs/cache.md).

    Read from the project file only; relative paths resolve against its directory.
    """

    substituters: tuple[CacheSubstituter, ...] = ()
    push: tuple[str, ...] = ()
    trusted_keys: tuple[str, ...] = Field(default=(), alias="trusted-keys")
    secret_key: str | None = Field(default=None, alias="secret-key")
    token_file: str | None = Field(default=None, alias="token-file")

    @field_validator("trusted_keys")
    @classmethod
    def _public_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from hermetic.errors import ConfigError
        from hermetic.signing import parse_public_key

        for text in value:
            try:
                parse_public_key(text)
            except ConfigError as exc:  # pydantic reports ValueErrors with the field's location
                raise ValueError(exc.message) from None
        return value


class ComponentGroup(StrictModel):
    """``[component-groups.<name>]``."""

    description: str = ""
    components: tuple[str, ...] = ()
    default_component_config: ComponentConfig = Field(
        default_factory=ComponentConfig, alias="default-component-config")
    specs: tuple[str, ...] = ()  # azldev spec-discovery globs: refused below
    excluded_paths: tuple[str, ...] = Field(default=(), alias="excluded-paths")
    metadata: dict[str, Any] | None = None  # documentation only

    @field_validator("specs")
    @classmethod
    def _no_spec_discovery(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if value:
            raise ValueError("spec discovery by glob is not supported; declare each component "
                             "as [components.<name>] with spec.path")
        return value


class ConfigFile(StrictModel):
    """One TOML file of a project: the project file itself, or any file it includes."""

    schema_uri: str | None = Field(default=None, alias="$schema")
    includes: tuple[str, ...] = ()
    project: ProjectInfo | None = None
    buildroot: BuildrootConfig | None = None
    cache: CacheConfig | None = None
    distros: dict[str, DistroDefinition] = Field(default_factory=dict)
    default_component_config: ComponentConfig | None = Field(
        default=None, alias="default-component-config")
    component_groups: dict[str, ComponentGroup] = Field(
        default_factory=dict, alias="component-groups")
    components: dict[str, ComponentConfig] = Field(default_factory=dict)
    # azldev-only tables: accepted as written, unused by hermetic.
    images: dict[str, Any] = Field(default_factory=dict)
    tools: dict[str, Any] = Field(default_factory=dict)
    resources: dict[str, Any] = Field(default_factory=dict)
    default_package_config: dict[str, Any] = Field(
        default_factory=dict, alias="default-package-config")
    package_groups: dict[str, Any] = Field(default_factory=dict, alias="package-groups")
    test_suites: dict[str, Any] = Field(default_factory=dict, alias="test-suites")
    tests: dict[str, Any] = Field(default_factory=dict)
    test_groups: dict[str, Any] = Field(default_factory=dict, alias="test-groups")

    @field_validator("includes")
    @classmethod
    def _includes_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if not pattern.strip():
                raise ValueError("includes entries must not be empty")
        return value

    @field_validator("components")
    @classmethod
    def _component_names(cls, value: dict[str, ComponentConfig]) -> dict[str, ComponentConfig]:
        for name in value:
            # A component name becomes a file name (SRPM, store paths): keep it one.
            if not name or "/" in name or name in (".", "..") or PurePosixPath(name).is_absolute():
                raise ValueError(f"invalid component name {name!r}")
        return value


class OverlayFile(StrictModel):
    """A ``*.overlay.toml`` file: one ``[metadata]`` and one or more ``[[overlays]]``."""

    metadata: OverlayMetadata
    overlays: tuple[Overlay, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_per_overlay_metadata(self) -> OverlayFile:
        for index, overlay in enumerate(self.overlays):
            if overlay.metadata is not None:
                raise ValueError(f"overlays[{index}]: per-overlay metadata is not allowed in "
                                 "an overlay file; the file's [metadata] applies to all")
        return self
