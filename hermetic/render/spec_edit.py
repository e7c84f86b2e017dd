"""Edits of a ``SpecText`` with azldev's semantics: tags, lines, sections, sub-packages, patches.

Every function mutates the ``SpecText`` it is given and raises ``SpecEditError`` (a plain message,
no overlay context) when the edit cannot apply; ``hermetic.render.overlays`` adds the component,
overlay index, type and description. Callers that need atomicity edit a copy.

Placement rules (matching azldev's structural editor):

* appended lines go after the section's last content line — before its trailing blank lines and
  before any ``%if`` that opens the *next* section's conditional wrapper;
* prepended lines go right after the section header (top of file for the whole spec);
* a tag is added at the end of its package's preamble; an inserted tag goes after the last tag of
  its family (``Source9999`` after the last ``Source*``), else after the last tag, and never inside
  a ``%if`` block (it moves past the block's ``%endif``);
* removing a section keeps ``%if``/``%endif`` balanced: directives that belong to an enclosing
  conditional stay, a conditional left with nothing but blank lines is removed, and a conditional
  that mixes the section's content with another section's is an error.
"""

from __future__ import annotations

import re

from hermetic.render.globs import glob_matches
from hermetic.render.spec import TAG_LINE, Section, SpecText, Tag, tag_family

# Tags that legitimately repeat in one package: spec-add-tag refuses only an identical value.
REPEATABLE_TAGS = frozenset({
    "buildrequires", "buildconflicts", "requires", "provides", "conflicts", "obsoletes",
    "recommends", "suggests", "supplements", "enhances", "orderwithrequires", "exclusivearch",
    "excludearch", "exclusiveos", "excludeos", "buildarch", "license", "url", "source", "patch",
    "nosource", "nopatch", "prefixes", "prefix",
})

_PATCH_TAG = re.compile(r"^patch(?P<number>\d*)$", re.IGNORECASE)


class SpecEditError(Exception):
    """An edit that cannot apply to this spec; the message says what is missing or wrong."""


# ---- selecting sections ---------------------------------------------------------------------


def _normalise_keyword(name: str) -> str:
    name = name.strip().lower()
    return name if name.startswith("%") or not name else f"%{name}"


def _normalise_package(package: str | None) -> str:
    if not package:
        return ""
    tokens = package.split()
    return " ".join(tokens)


def split_section_selector(section: str | None, package: str | None) -> tuple[str, str]:
    """``("%files devel", None)`` → ``("%files", "devel")``; the keyword is lower-cased.

    A ``section`` may carry its package argument the way the spec spells it; giving a different
    one in ``package`` as well is an error.
    """
    wanted_package = _normalise_package(package)
    if not section:
        return "", wanted_package
    tokens = section.split()
    keyword = _normalise_keyword(tokens[0])
    inline_package = " ".join(tokens[1:])
    if inline_package and wanted_package and inline_package != wanted_package:
        raise SpecEditError(
            f"section {section!r} names package {inline_package!r} but package is {package!r}")
    return keyword, inline_package or wanted_package


def package_matches(section: Section, wanted: str) -> bool:
    """``wanted`` as the spec spells it: ``devel`` matches ``%files devel`` and ``%files -n devel``
    (azldev's rule); ``-n libx`` matches only the ``-n`` form; ``""`` matches the main package."""
    if not wanted:
        return section.package == ""
    if wanted.startswith("-n "):
        return section.package_arg == wanted
    return section.package == wanted


def find_sections(spec: SpecText, keyword: str, package: str) -> list[Section]:
    return [s for s in spec.sections[1:] if s.keyword == keyword and package_matches(s, package)]


def _describe(keyword: str, package: str) -> str:
    return f"{keyword} {package}".strip()


def _first_section(spec: SpecText, keyword: str, package: str) -> Section:
    found = find_sections(spec, keyword, package)
    if not found:
        raise SpecEditError(f"section {_describe(keyword, package)!r} not found")
    return found[0]


def package_preamble(spec: SpecText, package: str) -> Section:
    """The preamble for ``""`` or the ``%package`` section of a sub-package."""
    if not package:
        return spec.sections[0]
    found = find_sections(spec, "%package", package)
    if not found:
        raise SpecEditError(f"sub-package {package!r} not found (no '%package {package}')")
    return found[0]


