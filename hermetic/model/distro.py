"""Distros: where upstream specs come from (``[distros.<name>]``) and what they resolve to.

A distro names a dist-git server and a lookaside cache by URI templates. The templates use
``$pkg``, ``$filename``, ``$hashtype`` and ``$hash`` (Fedora's lookaside layout); they are kept
as written and expanded only when a fetcher asks for one file's address.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template
from typing import Any

from pydantic import Field, StrictBool, field_validator

from hermetic.model.component import ComponentConfig, StrictModel

DIST_GIT_PLACEHOLDERS = frozenset({"pkg"})
LOOKASIDE_PLACEHOLDERS = frozenset({"pkg", "filename", "hashtype", "hash"})


def _check_template(value: str | None, allowed: frozenset[str], key: str) -> str | None:
    if value is None:
        return None
    template = Template(value)
    if not template.is_valid():
        raise ValueError(f"{key}: malformed $placeholder in {value!r}")
    unknown = set(template.get_identifiers()) - allowed
    if unknown:
        names = ", ".join("$" + name for name in sorted(allowed))
        raise ValueError(f"{key}: unknown placeholder(s) "
                         f"{', '.join('$' + n for n in sorted(unknown))}; allowed: {names}")
    return value


class PackageRepository(StrictModel):
    base_uri: str = Field(alias="base-uri")  # azldev binary repos; not used by hermetic


class DistroVersionInputs(StrictModel):
    rpm_build: tuple[str, ...] = Field(default=(), alias="rpm-build")
    image_build: tuple[str, ...] = Field(default=(), alias="image-build")


class DistroVersion(StrictModel):
    """``[distros.<name>.versions.<v>]``."""

    description: str = ""
    release_ver: str | None = Field(default=None, alias="release-ver")
    dist_git_branch: str | None = Field(default=None, alias="dist-git-branch")
    default_component_config: ComponentConfig = Field(
        default_factory=ComponentConfig, alias="default-component-config")
    # azldev's mock configurations and repo inputs: accepted, unused (hermetic builds in its
    # own sandbox from its own buildroot).
    mock_config: str | None = Field(default=None, alias="mock-config")
    mock_config_x86_64: str | None = Field(default=None, alias="mock-config-x86_64")
    mock_config_aarch64: str | None = Field(default=None, alias="mock-config-aarch64")
    inputs: DistroVersionInputs = Field(default_factory=DistroVersionInputs)

    @field_validator("release_ver", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class DistroDefinition(StrictModel):
    """``[distros.<name>]``."""

    description: str = ""
    default_version: str | None = Field(default=None, alias="default-version")
    dist_git_base_uri: str | None = Field(default=None, alias="dist-git-base-uri")
    lookaside_base_uri: str | None = Field(default=None, alias="lookaside-base-uri")
    repos: tuple[PackageRepository, ...] = ()
    disable_origins: StrictBool = Field(default=False, alias="disable-origins")
    versions: dict[str, DistroVersion] = Field(default_factory=dict)

    @field_validator("dist_git_base_uri")
    @classmethod
    def _dist_git_template(cls, value: str | None) -> str | None:
        return _check_template(value, DIST_GIT_PLACEHOLDERS, "dist-git-base-uri")

    @field_validator("lookaside_base_uri")
    @classmethod
    def _lookaside_template(cls, value: str | None) -> str | None:
        return _check_template(value, LOOKASIDE_PLACEHOLDERS, "lookaside-base-uri")

    @field_validator("default_version", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


@dataclass(frozen=True)
class ResolvedDistro:
    """Everything a fetcher needs to find an upstream spec and its sources."""

    name: str
    version: str
    dist_git_base_uri: str | None  # template, as written ($pkg)
    lookaside_base_uri: str | None  # template, as written ($pkg $filename $hashtype $hash)
    dist_git_branch: str | None
    release_ver: str | None
    upstream_name: str  # the package's name upstream ($pkg)
    upstream_commit: str | None  # pinned commit; wins over snapshot
    snapshot: str | None  # otherwise: last first-parent commit before this date/time
    disable_origins: bool = False  # lookaside only, never source-files' origin URIs

    @property
    def dist_git_uri(self) -> str | None:
        """The dist-git repository of this package (``$pkg`` expanded)."""
        if self.dist_git_base_uri is None:
            return None
        return Template(self.dist_git_base_uri).substitute(pkg=self.upstream_name)

    def lookaside_uri(self, filename: str, hash_type: str, digest: str) -> str | None:
        """The lookaside address of one file; ``hash_type`` as in a sources file (SHA512)."""
        if self.lookaside_base_uri is None:
            return None
        return Template(self.lookaside_base_uri).substitute(
            pkg=self.upstream_name, filename=filename, hashtype=hash_type.lower(), hash=digest)
