"""What travels from the client to a worker, and back: digests and small values only (pure).

A task never carries file contents, tokens or keys: the worker fetches every object by digest
from the team cache, so the task is a few KB however large the sources are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hermetic.errors import ConfigError

WIRE_FORMAT = 1
DASK_KEY_PREFIX = "hermetic-"


def dask_key(key: str, attempt: int = 0) -> str:
    """The Dask key of a build: derived from the hermetic key only, so identical requests from
    two clients coalesce into one task. ``attempt`` > 0 names a deliberate resubmission."""
    return f"{DASK_KEY_PREFIX}{key}" if attempt == 0 else f"{DASK_KEY_PREFIX}{key}-{attempt}"


@dataclass(frozen=True)
class BuildTask:
    key: str
    name: str
    manifest: dict[str, Any]          # the input manifest: the worker re-keys it and compares
    spec_name: str
    files: dict[str, str]             # name -> blake3 of every input file (spec included)
    buildroot: str                    # tree digest of the buildroot
    dep_rpms: list[str]               # blake3 of each dependency RPM, in install order
    source_date_epoch: int
    check_skip: bool
    cpu_count: int
    timeout: float | None
    max_silent_time: float | None
    expensive: bool                   # asks for a big slot
    hermetic_version: str
    sandbox_profile: str
    run_id: str                       # names the run's cancel event and progress topic
    extra: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"format": WIRE_FORMAT, **asdict(self)}

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> "BuildTask":
        if not isinstance(wire, dict) or wire.get("format") != WIRE_FORMAT:
            raise ConfigError(f"build task: unknown wire format {wire.get('format')!r}"
                              if isinstance(wire, dict) else "build task: not a mapping")
        fields = {k: v for k, v in wire.items() if k != "format"}
        try:
            return cls(**fields)
        except TypeError as exc:
            raise ConfigError(f"build task: {exc}") from None


@dataclass(frozen=True)
class TaskResult:
    """A worker's answer. ``status``: built | cached (the cache already had it) | failed |
    cancelled. ``entry`` is the encoded, signed entry (objects by digest only)."""

    key: str
    name: str
    status: str
    worker: str = ""
    entry: bytes | None = None
    error: str | None = None
    log: str | None = None            # blake3 of the build log, pushed to the cache
    elapsed: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step on the worker

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> "TaskResult":
        return cls(**wire)
