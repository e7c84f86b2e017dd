"""What a sandbox run is asked to do (``SandboxSpec``) and what came of it (``SandboxResult``).

Plain dataclasses with no dependencies: the scheduler, the rpm driver and the CLI build these
without importing anything heavy. The spec crosses to the helper process as a msgpack map.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from hermetic.errors import SandboxError

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass
class Bind:
    """``source`` on the host appears at ``target`` inside; read-only unless ``readonly=False``."""

    source: str
    target: str
    readonly: bool = True


@dataclass
class SandboxSpec:
    argv: list[str]
    root: str | None = None          # read-only root tree; None = host system dirs bound read-only
    overlay_upper: str | None = None  # root becomes the overlay lower, this dir the writable upper
    #                                   (root None: each host system dir gets an upper below it)
    binds: list[Bind] = field(default_factory=list)
    cwd: str = "/"
    env: dict[str, str] | None = None  # on top of the deterministic defaults
    hostname: str = "hermetic"
    domainname: str = "hermetic"
    cpu_count: int = 2
    timeout: float | None = None       # wall clock, seconds
    max_silent_time: float | None = None  # seconds without any output
    log_path: str | None = None
    profile: str = "default"           # or "strict"
    memory_max: int | None = None      # bytes; cgroup v2 memory.max when delegated
    pids_max: int | None = None        # cgroup v2 pids.max when delegated
    uid: int = 0                       # ids seen inside (mapped to the caller's)
    gid: int = 0
    home: str = "/builddir"            # HOME inside; falls back to /tmp when absent from the root
    tmp_size: int = 4 * GiB            # tmpfs /tmp cap
    shm_size: int = 64 * MiB           # tmpfs /dev/shm cap
    nofile: int = 65536                # RLIMIT_NOFILE
    nproc: int = 8192                  # RLIMIT_NPROC (counted per user namespace)
    fsize: int | None = None           # RLIMIT_FSIZE in bytes; None = unlimited
    network: str = "none"              # the only value: a private netns with just `lo`

    def validate(self) -> None:
        """Reject specs the helper cannot honour, naming the field at fault."""
        if not self.argv:
            raise SandboxError("sandbox spec: argv is empty", "give the command to run")
        for name in ("cwd", "home"):
            if not getattr(self, name).startswith("/"):
                raise SandboxError(f"sandbox spec: {name} {getattr(self, name)!r} is not absolute")
        for bind in self.binds:
            if not bind.target.startswith("/") or ".." in bind.target.split("/"):
                raise SandboxError(f"sandbox spec: bind target {bind.target!r} must be an "
                                   "absolute path without '..'")
        if self.profile not in ("default", "strict"):
            raise SandboxError(f"sandbox spec: unknown seccomp profile {self.profile!r}",
                               "use 'default' or 'strict'")
        if self.network != "none":
            raise SandboxError(f"sandbox spec: network {self.network!r} is not supported",
                               "builds never have network; only 'none' exists")
        if self.cpu_count < 1:
            raise SandboxError("sandbox spec: cpu_count must be at least 1")

    def to_wire(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> "SandboxSpec":
        data = dict(data)
        data["binds"] = [Bind(**bind) for bind in data.get("binds", [])]
        return cls(**data)


@dataclass
class SandboxResult:
    exit_code: int | None      # the payload's status when it exited
    signal: int | None         # the signal that killed it, if any
    timed_out: bool
    silent_timeout: bool
    duration: float            # seconds, start of the helper to its end

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.silent_timeout
