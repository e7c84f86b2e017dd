"""Expand the distro URI templates (``dist-git-base-uri``, ``lookaside-base-uri``).

The azldev dialect uses shell-like placeholders: ``$pkg`` (the upstream package name; ``$name``
is accepted as a synonym), ``$filename``, ``$hashtype`` (lower-case, as Fedora's lookaside
paths spell it) and ``$hash``. ``${var}`` is accepted too. Each placeholder is replaced in one
pass, so ``$hashtype`` is never mistaken for ``$hash`` followed by "type".
"""

from __future__ import annotations

import re
from urllib.parse import quote

from hermetic.errors import FetchError

_PLACEHOLDER = re.compile(r"\$\{(\w+)\}|\$(hashtype|hash|filename|pkg|name)")
# Characters left as they are in a path segment: file names such as "gcc-c++-1.0.tar.gz" or
# "foo~rc1.tar.gz" appear unescaped in Fedora lookaside URLs.
_SAFE_IN_SEGMENT = "+~@:,=!"


def expand(template: str, values: dict[str, str], what: str) -> str:
    """Replace every placeholder; an unknown or unavailable one is an error naming ``what``."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name == "name":
            name = "pkg"
        if name not in values:
            raise FetchError(f"{what}: template {template!r} uses ${name}, which is not "
                             f"available here (known: {', '.join('$' + k for k in values)})")
        return quote(values[name], safe=_SAFE_IN_SEGMENT)

    return _PLACEHOLDER.sub(substitute, template)


def lookaside_url(template: str, package: str, filename: str, hash_type: str,
                  hexdigest: str) -> str:
    return expand(template, {"pkg": package, "filename": filename,
                             "hashtype": hash_type.lower(), "hash": hexdigest},
                  "lookaside-base-uri")


def dist_git_url(template: str, package: str) -> str:
    return expand(template, {"pkg": package}, "dist-git-base-uri")