# ---- section extents ------------------------------------------------------------------------


def _belongs_outside(spec: SpecText, index: int, start: int, end: int) -> bool:
    """A directive line whose conditional is not entirely within ``[start, end)``."""
    if spec.directive(index) is None:
        return False
    pair = spec.conditional_owning(index)
    return pair is None or not (start <= pair.if_line and pair.endif_line < end)


def _tail_start(spec: SpecText, section: Section) -> int:
    """Where the section's trailing blanks and foreign conditional directives begin."""
    tail = section.end
    while tail > section.body_start and (
            spec.is_blank(tail - 1) or _belongs_outside(spec, tail - 1, section.start, section.end)):
        tail -= 1
    return tail


def content_end(spec: SpecText, section: Section) -> int:
    """Index right after the section's last content line: where appended lines go."""
    return _tail_start(spec, section)


def _removal_range(spec: SpecText, section: Section) -> tuple[int, int]:
    if section.header is None:
        raise SpecEditError("the preamble cannot be removed")
    tail = _tail_start(spec, section)
    for index in range(section.start, tail):
        if spec.directive(index) is None:
            continue
        pair = spec.conditional_owning(index)
        if pair is None or not (section.start <= pair.if_line and pair.endif_line < tail):
            raise SpecEditError(
                f"section {section.describe()!r} (line {section.header + 1}) shares the conditional "
                f"at line {(pair.if_line if pair else index) + 1} with another section; "
                "adjust the conditional with spec-search-replace first")
    # Keep foreign directives (and whatever follows the first one); drop the blank lines before.
    cut = next((i for i in range(tail, section.end) if spec.directive(i) is not None), section.end)
    return section.start, cut


def _drop_emptied_conditionals(spec: SpecText, position: int) -> None:
    """Remove conditionals around ``position`` that now hold only blank lines, innermost first."""
    while True:
        around = [p for p in spec.conditionals if p.if_line < position <= p.endif_line]
        if not around:
            return
        pair = max(around, key=lambda p: p.if_line)
        inner = range(pair.if_line + 1, pair.endif_line)
        if not all(spec.is_blank(i) or i in pair.branch_lines for i in inner):
            return
        end = pair.endif_line + 1
        spec.delete_lines(pair.if_line, end)
        position = pair.if_line
        # The block usually sat between two blank lines; keep one of them, not both.
        if 0 < position < len(spec) and spec.is_blank(position - 1) and spec.is_blank(position):
            spec.delete_lines(position, position + 1)


def remove_section_block(spec: SpecText, section: Section) -> None:
    start, end = _removal_range(spec, section)
    spec.delete_lines(start, end)
    _drop_emptied_conditionals(spec, start)


# ---- lines ----------------------------------------------------------------------------------


def prepend_lines(spec: SpecText, section: str | None, package: str | None, lines: list[str]) -> None:
    keyword, wanted = split_section_selector(section, package)
    if not keyword:
        if wanted:
            raise SpecEditError("package needs a section (prepending to the whole file has none)")
        spec.insert_lines(0, lines)
        return
    target = _first_section(spec, keyword, wanted)
    spec.insert_lines(target.body_start, lines)


def append_lines(spec: SpecText, section: str | None, package: str | None, lines: list[str]) -> None:
    keyword, wanted = split_section_selector(section, package)
    if not keyword:
        if wanted:
            raise SpecEditError("package needs a section (appending to the whole file has none)")
        spec.insert_lines(len(spec), lines)
        return
    target = _first_section(spec, keyword, wanted)
    spec.insert_lines(content_end(spec, target), lines)


def search_replace(spec: SpecText, section: str | None, package: str | None,
                   regex: str, replacement: str) -> int:
    """Replace every match of ``regex`` (literal replacement) in the selected lines.

    Section header lines are never edited (as in azldev). Returns the number of changed lines;
    zero is an error.
    """
    keyword, wanted = split_section_selector(section, package)
    pattern = re.compile(regex)
    if keyword:
        targets = find_sections(spec, keyword, wanted)
        if not targets:
            raise SpecEditError(f"section {_describe(keyword, wanted)!r} not found")
    elif wanted:
        targets = [s for s in spec.sections[1:] if package_matches(s, wanted)]
        if not targets:
            raise SpecEditError(f"no section of package {wanted!r} found")
    else:
        targets = list(spec.sections)
    changed = 0
    for target in targets:
        for index in range(target.body_start, target.end):
            old = spec.line(index)
            new = pattern.sub(lambda _match: replacement, old)
            if new != old:
                spec.replace_line(index, new)
                changed += 1
    if not changed:
        where = f" in {_describe(keyword, wanted)}" if keyword or wanted else ""
        raise SpecEditError(f"regex {regex!r} matched nothing{where}")
    return changed


