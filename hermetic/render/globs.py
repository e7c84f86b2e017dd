"""Doublestar globs (as azldev's file overlays use them) matched against ``/``-separated names.

``*`` and ``?`` never cross ``/``; ``**`` as a whole path segment matches zero or more segments;
``[...]`` is a character class (``[!...]``/``[^...]`` negated); ``{a,b}`` is an alternation;
``\\`` escapes the next character.
"""

from __future__ import annotations

import re
from functools import lru_cache


class GlobError(ValueError):
    """A malformed glob pattern."""


def _translate(pattern: str) -> str:
    out: list[str] = []
    i = 0
    depth = 0  # inside {…}
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            if pattern.startswith("**", i):
                at_segment_start = i == 0 or pattern[i - 1] == "/"
                after = i + 2
                if at_segment_start and after < len(pattern) and pattern[after] == "/":
                    out.append("(?:[^/]*(?:/[^/]*)*/)?")  # "**/": zero or more whole segments
                    i = after + 1
                    continue
                if at_segment_start and after == len(pattern):
                    out.append(".*")
                    i = after
                    continue
            out.append("[^/]*")
            i += 1
            while i < len(pattern) and pattern[i] == "*":
                i += 1
            continue
        if char == "?":
            out.append("[^/]")
        elif char == "[":
            close = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^") else i + 1)
            if close < 0:
                raise GlobError(f"unclosed '[' in glob {pattern!r}")
            body = pattern[i + 1:close]
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\")
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = close + 1
            continue
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    if depth:
        raise GlobError(f"unclosed '{{' in glob {pattern!r}")
    return "".join(out)


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(rf"\A{_translate(pattern)}\Z", re.DOTALL)
    except re.error as exc:
        raise GlobError(f"invalid glob {pattern!r}: {exc}") from None


def glob_matches(pattern: str, name: str) -> bool:
    return compile_glob(pattern).match(name) is not None


def glob_filter(pattern: str, names: list[str]) -> list[str]:
    compiled = compile_glob(pattern)
    return sorted(name for name in names if compiled.match(name))
