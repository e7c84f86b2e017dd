"""User-facing errors: one clear line, an optional hint, a defined exit status.

Anything raised as a ``HermeticError`` is printed by the CLI without a traceback.
Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class HermeticError(Exception):
    """An error the user can act on. ``str()`` is the one line shown to them."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(HermeticError):
    """Invalid input files (TOML, component definitions): exit status 2."""

    exit_code = 2


class FetchError(HermeticError):
    """An input could not be fetched or did not verify against its digest."""

    exit_code = 3


class SandboxError(HermeticError):
    """The sandbox could not be set up (kernel refused, missing feature)."""

    exit_code = 4


class BuildError(HermeticError):
    """A build ran and failed."""

    exit_code = 5


class StoreError(HermeticError):
    """The store is damaged or cannot be written."""

    exit_code = 6