# ---- sections and sub-packages ----------------------------------------------------------------


def remove_section(spec: SpecText, section: str, package: str | None) -> None:
    keyword, wanted = split_section_selector(section, package)
    if not keyword:
        raise SpecEditError("section must name a section, e.g. '%check'")
    if not find_sections(spec, keyword, wanted):
        raise SpecEditError(f"section {_describe(keyword, wanted)!r} not found")
    # Every section with this identity goes (e.g. one in each branch of an %if/%else), last first
    # so that earlier indices stay valid.
    while True:
        found = find_sections(spec, keyword, wanted)
        if not found:
            return
        remove_section_block(spec, found[-1])


def remove_subpackage(spec: SpecText, package: str) -> None:
    wanted = _normalise_package(package)
    if not wanted:
        raise SpecEditError("package must name a sub-package")

    def owned() -> list[Section]:
        return [s for s in spec.sections[1:] if s.package and package_matches(s, wanted)]

    if not owned():
        raise SpecEditError(f"sub-package {wanted!r} not found")
    while True:
        found = owned()
        if not found:
            return
        remove_section_block(spec, found[-1])


# ---- tags -----------------------------------------------------------------------------------


def tags_of(spec: SpecText, package: str) -> list[Tag]:
    wanted = _normalise_package(package)
    return [t for t in spec.tags if package_matches(t.section, wanted) and
            (not wanted or t.section.keyword == "%package")]


def _matching_tags(spec: SpecText, package: str, tag: str) -> list[Tag]:
    return [t for t in tags_of(spec, package) if t.name.lower() == tag.lower()]


def format_tag(spec: SpecText, section: Section, tag: str, value: str,
               like: Tag | None = None) -> str:
    """``Tag: value``, the value aligned like ``like`` (or the section's usual alignment)."""
    def aligned(tags: list[Tag]) -> list[tuple[str, int]]:
        found = []
        for existing in tags:
            match = TAG_LINE.match(spec.line(existing.line))
            if match and len(match["gap"]) > 1:
                found.append((match["indent"], match.start("value")))
        return found

    columns = aligned([like]) if like is not None else []
    if not columns:
        columns = aligned([t for t in spec.tags if t.section == section])
    if columns:
        indent, column = max(set(columns), key=columns.count)
        head = f"{indent}{tag}:"
        if len(head) < column:
            return head.ljust(column) + value
    return f"{tag}: {value}"


def _append_tag(spec: SpecText, package: str, tag: str, value: str) -> None:
    target = package_preamble(spec, _normalise_package(package))
    spec.insert_lines(content_end(spec, target), [format_tag(spec, target, tag, value)])


def add_tag(spec: SpecText, package: str | None, tag: str, value: str) -> None:
    wanted = _normalise_package(package)
    package_preamble(spec, wanted)  # a missing sub-package is the clearer error
    existing = _matching_tags(spec, wanted, tag)
    if tag_family(tag) in REPEATABLE_TAGS and tag.lower() == tag_family(tag):
        existing = [t for t in existing if t.value.lower() == value.lower()]
        if existing:
            raise SpecEditError(
                f"tag {tag}: {value} already exists (line {existing[0].line + 1})")
    elif existing:
        raise SpecEditError(f"tag {tag!r} already exists (line {existing[0].line + 1}: "
                            f"{existing[0].name}: {existing[0].value}); use spec-set-tag")
    _append_tag(spec, wanted, tag, value)


