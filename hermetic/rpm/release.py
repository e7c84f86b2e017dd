"""``release.calculation`` as azldev defines it.

- ``manual``: the spec's Release is used as written.
- ``autorelease``: the spec must use ``%autorelease``; the release number is 1 plus the bump.
- ``static``: the spec must have a static Release; its leading integer is raised by the bump.
- ``auto`` (default): ``%autorelease`` specs behave as ``autorelease``, all others as ``static``.

The bump is the number of changes hermetic layered on the upstream spec (azldev counts the
commits that changed the component); 0 leaves a static Release untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hermetic.errors import ConfigError

CALCULATIONS = ("auto", "autorelease", "static", "manual")
_RELEASE_TAG = re.compile(r"^(Release[ \t]*:[ \t]*)(\S.*?)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_AUTORELEASE = re.compile(r"%(\{\??)?autorelease\b")
_LEADING_INT = re.compile(r"^(\d+)")


@dataclass(frozen=True)
class ReleaseDecision:
    spec_text: str
    autorelease_bump: int   # value for %_hermetic_release_bump in the options file
    mode: str               # the effective mode: autorelease, static or manual


def release_value(spec_text: str) -> str | None:
    match = _RELEASE_TAG.search(spec_text)
    return match.group(2) if match else None


def apply_release(spec_text: str, calculation: str = "auto", bump: int = 0,
                  where: str = "spec") -> ReleaseDecision:
    calculation = calculation or "auto"
    if calculation not in CALCULATIONS:
        raise ConfigError(f"{where}: release.calculation {calculation!r} is not one of "
                          f"{', '.join(CALCULATIONS)}")
    if bump < 0:
        raise ConfigError(f"{where}: release bump {bump} must not be negative")
    if calculation == "manual":
        return ReleaseDecision(spec_text, 0, "manual")
    value = release_value(spec_text)
    if value is None:
        raise ConfigError(f"{where}: the spec has no Release tag")
    uses_autorelease = bool(_AUTORELEASE.search(value))
    if calculation == "autorelease" and not uses_autorelease:
        raise ConfigError(f"{where}: release.calculation is 'autorelease' but Release is "
                          f"{value!r}", hint="use 'auto' or 'static', or Release: %autorelease")
    if calculation == "static" and uses_autorelease:
        raise ConfigError(f"{where}: release.calculation is 'static' but Release uses "
                          f"%autorelease", hint="set release.calculation = \"autorelease\"")
    if uses_autorelease:
        return ReleaseDecision(spec_text, bump, "autorelease")
    number = _LEADING_INT.match(value)
    if number is None:
        if bump:
            raise ConfigError(f"{where}: cannot bump Release {value!r}: it does not start "
                              f"with a number", hint="use release.calculation = \"manual\"")
        return ReleaseDecision(spec_text, 0, "static")
    if not bump:
        return ReleaseDecision(spec_text, 0, "static")
    bumped = str(int(number.group(1)) + bump) + value[number.end():]
    match = _RELEASE_TAG.search(spec_text)
    assert match is not None
    new_text = spec_text[:match.start(2)] + bumped + spec_text[match.end(2):]
    return ReleaseDecision(new_text, 0, "static")
