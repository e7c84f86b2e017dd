"""Content-addressed buildroots: created (mmdebstrap), image (tarball/dir import), host.

Public interface::

    Buildroot(name, digest, path, kind, impure)
    create(store_root, name, suite, include=RPM_BUILD_SET, mirror=None) -> Buildroot
    import_tree(store_root, path, name) -> Buildroot
    host_buildroot() -> Buildroot
    lookup(store_root, name) -> Buildroot | None
    list_buildroots(store_root) -> list[Buildroot]
    ensure_buildroot(config, store_root) -> Buildroot
    digest_tree(path) -> str
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hermetic.buildroot.create import RPM_BUILD_SET, create
from hermetic.buildroot.digest import digest_tree
from hermetic.buildroot.host import host_binds, host_buildroot
from hermetic.buildroot.image import import_tree, source_fingerprint
from hermetic.buildroot.store import Buildroot, list_buildroots, lookup, read_meta
from hermetic.errors import ConfigError

__all__ = [
    "Buildroot", "RPM_BUILD_SET", "create", "digest_tree", "ensure_buildroot", "host_binds",
    "host_buildroot", "import_tree", "list_buildroots", "lookup",
]

# Spellings accepted for the [buildroot] type key.
_KIND_ALIASES = {"created": "created", "create": "created", "debian": "created",
                 "mmdebstrap": "created", "image": "image", "import": "image", "host": "host"}


def _field(config: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(config, dict) and name in config:
            return config[name]
        value = getattr(config, name, None)
        if value is not None:
            return value
    return default


def ensure_buildroot(config: Any, store_root: Path, base_dir: Path | None = None) -> Buildroot:
    """The buildroot ``config`` names, creating or importing it when the store lacks it.

    ``config`` is any object (or dict) with ``type``, ``name``, ``debian_suite`` (or
    ``debian-suite``), ``include`` and ``path``. A stored tree is reused when it was made from
    the same suite and include list (created) or the same unchanged source (image); otherwise it
    is made again and the name moves to the new digest. Relative ``path`` resolves against
    ``base_dir`` (the workspace root).
    """
    raw_kind = str(_field(config, "type", "kind", default="created")).lower()
    kind = _KIND_ALIASES.get(raw_kind)
    if kind is None:
        raise ConfigError(f"[buildroot] type {raw_kind!r} is not one of created, image, host")
    if kind == "host":
        return host_buildroot()
    name = _field(config, "name")
    if not name:
        raise ConfigError("[buildroot] name is missing")
    existing = lookup(store_root, name)
    if kind == "created":
        suite = _field(config, "debian_suite", "debian-suite", "suite", default="bookworm")
        include = sorted(set(_field(config, "include", default=None) or RPM_BUILD_SET))
        if existing is not None:
            meta = read_meta(store_root, existing.digest)
            if meta.get("suite") == suite and meta.get("include") == include:
                return existing
        return create(store_root, name, suite, include)
    path_value = _field(config, "path")
    if not path_value:
        if existing is not None:
            return existing
        raise ConfigError(f"[buildroot] {name}: type 'image' needs a path (directory or tarball)")
    path = Path(path_value)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if existing is not None and path.exists():
        meta = read_meta(store_root, existing.digest)
        fingerprint = source_fingerprint(path)
        if all(meta.get(key) == value for key, value in fingerprint.items()):
            return existing
    return import_tree(store_root, path, name)
