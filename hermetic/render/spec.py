"""A structural model of RPM spec text that round-trips byte for byte.

The spec is kept as its physical lines (each with its own line terminator), and the structure —
sections, tags, ``%if`` … ``%endif`` pairs — is derived from the lines on demand and re-derived after
every edit. That keeps the model honest: there is one source of truth (the lines), ``SpecText(t).text
== t`` for any input, and an edit can never leave a stale index behind.

What counts as structure follows rpm and azldev:

* a *section* starts at a line whose first token is one of ``SECTION_NAMES`` (case-insensitive) and
  runs to the next section header; everything before the first header is the *preamble*;
* a section's *package* is its ``-n NAME`` argument or its first non-option argument (``%files
  devel`` → ``devel``, ``%package -n libfoo`` → ``libfoo``); options that take a value (``-f``,
  ``-p``) are skipped and ``--`` ends the package part (trigger conditions follow it);
* *tags* (``Name: value``, ``Requires(post): x``, ``Source12: y``) exist only in the preamble and in
  ``%package`` sections;
* *conditionals* are ``%if``/``%ifarch``/``%ifnarch``/``%ifos``/``%ifnos`` … ``%endif`` with
  ``%else``/``%elif*`` branches; comment lines and backslash-continued lines never count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

SECTION_NAMES: frozenset[str] = frozenset({
    "%package", "%description", "%prep", "%conf", "%build", "%install", "%check", "%clean",
    "%generate_buildrequires", "%files", "%changelog", "%patchlist", "%sourcelist",
    "%pre", "%post", "%preun", "%postun", "%pretrans", "%posttrans", "%preuntrans",
    "%postuntrans", "%verify", "%triggerprein", "%triggerin", "%triggerun", "%triggerpostun",
    "%filetriggerin", "%filetriggerun", "%filetriggerpostun", "%transfiletriggerin",
    "%transfiletriggerun", "%transfiletriggerpostun",
})

# Sections that belong to the whole spec, never to a sub-package, whatever follows the keyword.
_SPEC_WIDE_SECTIONS = frozenset({"%changelog", "%patchlist", "%sourcelist"})

_CONDITIONAL_OPENERS = frozenset({"%if", "%ifarch", "%ifnarch", "%ifos", "%ifnos"})
_CONDITIONAL_BRANCHES = frozenset({"%else", "%elif", "%elifarch", "%elifnarch", "%elifos", "%elifnos"})

# Options of section headers that consume the following token.
_OPTIONS_WITH_VALUE = frozenset({"-f", "-p", "-P", "-e"})

TAG_LINE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<name>[A-Za-z][A-Za-z0-9_]*(?:\([^)]*\))?)[ \t]*:(?P<gap>[ \t]*)"
    r"(?P<value>.*?)(?P<trail>[ \t]*)$"
)


def _strip_terminator(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith(("\n", "\r")):
        return line[:-1]
    return line


def tag_family(tag: str) -> str:
    """``Source9999`` → ``source``; ``Patch`` → ``patch``; ``BuildRequires`` → ``buildrequires``."""
    lowered = tag.lower()
    stripped = lowered.rstrip("0123456789")
    return stripped or lowered


def package_of_header(tokens: list[str]) -> tuple[str, str]:
    """The package a section header names: (resolved name, argument as spelled).

    ``["%files", "devel"]`` → ``("devel", "devel")``; ``["%package", "-n", "libx"]`` →
    ``("libx", "-n libx")``; ``["%post", "-p", "/sbin/ldconfig"]`` → ``("", "")``.
    """
    if not tokens or tokens[0].lower() in _SPEC_WIDE_SECTIONS:
        return "", ""
    full_name = ""
    suffix = ""
    index = 1
    while index < len(tokens):
        token = tokens[index]
        if token == "--":
            break  # trigger conditions follow; they name other packages, not this section's
        if token == "-n":
            if index + 1 < len(tokens):
                full_name = tokens[index + 1]
            index += 2
        elif token in _OPTIONS_WITH_VALUE:
            index += 2
        elif token.startswith("-"):
            index += 1
        else:
            if not suffix:
                suffix = token
            index += 1
    if full_name:
        return full_name, f"-n {full_name}"
    return suffix, suffix


@dataclass(frozen=True)
class Section:
    """One section of the spec. ``name`` is ``""`` for the preamble."""

    name: str          # keyword as spelled in the spec, e.g. "%files"; "" for the preamble
    header: int | None  # line index of the header line; None for the preamble
    start: int         # first line (the header, or 0 for the preamble)
    end: int           # one past the last line
    package: str       # resolved package: "devel" for "%files devel", "libx" for "-n libx"
    package_arg: str   # the package argument as spelled: "devel", "-n libx" or ""

    @property
    def keyword(self) -> str:
        return self.name.lower()

    @property
    def body_start(self) -> int:
        return self.start if self.header is None else self.header + 1

    @property
    def holds_tags(self) -> bool:
        return self.keyword in ("", "%package")

    def describe(self) -> str:
        if not self.name:
            return "the preamble"
        return f"{self.name} {self.package_arg}".strip()


@dataclass(frozen=True)
class Tag:
    line: int
    name: str    # as spelled, qualifier included: "Requires(post)"
    value: str   # stripped
    section: Section


@dataclass(frozen=True)
class Conditional:
    """A matched ``%if`` … ``%endif`` pair and the ``%else``/``%elif`` lines between them."""

    if_line: int
    endif_line: int
    branch_lines: tuple[int, ...]

    def contains(self, index: int) -> bool:
        return self.if_line <= index <= self.endif_line


class SpecStructureError(ValueError):
    """The spec's conditionals do not nest (an ``%endif`` without ``%if`` or the reverse)."""


