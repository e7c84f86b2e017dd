"""Parse a dist-git ``sources`` file: the list of lookaside files a spec repository needs.

Two line forms exist in the wild:

- the BSD-tag form written by ``fedpkg new-sources``: ``SHA512 (name-1.0.tar.gz) = <hex>``;
- the older coreutils form: ``<hex>  name-1.0.tar.gz`` (``<hex> *name`` in binary mode), whose
  algorithm is told by the digest's length (historically md5).

Parsing only records what is declared; whether the algorithm is acceptable is decided when the
entry is actually needed, so an md5 line that ``source-files`` replaces is no error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hermetic.errors import FetchError
from hermetic.fetch.digests import ALGORITHM_BY_HEX_LENGTH, check_file_name

_TAGGED = re.compile(r"^(?P<algo>[A-Za-z0-9-]+)\s*\((?P<name>.+)\)\s*=\s*(?P<hex>[0-9a-fA-F]+)$")
_PLAIN = re.compile(r"^(?P<hex>[0-9a-fA-F]+)\s+\*?(?P<name>\S.*)$")


@dataclass(frozen=True)
class SourcesEntry:
    filename: str
    hash_type: str       # as written, lower-cased ("sha512", "md5", ...)
    hexdigest: str       # lower-case hex
    where: str           # "<origin>/sources:<line>" for error messages


def parse_sources_file(text: str, origin: str) -> list[SourcesEntry]:
    """Entries in file order. ``origin`` (e.g. "<url>@<commit>") prefixes every error."""
    entries: list[SourcesEntry] = []
    seen: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{origin}/sources:{number}"
        if not line or line.startswith("#"):
            continue
        tagged = _TAGGED.match(line)
        if tagged:
            hash_type = tagged["algo"].lower()
            name, hexdigest = tagged["name"], tagged["hex"].lower()
        else:
            plain = _PLAIN.match(line)
            if not plain:
                raise FetchError(f"{where}: cannot parse line {line!r} "
                                 f"(expected 'SHA512 (name) = hex' or 'hex  name')")
            name, hexdigest = plain["name"], plain["hex"].lower()
            hash_type = ALGORITHM_BY_HEX_LENGTH.get(len(hexdigest), f"unknown-{len(hexdigest)}")
        check_file_name(name, where)
        if name in seen:
            raise FetchError(f"{where}: {name!r} is listed twice (first at {seen[name]})")
        seen[name] = where
        entries.append(SourcesEntry(name, hash_type, hexdigest, where))
    return entries
