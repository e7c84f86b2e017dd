"""Build options baked into the SRPM.

The component's ``with``/``without``/``defines``/``undefines``/``check.skip`` become a macros file
shipped as an extra source of the spec, and the spec loads it before anything else, so
``rpmbuild --rebuild`` of the SRPM anywhere gives the same build. The source number is chosen
above every number the spec uses, so it cannot collide.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from hermetic.errors import ConfigError

OPTIONS_FILE_NAME = "hermetic-options.macros"
MIN_OPTIONS_SOURCE_NUMBER = 9999
_SOURCE_TAG = re.compile(r"^Source(\d*)[ \t]*:", re.IGNORECASE | re.MULTILINE)
_MACRO_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BCOND_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_INJECTED = re.compile(
    r"\ASource(\d+): " + re.escape(OPTIONS_FILE_NAME)
    + r"\n%\{load:%\{SOURCE\1\}\}%\{\?_hermetic_apply_options\}\n")


def _get(config: Any, name: str, default: Any) -> Any:
    if config is None:
        return default
    if isinstance(config, Mapping):
        return config.get(name, config.get(name.replace("_", "-"), default))
    value = getattr(config, name, None)
    return default if value is None else value


def _check_skip(config: Any) -> bool:
    check = _get(config, "check", None)
    if isinstance(check, bool):
        return check is False
    return bool(_get(check, "skip", False))


def _escape_body(value: str, where: str) -> str:
    if "\n" in value or "\r" in value:
        raise ConfigError(f"{where}: a define's value must be one line")
    return value.replace("\\", "\\\\")


def build_options_macros(build_config: Any, release_bump: int = 0) -> str:
    """The options macros file for ``build_config`` (any object or dict with ``with``,
    ``without``, ``defines``, ``undefines`` and ``check.skip``).

    Equivalent to ``rpmbuild --with X --without Y --define 'N V' --undefine U`` (+ skipping
    %check), but part of the SRPM.
    """
    withs: Iterable[str] = _get(build_config, "with_", None) or _get(build_config, "with", [])
    withouts: Iterable[str] = _get(build_config, "without", [])
    defines: Mapping[str, Any] = _get(build_config, "defines", {})
    undefines: Iterable[str] = _get(build_config, "undefines", [])
    lines = ["# hermetic build options (generated; loaded by the spec, shipped in the SRPM)"]
    for option in sorted(set(withs)):
        if not _BCOND_NAME.match(option):
            raise ConfigError(f"build.with: {option!r} is not a valid bcond name")
        lines.append(f"%_with_{option} --with-{option}")
    for option in sorted(set(withouts)):
        if not _BCOND_NAME.match(option):
            raise ConfigError(f"build.without: {option!r} is not a valid bcond name")
        lines.append(f"%_without_{option} --without-{option}")
    for name in sorted(defines):
        if not _MACRO_NAME.match(name):
            raise ConfigError(f"build.defines: {name!r} is not a valid macro name")
        lines.append(f"%{name} {_escape_body(str(defines[name]), f'build.defines.{name}')}")
    lines.append(f"%_hermetic_release_bump {int(release_bump)}")
    undefine_calls = []
    for name in sorted(set(undefines)):
        if not _MACRO_NAME.match(name):
            raise ConfigError(f"build.undefines: {name!r} is not a valid macro name")
        undefine_calls.append(f"%{{undefine:{name}}}")
    # A macros file can only define; the spec's load line expands this to apply the undefines.
    lines.append("%_hermetic_apply_options " + ("".join(undefine_calls) or "%{nil}"))
    if _check_skip(build_config):
        # rpm 4.18 has no macro for --nocheck; end the %check script right after its preamble.
        lines.append("%__spec_check_pre %{___build_pre}\\\nexit 0")
    return "\n".join(lines) + "\n"


def max_source_number(spec_text: str) -> int:
    """The highest SourceN number the spec declares (``Source:`` counts as 0); -1 if none."""
    numbers = [int(match.group(1) or 0) for match in _SOURCE_TAG.finditer(spec_text)]
    return max(numbers, default=-1)


def options_source_number(spec_text: str) -> int:
    return max(MIN_OPTIONS_SOURCE_NUMBER, max_source_number(spec_text) + 1)


def is_injected(spec_text: str) -> bool:
    return bool(_INJECTED.match(spec_text))


def injected_line_count(spec_text: str) -> int:
    """Lines :func:`inject_options` put in front of the original spec (0 if none)."""
    return 2 if is_injected(spec_text) else 0


def inject_options(spec_text: str) -> str:
    """Make the spec load :data:`OPTIONS_FILE_NAME` (place it in SOURCES) before anything else.

    Idempotent. Two lines go in front, so rpm's line numbers move by two; hermetic's own
    messages give the original line numbers.
    """
    if is_injected(spec_text):
        return spec_text
    number = options_source_number(spec_text)
    return (f"Source{number}: {OPTIONS_FILE_NAME}\n"
            f"%{{load:%{{SOURCE{number}}}}}%{{?_hermetic_apply_options}}\n" + spec_text)
