"""List an RPM's payload: every file's path, size, mode, mtime, link target and blake3.

``rpm2cpio`` undoes whatever compression the payload uses; the cpio ``newc`` stream it prints
is parsed here, so nothing is written to disk and no file ownership or device node needs a
privilege to extract. Small files keep their bytes so a report can show the changed lines.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import blake3

from hermetic.errors import BuildError

NEWC_MAGIC = b"070701"
HEADER_SIZE = 110
TRAILER = "TRAILER!!!"
KEEP_BYTES = 64 * 1024       # files up to this size keep their content for text diffs


@dataclass(frozen=True)
class PayloadFile:
    path: str
    size: int
    mode: int
    mtime: int
    digest: str               # blake3 of the content ("" for directories)
    link: str | None = None   # symlink target
    content: bytes | None = None  # the bytes themselves when small


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError
    return data


def _skip_padding(stream: BinaryIO, consumed: int) -> None:
    pad = (4 - consumed % 4) % 4
    if pad:
        _read_exactly(stream, pad)


def parse_newc(stream: BinaryIO) -> dict[str, PayloadFile]:
    """Path (absolute, as installed) → PayloadFile, from a cpio newc stream."""
    files: dict[str, PayloadFile] = {}
    while True:
        header = _read_exactly(stream, HEADER_SIZE)
        if header[:6] != NEWC_MAGIC:
            raise ValueError(f"bad cpio magic {header[:6]!r}")
        fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, mtime, size, name_size = fields[1], fields[5], fields[6], fields[11]
        name = _read_exactly(stream, name_size)[:-1].decode("utf-8", "surrogateescape")
        _skip_padding(stream, HEADER_SIZE + name_size)
        if name == TRAILER:
            return files
        hasher = blake3.blake3()
        kept = bytearray() if size <= KEEP_BYTES else None
        remaining = size
        while remaining:
            chunk = _read_exactly(stream, min(remaining, 1 << 20))
            hasher.update(chunk)
            if kept is not None:
                kept += chunk
            remaining -= len(chunk)
        _skip_padding(stream, size)
        path = name[1:] if name.startswith("./") else name if name.startswith("/") else "/" + name
        is_link = (mode & 0o170000) == 0o120000
        is_dir = (mode & 0o170000) == 0o040000
        files[path] = PayloadFile(
            path=path, size=size, mode=mode, mtime=mtime,
            digest="" if is_dir else hasher.hexdigest(),
            link=bytes(kept).decode("utf-8", "surrogateescape") if is_link and kept is not None
            else None,
            content=bytes(kept) if kept is not None and not is_link and not is_dir else None)


def list_payload(rpm: Path) -> dict[str, PayloadFile]:
    """The payload of ``rpm`` (needs ``rpm2cpio``); a BuildError names the file on failure."""
    try:
        proc = subprocess.Popen(["rpm2cpio", str(rpm)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise BuildError("comparing RPM payloads needs rpm2cpio",
                         hint="apt-get install rpm2cpio") from None
    assert proc.stdout is not None and proc.stderr is not None
    try:
        files = parse_newc(proc.stdout)
    except (EOFError, ValueError) as exc:
        proc.kill()
        proc.wait()
        detail = proc.stderr.read().decode(errors="replace").strip() or str(exc) or "truncated"
        raise BuildError(f"{rpm}: cannot read the payload: {detail}") from None
    proc.stdout.read()
    proc.wait()
    return files
