"""SOURCE_DATE_EPOCH for a build: the TOML override, else the newest %changelog date, else the
newest source mtime. Never 0: on rpm 4.18 a zero epoch silently turns clamping off."""

from __future__ import annotations

import calendar
import os
import re
import time
from pathlib import Path
from typing import Iterable

from hermetic.errors import ConfigError

_CHANGELOG_SECTION = re.compile(r"^%changelog\b", re.MULTILINE)
# "* Tue Mar 05 2024 Name <mail> - 1.2-1", also "* Tue Mar 05 12:00:00 UTC 2024 Name ..."
_ENTRY_DATE = re.compile(
    r"^\*\s+[A-Z][a-z]{2}\s+([A-Z][a-z]{2})\s+(\d{1,2})\s+"
    r"(?:(\d{1,2}):(\d{2}):(\d{2})\s+(?:[A-Z]{2,5}\s+)?)?(\d{4})\b")


def changelog_epoch(spec_text: str) -> int | None:
    """Unix time of the newest dated entry in the spec's %changelog, or None."""
    match = _CHANGELOG_SECTION.search(spec_text)
    if not match:
        return None
    newest: int | None = None
    for line in spec_text[match.end():].splitlines():
        entry = _ENTRY_DATE.match(line.strip())
        if not entry:
            continue
        month, day, hour, minute, second, year = entry.groups()
        try:
            parsed = time.strptime(f"{year} {month} {int(day):02d}", "%Y %b %d")
        except ValueError:
            continue
        value = calendar.timegm(parsed)
        if hour is not None:
            value += int(hour) * 3600 + int(minute) * 60 + int(second)
        newest = value if newest is None else max(newest, value)
    return newest


def newest_mtime(paths: Iterable[Path]) -> int | None:
    newest: int | None = None
    for path in paths:
        mtime = int(os.stat(path).st_mtime)
        newest = mtime if newest is None else max(newest, mtime)
    return newest


def source_date_epoch(spec_text: str, source_paths: Iterable[Path] = (),
                      override: int | None = None) -> int:
    """The epoch a build uses (see the module docstring); at least 1."""
    if override is not None:
        if isinstance(override, bool) or not isinstance(override, int) or override <= 0:
            raise ConfigError(f"source-date-epoch override {override!r} must be a positive "
                              f"integer (0 switches rpm's mtime clamping off)")
        return override
    value = changelog_epoch(spec_text)
    if value is None:
        value = newest_mtime(source_paths)
    return max(1, value or 1)
