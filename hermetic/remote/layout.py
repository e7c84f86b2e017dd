"""Where things live on every transport: the local store's own relative paths.

A static copy of a store directory is a valid cache because remotes use exactly the store's
fan-out (``objects/ab/<blake3>``, ``actions/ab/<key>``). Buildroot entries live in a reserved
file name next to the store's buildroot trees (``buildroots/<digest>.entry``), which a local
store never uses (its trees are directories named by the bare digest).
"""

from __future__ import annotations

import re

from hermetic.errors import StoreError
from hermetic.store.fsutil import check_digest

HEX64 = re.compile(r"[0-9a-f]{64}")

# Upper bounds a server accepts and a client believes (an entry is a few KiB; a buildroot
# entry less). Objects are bounded by the server's --max-upload.
MAX_ENTRY_BYTES = 16 * 1024 * 1024
MAX_MISSING_BATCH = 100_000


def object_path(digest: str) -> str:
    check_digest(digest, "object digest")
    return f"objects/{digest[:2]}/{digest}"


def entry_path(key: str) -> str:
    check_digest(key, "action key")
    return f"actions/{key[:2]}/{key}"


def buildroot_entry_path(digest: str) -> str:
    check_digest(digest, "buildroot digest")
    return f"buildroots/{digest}.entry"


# Paths a server answers, with and without the fan-out directory (clients use the fan-out).
_ROUTES = re.compile(
    r"/(?P<kind>objects|actions)/(?:(?P<bucket>[0-9a-f]{2})/)?(?P<name>[^/]+)"
    r"|/buildroots/(?P<broot>[^/]+)\.entry")


def parse_store_path(path: str) -> tuple[str, str] | None:
    """``("object"|"entry"|"buildroot", digest)`` for a store path, None if it names none.

    Raises StoreError for a path under a store namespace whose name is not a digest, or whose
    bucket does not match it (a malformed request, answered with 400).
    """
    match = _ROUTES.fullmatch(path)
    if match is None:
        return None
    if match.group("broot") is not None:
        return "buildroot", check_digest(match.group("broot"), "buildroot digest")
    kind = "object" if match.group("kind") == "objects" else "entry"
    name = check_digest(match.group("name"), "object digest" if kind == "object" else "action key")
    bucket = match.group("bucket")
    if bucket is not None and bucket != name[:2]:
        raise StoreError(f"{path}: bucket {bucket} does not match {name}")
    return kind, name


def check_digests(values: object, what: str = "digest") -> list[str]:
    """A list of digests from untrusted input (a JSON body), or StoreError."""
    if not isinstance(values, list):
        raise StoreError(f"expected a JSON list of {what}s")
    if len(values) > MAX_MISSING_BATCH:
        raise StoreError(f"too many {what}s in one request ({len(values)} > {MAX_MISSING_BATCH})")
    return [check_digest(v, what) for v in values]