class SpecText:
    """Spec lines plus the structure derived from them. Mutations re-derive the structure."""

    def __init__(self, text: str) -> None:
        self._lines: list[str] = text.splitlines(keepends=True)
        self.newline = "\r\n" if self._lines and self._lines[0].endswith("\r\n") else "\n"

    # ---- text -------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return "".join(self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def line(self, index: int) -> str:
        """The line's content without its terminator."""
        return _strip_terminator(self._lines[index])

    def lines(self) -> list[str]:
        return [_strip_terminator(line) for line in self._lines]

    # ---- mutation ---------------------------------------------------------------------------

    def _invalidate(self) -> None:
        for name in ("_continuations", "sections", "conditionals", "tags"):
            self.__dict__.pop(name, None)

    def insert_lines(self, index: int, new_lines: list[str]) -> None:
        """Insert ``new_lines`` (without terminators) before line ``index``."""
        if not new_lines:
            return
        if index > 0 and index == len(self._lines) and self._lines[-1] == _strip_terminator(self._lines[-1]):
            self._lines[-1] += self.newline  # the last line had no terminator; it needs one now
        self._lines[index:index] = [line + self.newline for line in new_lines]
        self._invalidate()

    def replace_line(self, index: int, content: str) -> None:
        """Replace the content of line ``index``, keeping its terminator."""
        old = self._lines[index]
        terminator = old[len(_strip_terminator(old)):]
        self._lines[index] = content + terminator
        self._invalidate()

    def delete_lines(self, start: int, end: int) -> None:
        del self._lines[start:end]
        self._invalidate()

    # ---- line classification ----------------------------------------------------------------

    @cached_property
    def _continuations(self) -> frozenset[int]:
        """Indices of lines that continue the previous line (after a trailing backslash)."""
        result = set()
        for index in range(1, len(self._lines)):
            if self.line(index - 1).endswith("\\") and (index - 1 in result or not self._is_comment(index - 1)):
                result.add(index)
        return frozenset(result)

    def _is_comment(self, index: int) -> bool:
        return self.line(index).lstrip().startswith("#")

    def first_token(self, index: int) -> str:
        if index in self._continuations or self._is_comment(index):
            return ""
        tokens = self.line(index).split()
        return tokens[0].lower() if tokens else ""

    def directive(self, index: int) -> str | None:
        """``"if"``, ``"branch"`` (``%else``/``%elif*``), ``"endif"`` or None."""
        token = self.first_token(index)
        if token in _CONDITIONAL_OPENERS:
            return "if"
        if token in _CONDITIONAL_BRANCHES:
            return "branch"
        if token == "%endif":
            return "endif"
        return None

    def is_section_header(self, index: int) -> bool:
        return self.first_token(index) in SECTION_NAMES

    def is_blank(self, index: int) -> bool:
        return not self.line(index).strip()

    # ---- derived structure ------------------------------------------------------------------

    @cached_property
    def sections(self) -> tuple[Section, ...]:
        headers = [i for i in range(len(self._lines)) if self.is_section_header(i)]
        first = headers[0] if headers else len(self._lines)
        result = [Section("", None, 0, first, "", "")]
        for position, header in enumerate(headers):
            end = headers[position + 1] if position + 1 < len(headers) else len(self._lines)
            tokens = self.line(header).split()
            package, package_arg = package_of_header(tokens)
            result.append(Section(tokens[0], header, header, end, package, package_arg))
        return tuple(result)

    def section_at(self, index: int) -> Section:
        for section in self.sections:
            if section.start <= index < section.end:
                return section
        return self.sections[-1]

    @cached_property
    def conditionals(self) -> tuple[Conditional, ...]:
        stack: list[tuple[int, list[int]]] = []
        pairs: list[Conditional] = []
        for index in range(len(self._lines)):
            kind = self.directive(index)
            if kind == "if":
                stack.append((index, []))
            elif kind == "branch":
                if not stack:
                    raise SpecStructureError(f"line {index + 1}: {self.line(index).strip()} without %if")
                stack[-1][1].append(index)
            elif kind == "endif":
                if not stack:
                    raise SpecStructureError(f"line {index + 1}: %endif without %if")
                opener, branches = stack.pop()
                pairs.append(Conditional(opener, index, tuple(branches)))
        if stack:
            raise SpecStructureError(f"line {stack[-1][0] + 1}: %if without %endif")
        return tuple(sorted(pairs, key=lambda pair: pair.if_line))

    def conditional_owning(self, index: int) -> Conditional | None:
        """The pair that ``index`` (an ``%if``, ``%else``/``%elif`` or ``%endif`` line) belongs to."""
        for pair in self.conditionals:
            if index == pair.if_line or index == pair.endif_line or index in pair.branch_lines:
                return pair
        return None

    def enclosing_conditionals(self, start: int, end: int) -> list[Conditional]:
        """Pairs strictly around the line range ``[start, end)``, innermost first."""
        around = [p for p in self.conditionals if p.if_line < start and p.endif_line >= end]
        return sorted(around, key=lambda pair: pair.if_line, reverse=True)

    @cached_property
    def tags(self) -> tuple[Tag, ...]:
        result = []
        for section in self.sections:
            if not section.holds_tags:
                continue
            for index in range(section.body_start, section.end):
                if index in self._continuations or self._is_comment(index):
                    continue
                match = TAG_LINE.match(self.line(index))
                if match:
                    result.append(Tag(index, match["name"], match["value"], section))
        return tuple(result)

    def set_tag_value(self, tag: Tag, value: str) -> None:
        """Replace a tag's value, keeping its name's spelling and the line's alignment."""
        match = TAG_LINE.match(self.line(tag.line))
        assert match is not None  # tags are only built from matching lines
        gap = match["gap"] or " "
        self.replace_line(tag.line, f"{match['indent']}{match['name']}:{gap}{value}")

    def depth_between(self, start: int, index: int) -> int:
        """Conditional nesting depth at the end of line ``index``, counted from line ``start``."""
        depth = 0
        for i in range(start, index + 1):
            kind = self.directive(i)
            depth += 1 if kind == "if" else -1 if kind == "endif" else 0
        return depth

    def content_end(self, section: Section) -> int:
        """One past the section's last non-blank line (appended lines go here, before blanks)."""
        end = section.end
        while end > section.body_start and self.is_blank(end - 1):
            end -= 1
        return end
