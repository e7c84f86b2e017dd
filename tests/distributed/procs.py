"""Finding a sandbox's processes from outside (tests only): each build's overlay has a fresh
upper directory, which shows in the mount options of every process of that sandbox."""

from __future__ import annotations

import os
from pathlib import Path


def upper_dirs(mountinfo: str) -> list[str]:
    """The ``upperdir=`` values of the overlay mounts in a /proc/PID/mountinfo text."""
    values = []
    for line in mountinfo.splitlines():
        if " - overlay " not in line:
            continue
        for option in line.rsplit(" ", 1)[-1].split(","):
            if option.startswith("upperdir="):
                values.append(option[len("upperdir="):])
    return values


def sandboxes_under(path: Path) -> list[int]:
    """Pids of sandbox processes whose overlay upper layer lies under ``path``."""
    marker = str(Path(path).resolve())
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/mountinfo") as handle:
                text = handle.read()
        except OSError:
            continue  # gone, or not ours to read
        if any(marker in value for value in upper_dirs(text)):
            found.append(int(entry.name))
    return found
