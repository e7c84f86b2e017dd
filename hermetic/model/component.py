"""The component model: one ``[components.<name>]`` table of the azldev TOML dialect.

Field names are TOML's (dashed) names, declared as aliases; Python code uses the snake_case
attribute names. Every model is frozen and rejects unknown keys, so a typo is an error rather
than a silently ignored setting.

``ComponentConfig.key_fields()`` is the build-relevant projection of the model that goes into a
component's key. Each model below declares, for every one of its fields, whether the field is
part of that projection (``KEY_INCLUDED``), left out (``KEY_EXCLUDED``: documentation, reasons,
URLs, local paths, publish settings) or rewritten (``KEY_TRANSFORMED``). ``key_policy_gaps()``
lists fields nobody has decided about yet; the tests fail on any, so a new field cannot slip
into (or out of) keys by accident.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    StrictBool,
    StrictInt,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from hermetic.model.overlays import Overlay, _OverlayBase

HashType = Literal["SHA256", "SHA512"]
HASH_HEX_LENGTH: dict[str, int] = {"SHA256": 64, "SHA512": 128}


class StrictModel(BaseModel):
    """Frozen, unknown keys rejected, TOML names as aliases (Python names also accepted)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    # Key policy: every field is listed in exactly one of these (see module docstring).
    KEY_INCLUDED: ClassVar[frozenset[str]] = frozenset()
    KEY_EXCLUDED: ClassVar[frozenset[str]] = frozenset()
    KEY_TRANSFORMED: ClassVar[frozenset[str]] = frozenset()


def _macro_value(value: Any) -> Any:
    # `rhel = 10` and `rhel = "10"` mean the same macro definition; floats and booleans
    # have no single spelling as a macro body, so they are refused.
    if isinstance(value, bool):
        raise ValueError("macro values must be strings or integers, not booleans")
    if isinstance(value, int):
        return str(value)
    return value


MacroValue = Annotated[str, BeforeValidator(_macro_value)]
MacroName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


# --------------------------------------------------------------------------- spec


class DistroReference(StrictModel):
    """``upstream-distro = { name, version, snapshot }``."""

    name: str = Field(min_length=1)
    version: str | None = None  # absent: the distro's default-version
    # Date/time; the last dist-git commit before it is used. It selects the commit, so it
    # is build-relevant (unlike the URL it is fetched from).
    snapshot: str | None = None

    KEY_INCLUDED = frozenset({"name", "version", "snapshot"})

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # `version = 43` in TOML is an integer; the distro's versions table keys are text.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class SpecSource(StrictModel):
    """``spec = { type, path, upstream-distro, upstream-name, upstream-commit }``."""

    type: Literal["local", "upstream"] | None = None  # absent after inheritance: "local"
    path: str | None = None  # local: relative to the file that sets it; default <name>.spec
    upstream_distro: DistroReference | None = Field(default=None, alias="upstream-distro")
    upstream_name: str | None = Field(default=None, alias="upstream-name", min_length=1)
    upstream_commit: str | None = Field(
        default=None, alias="upstream-commit", pattern=r"^[0-9a-fA-F]{7,40}$"
    )

    # path: the spec's content digest is keyed instead (paths depend on the checkout).
    KEY_INCLUDED = frozenset({"type", "upstream_distro", "upstream_name", "upstream_commit"})
    KEY_EXCLUDED = frozenset({"path"})

    @model_validator(mode="after")
    def _fields_match_type(self) -> SpecSource:
        if self.type == "local":
            for field, alias in (("upstream_name", "upstream-name"),
                                 ("upstream_commit", "upstream-commit")):
                if getattr(self, field) is not None:
                    raise ValueError(f"{alias} is only allowed when type = \"upstream\"")
        if self.type == "upstream" and self.path is not None:
            raise ValueError("path is only allowed when type = \"local\"")
        return self


class ReleaseConfig(StrictModel):
    calculation: Literal["auto", "autorelease", "static", "manual"] = "auto"

    KEY_INCLUDED = frozenset({"calculation"})


# --------------------------------------------------------------------------- build


class CheckConfig(StrictModel):
    skip: StrictBool = False
    skip_reason: str = ""  # azldev spells this one with an underscore

    KEY_INCLUDED = frozenset({"skip"})
    KEY_EXCLUDED = frozenset({"skip_reason"})

    @model_validator(mode="after")
    def _reason_given(self) -> CheckConfig:
        if self.skip and not self.skip_reason.strip():
            raise ValueError("skip_reason is required when skip = true")
        return self


class FailureConfig(StrictModel):
    expected: StrictBool = False
    expected_reason: str = Field(default="", alias="expected-reason")

    # An expected failure is policy for reporting, not an input of the build.
    KEY_EXCLUDED = frozenset({"expected", "expected_reason"})

    @model_validator(mode="after")
    def _reason_given(self) -> FailureConfig:
        if self.expected and not self.expected_reason.strip():
            raise ValueError("expected-reason is required when expected = true")
        return self


class BuildHints(StrictModel):
    """Scheduling hints; never needed for a correct build."""

    expensive: StrictBool = False

    KEY_EXCLUDED = frozenset({"expensive"})