def insert_tag(spec: SpecText, package: str | None, tag: str, value: str) -> None:
    wanted = _normalise_package(package)
    target = package_preamble(spec, wanted)
    in_section = [t for t in spec.tags if t.section == target]
    family = tag_family(tag)
    same_family = [t for t in in_section if tag_family(t.name) == family]
    anchor = (same_family or in_section or [None])[-1]
    if anchor is None:
        _append_tag(spec, wanted, tag, value)
        return
    after = anchor.line
    if spec.depth_between(target.body_start, after) > 0:
        # Inside a %if block: go past the %endif that closes it so the tag stays unconditional.
        depth = spec.depth_between(target.body_start, after)
        for index in range(after + 1, target.end):
            kind = spec.directive(index)
            depth += 1 if kind == "if" else -1 if kind == "endif" else 0
            if depth <= 0:
                after = index
                break
    spec.insert_lines(after + 1, [format_tag(spec, target, tag, value, like=anchor)])


def update_tag(spec: SpecText, package: str | None, tag: str, value: str) -> int:
    wanted = _normalise_package(package)
    package_preamble(spec, wanted)
    found = _matching_tags(spec, wanted, tag)
    if not found:
        where = f" in sub-package {wanted!r}" if wanted else ""
        raise SpecEditError(f"tag {tag!r} not found{where}")
    for existing in found:
        spec.set_tag_value(existing, value)
    return len(found)


def set_tag(spec: SpecText, package: str | None, tag: str, value: str) -> None:
    wanted = _normalise_package(package)
    package_preamble(spec, wanted)
    if _matching_tags(spec, wanted, tag):
        update_tag(spec, wanted, tag, value)
    else:
        _append_tag(spec, wanted, tag, value)


def remove_tag(spec: SpecText, package: str | None, tag: str, value: str | None) -> int:
    wanted = _normalise_package(package)
    package_preamble(spec, wanted)
    found = _matching_tags(spec, wanted, tag)
    if value:
        found = [t for t in found if t.value.lower() == value.lower()]
    if not found:
        what = f"{tag}: {value}" if value else tag
        where = f" in sub-package {wanted!r}" if wanted else ""
        raise SpecEditError(f"tag {what!r} not found{where}")
    for existing in sorted(found, key=lambda t: t.line, reverse=True):
        spec.delete_lines(existing.line, existing.line + 1)
    return len(found)


# ---- patches --------------------------------------------------------------------------------


def highest_patch_number(spec: SpecText) -> int:
    """Highest N of the numbered ``PatchN`` tags (all packages); bare ``Patch:`` tags count as
    0, 1, … as rpm numbers them. -1 when there are none. ``Patch%{n}`` forms are ignored."""
    highest = -1
    unnumbered = 0
    for tag in spec.tags:
        match = _PATCH_TAG.match(tag.name)
        if not match:
            continue
        if match["number"]:
            highest = max(highest, int(match["number"]))
        else:
            unnumbered += 1
    return max(highest, unnumbered - 1)


def add_patch_entry(spec: SpecText, package: str | None, file_name: str) -> str:
    """Register a patch: a line in ``%patchlist`` when the spec has one, else the next ``PatchN``.
    Returns a description of what was added."""
    patchlists = find_sections(spec, "%patchlist", "")
    if patchlists:
        spec.insert_lines(content_end(spec, patchlists[0]), [file_name])
        return "%patchlist entry"
    tag = f"Patch{highest_patch_number(spec) + 1}"
    _append_tag(spec, _normalise_package(package), tag, file_name)
    return tag


def _patch_reference_matches(pattern: str, reference: str) -> bool:
    # Fedora specs often give patches as URLs; match the file name too.
    base = reference.rsplit("/", 1)[-1]
    return glob_matches(pattern, reference) or glob_matches(pattern, base)


def remove_patch_entries(spec: SpecText, pattern: str) -> int:
    """Remove ``PatchN`` tags (all packages) and ``%patchlist`` lines matching the glob."""
    doomed: list[int] = []
    for tag in spec.tags:
        if _PATCH_TAG.match(tag.name) and _patch_reference_matches(pattern, tag.value):
            doomed.append(tag.line)
    for section in find_sections(spec, "%patchlist", ""):
        for index in range(section.body_start, section.end):
            entry = spec.line(index).strip()
            if entry and not entry.startswith("#") and spec.directive(index) is None \
                    and _patch_reference_matches(pattern, entry):
                doomed.append(index)
    if not doomed:
        raise SpecEditError(f"no Patch tag or %patchlist entry matches {pattern!r}")
    for index in sorted(doomed, reverse=True):
        spec.delete_lines(index, index + 1)
    return len(doomed)
