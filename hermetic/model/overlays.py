"""The 17 azldev overlay types as validated, frozen models.

Field names follow the azldev TOML dialect exactly (``file``, ``section``, ``package``, ``tag``,
``value``, ``regex``, ``replacement``, ``lines``, ``source``, ``archive``), so Azure Linux component
files load unchanged. Validation here is structural (required fields, relative paths, regex
syntax); applying an overlay to a spec is the job of ``hermetic.render``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


OVERLAY_CATEGORIES: tuple[str, ...] = (
    "upstream-backport", "azl-pruning", "azl-compatibility", "azl-temp-workaround",
    "azl-branding-policy", "azl-disable-flaky-tests", "azl-disable-unsupported-tests",
    "azl-security-compliance", "azl-release-management", "azl-platform-adaptation",
)
UPSTREAM_STATUSES: tuple[str, ...] = (
    "upstreamed", "upstreamable", "needs-upstream-hook", "inapplicable", "unknown",
)


class URLRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(pattern=r"^https?://\S+$")


class OverlayMetadata(BaseModel):
    """Why an overlay exists (azldev ``[metadata]``). Documentation only: never part of a key."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    # Free text: azldev's category names have changed between releases, and metadata is
    # documentation only, so an unfamiliar category must not stop a component from loading.
    category: str = Field(min_length=1)
    upstream_status: str | None = Field(default=None, alias="upstream-status")
    commits: tuple[URLRef, ...] = ()
    bugs: tuple[URLRef, ...] = ()


class _OverlayBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    # Documentation only: shown in every error about this overlay, never part of a key.
    description: str = ""
    # Documentation only (azldev inline overlay metadata); overlay files set it per file.
    metadata: OverlayMetadata | None = None


def _relative_path(value: str, field: str) -> str:
    if not value:
        raise ValueError(f"{field} must not be empty")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{field} must be a relative path inside the component, got {value!r}")
    return value


def _basename(value: str, field: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise ValueError(f"{field} must be a file name without '/', got {value!r}")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value, re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"invalid regex {value!r}: {exc}") from None
    return value


class _TagOverlay(_OverlayBase):
    tag: str = Field(min_length=1)
    value: str = Field(min_length=1)
    package: str | None = None


class SpecAddTag(_TagOverlay):
    type: Literal["spec-add-tag"]


class SpecInsertTag(_TagOverlay):
    type: Literal["spec-insert-tag"]


class SpecSetTag(_TagOverlay):
    type: Literal["spec-set-tag"]


class SpecUpdateTag(_TagOverlay):
    type: Literal["spec-update-tag"]


class SpecRemoveTag(_OverlayBase):
    type: Literal["spec-remove-tag"]
    tag: str = Field(min_length=1)
    value: str | None = None  # when given, only instances with exactly this value are removed
    package: str | None = None


class _LinesOverlay(_OverlayBase):
    lines: list[str] = Field(min_length=1)
    section: str | None = None  # absent: top (prepend) or end (append) of the file
    package: str | None = None


class SpecPrependLines(_LinesOverlay):
    type: Literal["spec-prepend-lines"]


class SpecAppendLines(_LinesOverlay):
    type: Literal["spec-append-lines"]


class SpecSearchReplace(_OverlayBase):
    type: Literal["spec-search-replace"]
    regex: str
    replacement: str = ""  # literal text, no group references
    section: str | None = None
    package: str | None = None

    _check_regex = field_validator("regex")(lambda cls, v: _regex(v))


class SpecRemoveSection(_OverlayBase):
    type: Literal["spec-remove-section"]
    section: str = Field(min_length=1)
    package: str | None = None


class SpecRemoveSubpackage(_OverlayBase):
    type: Literal["spec-remove-subpackage"]
    package: str = Field(min_length=1)


class PatchAdd(_OverlayBase):
    type: Literal["patch-add"]
    source: str = Field(min_length=1)  # relative to the file that declares the overlay
    file: str | None = None  # name inside the component; defaults to the source's base name

    @field_validator("file")
    @classmethod
    def _file_is_relative(cls, v: str | None) -> str | None:
        return None if v is None else _relative_path(v, "file")


class PatchRemove(_OverlayBase):
    type: Literal["patch-remove"]
    file: str  # glob over patch file names

    _check_file = field_validator("file")(lambda cls, v: _relative_path(v, "file"))


class _FileOverlay(_OverlayBase):
    file: str
    archive: str | None = None  # edit inside this source archive instead of a loose file

    _check_file = field_validator("file")(lambda cls, v: _relative_path(v, "file"))

    @field_validator("archive")
    @classmethod
    def _archive_is_basename(cls, v: str | None) -> str | None:
        return None if v is None else _basename(v, "archive")


class FilePrependLines(_FileOverlay):
    type: Literal["file-prepend-lines"]
    lines: list[str] = Field(min_length=1)


class FileSearchReplace(_FileOverlay):
    type: Literal["file-search-replace"]
    regex: str
    replacement: str = ""

    _check_regex = field_validator("regex")(lambda cls, v: _regex(v))


class FileAdd(_FileOverlay):
    type: Literal["file-add"]
    source: str = Field(min_length=1)


class FileRemove(_FileOverlay):
    type: Literal["file-remove"]


class FileRename(_FileOverlay):
    type: Literal["file-rename"]
    replacement: str  # the new base name

    _check_replacement = field_validator("replacement")(lambda cls, v: _basename(v, "replacement"))


Overlay = Annotated[
    Union[
        SpecAddTag, SpecInsertTag, SpecSetTag, SpecUpdateTag, SpecRemoveTag,
        SpecPrependLines, SpecAppendLines, SpecSearchReplace, SpecRemoveSection,
        SpecRemoveSubpackage, PatchAdd, PatchRemove, FilePrependLines, FileSearchReplace,
        FileAdd, FileRemove, FileRename,
    ],
    Field(discriminator="type"),
]

OVERLAY_TYPES: tuple[str, ...] = (
    "spec-add-tag", "spec-insert-tag", "spec-set-tag", "spec-update-tag", "spec-remove-tag",
    "spec-prepend-lines", "spec-append-lines", "spec-search-replace", "spec-remove-section",
    "spec-remove-subpackage", "patch-add", "patch-remove", "file-prepend-lines",
    "file-search-replace", "file-add", "file-remove", "file-rename",
)
