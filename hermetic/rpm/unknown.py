"""Unknown macros must fail the build loudly, naming the spec line.

rpm 4.18 leaves a macro it does not know as literal text: in a tag it ends up in the header, in a
script the shell later fails with "command not found" (or worse, does not). So the build first
writes ``rpmspec -P`` (the spec fully expanded with the same macros and options), and this module
looks in it for ``%name`` / ``%{name}`` left behind. A leftover is confirmed against the spec as
written (``%%name`` there is an escaped percent, not a macro) and reported with that line.

Bare ``%x`` tokens shorter than three characters or shaped like printf/date conversions
(``%s``, ``%lu``, ``%Y``) are not reported: specs use them in shell lines and rpm leaves them alone
on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Section headers, file-list directives and built-ins that legitimately survive `rpmspec -P`.
KNOWN_KEYWORDS = frozenset("""
package description prep build install check clean files changelog pre post preun postun
pretrans posttrans preuntrans postuntrans verifyscript triggerprein triggerin triggerun
triggerpostun filetriggerin filetriggerun filetriggerpostun transfiletriggerin
transfiletriggerun transfiletriggerpostun generate_buildrequires sourcelist patchlist conf end
dir doc docdir license config attr defattr ghost exclude lang verify caps artifact missingok
readme pubkey if ifarch ifnarch ifos ifnos else elif elifarch elifos endif include global
define undefine setup autosetup patch autopatch
""".split())

_PRINTF_LIKE = re.compile(r"^[hlLqjzt]{0,2}[diouxXeEfFgGaAcspn]$")
_BRACED = re.compile(r"(?<!%)%\{([!?]*)([A-Za-z_][A-Za-z0-9_]*)")
_BARE = re.compile(r"(?<![%\w])%([A-Za-z_][A-Za-z0-9_]*)")
_CHANGELOG = re.compile(r"^%changelog\b")


@dataclass(frozen=True)
class UnknownMacro:
    name: str
    line_number: int   # 1-based, in the spec as written (0 when not found there)
    line: str

    def describe(self, spec_name: str) -> str:
        where = f"{spec_name}:{self.line_number}" if self.line_number else spec_name
        shown = f": {self.line.strip()}" if self.line else ""
        return f"{where}: unknown macro %{self.name}{shown}"


def _without_changelog(lines: list[str]) -> list[tuple[int, str]]:
    kept: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if _CHANGELOG.match(line):
            break
        kept.append((number, line))
    return kept


def _candidates(parsed_spec: str) -> list[str]:
    names: list[str] = []
    for _, line in _without_changelog(parsed_spec.splitlines()):
        for match in _BRACED.finditer(line):
            if "?" not in match.group(1):
                names.append(match.group(2))
        for match in _BARE.finditer(line):
            name = match.group(1)
            if name in KNOWN_KEYWORDS or len(name) < 3 or _PRINTF_LIKE.match(name):
                continue
            # A section header or directive at the start of a line (e.g. "%files -n x").
            names.append(name)
    seen: dict[str, None] = {}
    for name in names:
        if name not in KNOWN_KEYWORDS:
            seen.setdefault(name, None)
    return list(seen)


def find_unknown_macros(raw_spec: str, parsed_spec: str, line_offset: int = 0) -> list[UnknownMacro]:
    """Macros left unexpanded in ``parsed_spec`` that the spec itself references.

    ``line_offset`` lines at the top of ``raw_spec`` were added by hermetic; reported line numbers
    are those of the spec as the user wrote it.
    """
    raw_lines = _without_changelog(raw_spec.splitlines())
    found: list[UnknownMacro] = []
    for name in _candidates(parsed_spec):
        pattern = re.compile(r"(?<!%)%(\{[!?]*)?" + re.escape(name) + r"(?![A-Za-z0-9_])")
        for number, line in raw_lines:
            if number <= line_offset:
                continue
            if pattern.search(line):
                found.append(UnknownMacro(name, number - line_offset, line))
                break
    return sorted(found, key=lambda item: item.line_number)
