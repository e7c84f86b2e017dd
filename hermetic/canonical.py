"""Canonical encoding: the one byte form that keys, fingerprints and entries are hashed over.

msgpack with map keys sorted, no floats (their text and binary forms are not canonical), tuples
encoded as arrays, and only str/bytes/int/bool/None/list/dict allowed. Two equal values always
encode to the same bytes, whatever the insertion order of their dicts or ``PYTHONHASHSEED``.
"""

from __future__ import annotations

from typing import Any

import blake3
import msgpack


class NonCanonicalValue(TypeError):
    """A value that has no canonical encoding (float, set, arbitrary object)."""


def _normalise(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return value
    if isinstance(value, float):
        raise NonCanonicalValue(f"{where}: floats have no canonical encoding ({value!r})")
    if isinstance(value, (list, tuple)):
        return [_normalise(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise NonCanonicalValue(f"{where}: map keys must be strings, got {key!r}")
            items.append((key, _normalise(item, f"{where}.{key}")))
        items.sort(key=lambda kv: kv[0])
        return dict(items)
    raise NonCanonicalValue(f"{where}: {type(value).__name__} has no canonical encoding")


def canonical(value: Any) -> bytes:
    """Encode ``value`` canonically (sorted maps, no floats)."""
    # msgpack preserves dict insertion order, so normalising with sorted items is enough.
    return msgpack.packb(_normalise(value, "$"), use_bin_type=True)


def decode(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=True)


def digest(value: Any) -> str:
    """blake3 hex digest of the canonical encoding of ``value``."""
    return blake3.blake3(canonical(value)).hexdigest()
