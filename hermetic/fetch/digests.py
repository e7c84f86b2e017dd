"""Declared digests and the checks every fetched file name and digest must pass.

Distributions declare a file's identity as sha256 or sha512 (dist-git ``sources`` files,
``source-files`` entries). hermetic verifies that declaration while the bytes stream in, and
names the verified bytes in the store by blake3. md5 and sha1 are refused: they no longer
identify content against an adversary.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import blake3

from hermetic.errors import FetchError

# Lower-case algorithm name → length of its hex digest.
SUPPORTED_ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}
# What we can recognise but refuse, so the error can say why instead of "unknown".
WEAK_ALGORITHMS = frozenset({"md5", "sha1"})
# The length of a hex digest says which algorithm wrote it (the old `hex  name` sources form).
ALGORITHM_BY_HEX_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}

_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class DeclaredDigest:
    """A digest a file must match: ``algorithm`` lower-case, ``hexdigest`` lower-case hex."""

    algorithm: str
    hexdigest: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hexdigest}"


def declared_digest(hash_type: str, value: str, where: str) -> DeclaredDigest:
    """Validate a declared (hash type, hex) pair; ``where`` names its origin for the error."""
    algorithm = hash_type.strip().lower()
    if algorithm not in SUPPORTED_ALGORITHMS:
        if algorithm in WEAK_ALGORITHMS:
            raise FetchError(
                f"{where}: hash type {hash_type.upper()} is not supported (only SHA256 and SHA512 "
                f"identify content safely)",
                hint="declare the file in source-files with its SHA256 or SHA512 hash and "
                     "replace-upstream = true",
            )
        raise FetchError(f"{where}: unsupported hash type {hash_type!r} (use SHA256 or SHA512)")
    hexdigest = value.strip().lower()
    expected_length = SUPPORTED_ALGORITHMS[algorithm]
    if not _HEX.fullmatch(hexdigest) or len(hexdigest) != expected_length:
        raise FetchError(
            f"{where}: {algorithm} digest must be {expected_length} hex digits, got {value!r}")
    return DeclaredDigest(algorithm, hexdigest)


def check_file_name(name: str, where: str) -> str:
    """A fetched file lands in one flat directory: refuse anything that could escape it."""
    if not name or name in (".", ".."):
        raise FetchError(f"{where}: invalid file name {name!r}")
    if "\x00" in name or "\n" in name:
        raise FetchError(f"{where}: file name {name!r} contains a control character")
    if PurePosixPath(name).is_absolute():
        raise FetchError(f"{where}: file name {name!r} is an absolute path; use a plain file name")
    if "/" in name or "\\" in name:
        raise FetchError(f"{where}: file name {name!r} contains a path separator; "
                         f"use a plain file name")
    return name


class StreamHasher:
    """Computes the declared digest and the store's blake3 in one pass over the bytes."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._declared = hashlib.new(algorithm)
        self._blake3 = blake3.blake3(max_threads=blake3.blake3.AUTO)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._declared.update(chunk)
        self._blake3.update(chunk)
        self.size += len(chunk)

    def declared_hexdigest(self) -> str:
        return self._declared.hexdigest()

    def blake3_hexdigest(self) -> str:
        return self._blake3.hexdigest()


def mismatch_error(where: str, expected: DeclaredDigest, actual_hex: str) -> FetchError:
    return FetchError(
        f"{where}: {expected.algorithm} mismatch: expected {expected.hexdigest}, got {actual_hex}",
        hint="the file changed upstream or the declared hash is wrong; nothing was stored",
    )
