"""The action entry: what one build of one key produced, and from what.

Stored as canonical msgpack under ``actions/ab/<key>``. Integers only (no floats): timings are
milliseconds, ``created`` is Unix seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from hermetic.canonical import canonical, decode
from hermetic.errors import StoreError
from hermetic.store.fsutil import check_digest

ENTRY_FORMAT = 1
OUTPUT_KINDS = ("rpm", "srpm", "log", "buildinfo")
OutputKind = Literal["rpm", "srpm", "log", "buildinfo"]


@dataclass(frozen=True)
class OutputRef:
    """One output file of a build: its file name, object digest, size and kind."""

    name: str
    digest: str
    size: int
    kind: OutputKind

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name in (".", ".."):
            raise ValueError(f"output name {self.name!r} must be a plain file name")
        check_digest(self.digest, f"digest of output {self.name}")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 0:
            raise ValueError(f"output {self.name}: size must be a non-negative integer")
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"output {self.name}: kind {self.kind!r} is not one of {OUTPUT_KINDS}")


@dataclass(frozen=True)
class Signature:
    """An Ed25519 signature over the entry's fingerprint, by the key called ``key_name``."""

    key_name: str
    signature: str  # base64


def _as_output(value: OutputRef | dict[str, Any]) -> OutputRef:
    return value if isinstance(value, OutputRef) else OutputRef(**value)


def _as_signature(value: Signature | dict[str, Any]) -> Signature:
    return value if isinstance(value, Signature) else Signature(**value)


@dataclass(frozen=True)
class ActionEntry:
    key: str
    component: str
    outputs: tuple[OutputRef, ...]
    manifest: dict[str, Any]
    timings: dict[str, int] = field(default_factory=dict)
    rpm_version: str = ""
    buildroot: str = ""          # buildroot digest ("" when none)
    impure: bool = False
    created: int = 0
    signatures: tuple[Signature, ...] = ()

    def __post_init__(self) -> None:
        # Accept plain dicts and lists for convenience; store tuples of typed parts.
        object.__setattr__(self, "outputs", tuple(_as_output(o) for o in self.outputs))
        object.__setattr__(self, "signatures",
                           tuple(_as_signature(s) for s in self.signatures))
        check_digest(self.key, "action key")
        if not isinstance(self.component, str) or not self.component:
            raise ValueError("component name must be a non-empty string")
        for name, value in self.timings.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"timings.{name} must be an integer (milliseconds), got {value!r}")
        if not isinstance(self.created, int):
            raise ValueError("created must be integer Unix seconds")
        names = [o.name for o in self.outputs]
        if len(names) != len(set(names)):
            raise ValueError(f"entry {self.key}: duplicate output names")

    def with_signatures(self, signatures: tuple[Signature, ...]) -> "ActionEntry":
        return dataclasses.replace(self, signatures=tuple(signatures))

    def referenced_digests(self) -> set[str]:
        """Object digests this entry needs: its outputs."""
        return {o.digest for o in self.outputs}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": ENTRY_FORMAT,
            "key": self.key,
            "component": self.component,
            "outputs": [dataclasses.asdict(o) for o in self.outputs],
            "manifest": self.manifest,
            "timings": dict(self.timings),
            "rpm_version": self.rpm_version,
            "buildroot": self.buildroot,
            "impure": self.impure,
            "created": self.created,
            "signatures": [dataclasses.asdict(s) for s in self.signatures],
        }

    def encode(self) -> bytes:
        return canonical(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any) -> "ActionEntry":
        if not isinstance(data, dict):
            raise ValueError("entry is not a map")
        if data.get("format") != ENTRY_FORMAT:
            raise ValueError(f"unknown entry format {data.get('format')!r}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields - {"format"}
        if unknown:
            raise ValueError(f"unknown entry fields: {', '.join(sorted(unknown))}")
        return cls(**{k: v for k, v in data.items() if k != "format"})

    @classmethod
    def decode(cls, data: bytes, where: str = "entry") -> "ActionEntry":
        """Parse stored bytes; anything malformed is a StoreError naming ``where``."""
        try:
            return cls.from_dict(decode(data))
        except StoreError as exc:
            raise StoreError(f"{where}: {exc.message}") from None
        except Exception as exc:  # msgpack, TypeError from bad fields, ValueError
            raise StoreError(f"{where}: damaged action entry ({exc})",
                             hint="run `hermetic store verify` to quarantine it") from None
