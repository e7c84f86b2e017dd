"""The effective cache settings: the project file's ``[cache]`` table, then command-line flags."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermetic.errors import ConfigError


@dataclass
class CacheSettings:
    substituters: list[tuple[str, int]] = field(default_factory=list)   # (url, priority)
    push: list[str] = field(default_factory=list)
    trusted_keys: list[str] = field(default_factory=list)
    secret_key: Path | None = None
    token_file: Path | None = None

    def open_substituters(self, **options: Any):
        """A ``Substituters`` for these settings, or None when no substituter is configured."""
        if not self.substituters:
            return None
        from hermetic.remote.substituters import Substituters
        return Substituters(self.substituters, self.trusted_keys, **options)

    def open_uploader(self, *, force: bool = False):
        """An ``Uploader`` for the push targets (signing with ``secret_key``), or None."""
        if not self.push:
            return None
        from hermetic.remote.open import read_token
        from hermetic.remote.uploader import Uploader
        from hermetic.signing import load_secret_key
        secret = load_secret_key(self.secret_key) if self.secret_key else None
        return Uploader(self.push, read_token(self.token_file), secret_key=secret, force=force)


def load_cache_config(project_file: Path | None) -> CacheSettings:
    """``[cache]`` of ``project_file`` (relative paths against its directory); empty if none."""
    settings = CacheSettings()
    if project_file is None:
        return settings
    try:
        with open(project_file, "rb") as handle:
            raw = tomllib.load(handle).get("cache")
    except FileNotFoundError:
        return settings
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{project_file}: {exc}") from None
    if raw is None:
        return settings
    from pydantic import ValidationError

    from hermetic.model.project import CacheConfig
    try:
        config = CacheConfig.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"{project_file}: cache.{where}: {error['msg']}") from None
    base = project_file.parent
    settings.substituters = [(s.url, s.priority) for s in config.substituters]
    settings.push = list(config.push)
    settings.trusted_keys = list(config.trusted_keys)
    settings.secret_key = base / config.secret_key if config.secret_key else None
    settings.token_file = base / config.token_file if config.token_file else None
    return settings


def apply_flags(settings: CacheSettings, *, substituters: list[str] | None = None,
                push: list[str] | None = None, trusted_keys: list[str] | None = None,
                secret_key: str | None = None, token_file: str | None = None,
                cwd: Path | None = None) -> CacheSettings:
    """Command-line flags on top of the file: substituters given on the command line come first
    (priority 0, in the order given); push targets and trusted keys add up; files replace."""
    cwd = cwd or Path.cwd()
    flagged = [(url, index - len(substituters or ())) for index, url in
               enumerate(substituters or ())]
    settings.substituters = flagged + settings.substituters
    settings.push = list(dict.fromkeys([*settings.push, *(push or ())]))
    if trusted_keys:
        from hermetic.signing import parse_public_key  # cryptography: only when keys are given

        for text in trusted_keys:
            parse_public_key(text)
    settings.trusted_keys = [*settings.trusted_keys, *(trusted_keys or ())]
    if secret_key:
        settings.secret_key = cwd / secret_key
    if token_file:
        settings.token_file = cwd / token_file
    return settings
