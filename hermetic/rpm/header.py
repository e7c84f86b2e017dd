"""Read RPM headers on the host with ``rpm -qp --qf`` (no rpm Python bindings needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hermetic.errors import BuildError

_FIELD = "\x1f"
_RECORD = "\x1e"
_SCALARS = ("NAME", "EPOCH", "VERSION", "RELEASE", "ARCH", "SOURCERPM", "BUILDTIME",
            "BUILDHOST", "SIZE", "SUMMARY", "LICENSE", "PAYLOADCOMPRESSOR", "PAYLOADFLAGS")
_LISTS = ("PROVIDE", "REQUIRE")


def _query_format() -> str:
    scalars = _FIELD.join(f"%{{{tag}}}" for tag in _SCALARS)
    # Every list record starts with its tag, so empty lists cannot shift the others.
    lists = "".join(
        f"[{_RECORD}{tag}{_FIELD}%{{{tag}NAME}}{_FIELD}%{{{tag}FLAGS:depflags}}{_FIELD}"
        f"%{{{tag}VERSION}}]"
        for tag in _LISTS)
    return scalars + lists


def _deps(records: list[str], tag: str) -> list[dict[str, str]]:
    deps = []
    for record in records:
        fields = record.split(_FIELD)
        if len(fields) != 4 or fields[0] != tag:
            continue
        deps.append({"name": fields[1], "flags": fields[2].strip(), "version": fields[3]})
    return deps


def read_rpm_header(path: Path) -> dict:
    """name, epoch (int|None), version, release, arch (``src`` for SRPMs), sourcerpm,
    buildtime, buildhost, size, summary, license, provides and requires
    (``[{name, flags, version}]``), and nevra."""
    proc = subprocess.run(
        ["rpm", "-qp", "--nosignature", "--nodigest", "--qf", _query_format(), "--", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    if proc.returncode != 0:
        raise BuildError(f"{path}: cannot read the RPM header: {proc.stderr.strip()}")
    head, *records = proc.stdout.split(_RECORD)
    values = head.split(_FIELD)
    if len(values) != len(_SCALARS):
        raise BuildError(f"{path}: unexpected rpm query output")
    header = {tag.lower(): value for tag, value in zip(_SCALARS, values)}
    is_source = header["sourcerpm"] == "(none)"
    header["provides"] = _deps(records, "PROVIDE")
    header["requires"] = _deps(records, "REQUIRE")
    header["epoch"] = None if header["epoch"] == "(none)" else int(header["epoch"])
    header["buildtime"] = int(header["buildtime"])
    header["size"] = int(header["size"])
    if is_source:
        header["arch"] = "src"
        header["sourcerpm"] = None
    epoch = f"{header['epoch']}:" if header["epoch"] is not None else ""
    header["nevra"] = (f"{header['name']}-{epoch}{header['version']}-{header['release']}"
                       f".{header['arch']}")
    return header
