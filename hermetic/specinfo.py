"""What a spec says about dependencies: the packages it produces and what it BuildRequires.

This is a deliberately small reader, not rpm's parser: it expands the simple macros real specs use in
package names (``%{name}``, ``%{version}``, ``%global`` values, ``%{?dist}``-style optionals) and
ignores conditionals, so it sees every sub-package and BuildRequires a spec *can* declare. Over-
approximating here only adds graph edges (a build waits longer); it never drops one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG = re.compile(r"^(?P<tag>[A-Za-z][A-Za-z0-9]*)(?:\([^)]*\))?\s*:\s*(?P<value>.*)$")
_DEFINE = re.compile(r"^%(?:global|define)\s+(?P<name>\w+)\s+(?P<body>.*)$")
_PACKAGE = re.compile(r"^%package\s+(?P<args>.+)$")
_MACRO = re.compile(r"%\{(?P<cond>[?!]*)(?P<name>\w+)(?::(?P<alt>[^}]*))?\}|%(?P<bare>[A-Za-z_]\w*)")
_VERSION_OPERATORS = {"<", ">", "<=", ">=", "=", "=="}
# Section headers end a preamble; other lines starting with % (macro calls, %if) do not.
_SECTION = re.compile(
    r"^%(description|prep|build|install|check|clean|files|changelog|conf|generate_buildrequires"
    r"|pre|post|preun|postun|pretrans|posttrans|preuntrans|postuntrans|verifyscript"
    r"|trigger\w*|filetrigger\w*|transfiletrigger\w*|patchlist|sourcelist)\b")


@dataclass(frozen=True)
class SpecInfo:
    name: str
    packages: frozenset[str]        # binary package names this spec produces
    build_requires: frozenset[str]  # names only, versions and rich-dependency syntax dropped


def _expand(text: str, macros: dict[str, str], depth: int = 0) -> str:
    if depth > 10 or "%" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group("name") or match.group("bare")
        cond = match.group("cond") or ""
        if name in macros:
            if match.group("alt") is not None and "?" in cond:
                return match.group("alt") if "!" not in cond else ""
            return "" if "!" in cond and "?" in cond else macros[name]
        if "?" in cond:
            return ""
        return match.group(0)

    expanded = _MACRO.sub(replace, text)
    return expanded if expanded == text else _expand(expanded, macros, depth + 1)


def _requirement_names(value: str) -> list[str]:
    """``a >= 1, b, (c or d)`` → ``[a, b]``: rich dependencies cannot name one package, so skip them."""
    names: list[str] = []
    value = re.sub(r"\([^()]*\)", lambda m: m.group(0) if re.match(r"\w", value[max(m.start() - 1, 0)])
                   else " ", value)
    tokens = value.replace(",", " ").split()
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
            continue
        if token in _VERSION_OPERATORS:
            skip_next = True
            continue
        if token.startswith(("/", "%")):
            continue  # file dependencies and unexpanded macros name no package
        names.append(token)
    return names


def read_spec(text: str) -> SpecInfo:
    macros: dict[str, str] = {}
    name = ""
    packages: list[str] = []
    build_requires: list[str] = []
    in_preamble = True
    for raw in text.splitlines():
        line = raw.strip()
        define = _DEFINE.match(line)
        if define:
            macros[define.group("name")] = define.group("body").strip()
            continue
        package = _PACKAGE.match(line)
        if package:
            in_preamble = True
            args = _expand(package.group("args"), macros).split()
            if args and args[0] == "-n" and len(args) > 1:
                packages.append(args[1])
            elif args:
                packages.append(f"{name}-{args[0]}")
            continue
        if _SECTION.match(line):
            in_preamble = False
            continue
        if not in_preamble:
            continue
        tag = _TAG.match(line)
        if not tag:
            continue
        key, value = tag.group("tag").lower(), tag.group("value").strip()
        if key in ("name", "version", "release", "epoch"):
            expanded = _expand(value, macros)
            macros[key] = expanded
            if key == "name" and not name:
                name = expanded
                packages.insert(0, name)
        elif key == "buildrequires":
            build_requires.extend(_requirement_names(_expand(value, macros)))
    return SpecInfo(name=name, packages=frozenset(packages), build_requires=frozenset(build_requires))