class BuildConfig(StrictModel):
    with_: tuple[str, ...] = Field(default=(), alias="with")
    without: tuple[str, ...] = ()
    defines: dict[MacroName, MacroValue] = Field(default_factory=dict)
    undefines: tuple[MacroName, ...] = ()
    emit_upstream_provenance: StrictBool = Field(default=False, alias="emit-upstream-provenance")
    check: CheckConfig = Field(default_factory=CheckConfig)
    failure: FailureConfig = Field(default_factory=FailureConfig)
    hints: BuildHints = Field(default_factory=BuildHints)
    # hermetic's own: overrides the SOURCE_DATE_EPOCH derived from the inputs.
    source_date_epoch: StrictInt | None = Field(default=None, alias="source-date-epoch", gt=0)

    KEY_INCLUDED = frozenset({
        "with_", "without", "defines", "undefines", "emit_upstream_provenance", "check",
        "source_date_epoch",
    })
    KEY_EXCLUDED = frozenset({"failure", "hints"})

    @field_validator("with_", "without")
    @classmethod
    def _bcond_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*", name):
                raise ValueError(f"invalid build condition name {name!r}")
        return value


# --------------------------------------------------------------------------- sources


class Origin(StrictModel):
    # "download": fetched from the lookaside, then ``uri``. "overlay": produced by archive
    # overlays at render time; the entry's hash is the post-overlay hash, and nothing is fetched.
    type: Literal["download", "overlay"]
    uri: str | None = Field(default=None, min_length=1)

    # URIs are where a file may be found, not what it is: the declared digest is the identity.
    KEY_INCLUDED = frozenset({"type"})
    KEY_EXCLUDED = frozenset({"uri"})

    @field_validator("uri")
    @classmethod
    def _has_scheme(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
            raise ValueError(f"uri must be an absolute URI such as https://..., got {value!r}")
        return value

    @model_validator(mode="after")
    def _uri_matches_type(self) -> Origin:
        if self.type == "download" and self.uri is None:
            raise ValueError('uri is required when type = "download"')
        if self.type == "overlay" and self.uri is not None:
            raise ValueError('an origin of type "overlay" is produced by overlays and has no uri')
        return self


class SourceFile(StrictModel):
    """One ``[[components.<name>.source-files]]`` entry."""

    filename: str
    hash: str
    hash_type: HashType = Field(alias="hash-type")
    origin: Origin | None = None  # absent: the lookaside cache only
    replace_upstream: StrictBool = Field(default=False, alias="replace-upstream")
    replace_reason: str = Field(default="", alias="replace-reason")

    KEY_INCLUDED = frozenset({"filename", "hash", "hash_type", "replace_upstream"})
    KEY_EXCLUDED = frozenset({"origin", "replace_reason"})

    @field_validator("filename")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if (not value or "/" in value or "\\" in value or value in (".", "..")
                or PurePosixPath(value).is_absolute() or "\0" in value):
            raise ValueError(f"filename must be a plain file name (no '/', '..' or absolute "
                             f"path), got {value!r}")
        return value

    @field_validator("hash_type", mode="before")
    @classmethod
    def _known_hash_type(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in HASH_HEX_LENGTH:
            raise ValueError(f"unsupported hash-type {value!r}; supported: SHA256, SHA512")
        return value

    @field_validator("hash")
    @classmethod
    def _lower_hex(cls, value: str) -> str:
        return value.lower()  # one spelling per digest

    @model_validator(mode="after")
    def _consistent(self) -> SourceFile:
        expected = HASH_HEX_LENGTH[self.hash_type]
        if not re.fullmatch(rf"[0-9a-f]{{{expected}}}", self.hash):
            raise ValueError(f"hash must be {expected} hex digits for {self.hash_type}, "
                             f"got {self.hash!r}")
        if self.replace_upstream and not self.replace_reason.strip():
            raise ValueError("replace-reason is required when replace-upstream = true")
        if not self.replace_upstream and self.replace_reason:
            raise ValueError("replace-reason is only allowed when replace-upstream = true")
        return self


# --------------------------------------------------------------------------- azldev-only


class PublishConfig(StrictModel):
    """azldev publish channels: accepted so Azure Linux files load; not used by hermetic."""

    rpm_channel: str | None = Field(default=None, alias="rpm-channel")
    srpm_channel: str | None = Field(default=None, alias="srpm-channel")
    debuginfo_channel: str | None = Field(default=None, alias="debuginfo-channel")
    channel: str | None = None  # deprecated azldev spelling of rpm-channel

    KEY_EXCLUDED = frozenset({"rpm_channel", "srpm_channel", "debuginfo_channel", "channel"})


class PackageConfig(StrictModel):
    publish: PublishConfig = Field(default_factory=PublishConfig)

    KEY_EXCLUDED = frozenset({"publish"})


class RenderConfig(StrictModel):
    skip_file_filter: StrictBool = Field(default=False, alias="skip-file-filter")  # ignored by azldev too

    KEY_EXCLUDED = frozenset({"skip_file_filter"})


# --------------------------------------------------------------------------- component


class ComponentConfig(StrictModel):
    """``[components.<name>]`` (also the shape of every ``default-component-config``)."""

    spec: SpecSource = Field(default_factory=SpecSource)
    release: ReleaseConfig = Field(default_factory=ReleaseConfig)
    build: BuildConfig = Field(default_factory=BuildConfig)
    source_files: tuple[SourceFile, ...] = Field(default=(), alias="source-files")
    overlays: tuple[Overlay, ...] = ()
    overlay_files: tuple[str, ...] = Field(default=(), alias="overlay-files")
    render: RenderConfig = Field(default_factory=RenderConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    packages: dict[str, PackageConfig] = Field(default_factory=dict)

    KEY_INCLUDED = frozenset({"spec", "release", "build", "source_files"})
    # overlay-files: local globs; the overlays they load are in `overlays` after loading.
    KEY_EXCLUDED = frozenset({"overlay_files", "render", "publish", "packages"})
    KEY_TRANSFORMED = frozenset({"overlays"})

    @field_validator("overlay_files")
    @classmethod
    def _patterns_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if not pattern.strip():
                raise ValueError("overlay-files entries must not be empty")
        return value

    @model_validator(mode="after")
    def _unique_source_files(self) -> ComponentConfig:
        seen: set[str] = set()
        for entry in self.source_files:
            if entry.filename in seen:
                raise ValueError(f"source-files: duplicate filename {entry.filename!r}")
            seen.add(entry.filename)
        return self

    def key_fields(self) -> dict[str, Any]:
        """The normalised, build-relevant model: the part of a component's key it owns.

        Defaults are filled in (absent == default); documentation, reasons, hints, URLs,
        publish settings and local paths are removed. Overlays keep every field except
        ``description`` and ``metadata``; their ``source`` is reduced to its base name (the
        source's content digest joins the key elsewhere). Only str/int/bool/None/list/dict.
        """
        result = _project(self)
        spec = result["spec"]
        if (self.spec.type or "local") == "local":
            # Inherited upstream settings do nothing for a local spec; keep them out so a
            # distro-wide default change does not rebuild every local component.
            spec.update({"type": "local", "upstream-distro": None, "upstream-name": None,
                         "upstream-commit": None})
        result["overlays"] = [overlay_key_fields(overlay) for overlay in self.overlays]
        return result


# --------------------------------------------------------------------------- key projection

# Overlay models live in overlays.py; their key policy is declared here, next to the rest.
OVERLAY_KEY_EXCLUDED = frozenset({"description", "metadata"})
OVERLAY_KEY_TRANSFORMED = frozenset({"source"})  # reduced to its base name
OVERLAY_KEY_INCLUDED = frozenset({
    "type", "tag", "value", "package", "lines", "section", "regex", "replacement", "file",
    "archive",
})


def overlay_key_fields(overlay: _OverlayBase) -> dict[str, Any]:
    undecided = set(type(overlay).model_fields) - (
        OVERLAY_KEY_INCLUDED | OVERLAY_KEY_EXCLUDED | OVERLAY_KEY_TRANSFORMED)
    if undecided:
        raise AssertionError(f"{type(overlay).__name__}: no key policy for {sorted(undecided)}")
    result: dict[str, Any] = {}
    for name in type(overlay).model_fields:
        if name in OVERLAY_KEY_EXCLUDED:
            continue
        value = getattr(overlay, name)
        if name == "source":
            value = PurePosixPath(value).name
        result[name] = _plain(value)
    return result


def _project(model: StrictModel) -> dict[str, Any]:
    cls = type(model)
    undecided = key_policy_gaps(cls)
    if undecided:
        raise AssertionError(f"{cls.__name__}: no key policy for {sorted(undecided)}")
    result: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        if name in cls.KEY_INCLUDED or name in cls.KEY_TRANSFORMED:
            # TOML names, so `hermetic explain` speaks the user's vocabulary.
            result[field.alias or name] = _plain(getattr(model, name))
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, StrictModel):
        return _project(value)
    if isinstance(value, _OverlayBase):
        return overlay_key_fields(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"no canonical key form for {type(value).__name__}")


def key_policy_gaps(cls: type[StrictModel]) -> set[str]:
    """Fields of ``cls`` with no key decision, or with more than one."""
    fields = set(cls.model_fields)
    declared = [cls.KEY_INCLUDED, cls.KEY_EXCLUDED, cls.KEY_TRANSFORMED]
    undecided = fields - set().union(*declared)
    doubly = {name for name in fields if sum(name in group for group in declared) > 1}
    stale = set().union(*declared) - fields
    return undecided | doubly | stale


def component_models() -> list[type[StrictModel]]:
    """Every model reachable from ``ComponentConfig`` (for the key-policy test)."""
    return [DistroReference, SpecSource, ReleaseConfig, CheckConfig, FailureConfig, BuildHints,
            BuildConfig, Origin, SourceFile, PublishConfig, PackageConfig, RenderConfig,
            ComponentConfig]
