"""Errors of the team cache: a remote that cannot be reached, and content that does not verify."""

from __future__ import annotations

from hermetic.errors import HermeticError


class RemoteError(HermeticError):
    """A remote cache refused a request or could not be reached: exit status 7."""

    exit_code = 7


class RemoteUnavailable(RemoteError):
    """The remote is down, unreachable or answering with server errors: degrade, never crash."""


class IntegrityError(RemoteError):
    """Downloaded content does not match its digest, its size or its signature: reject it."""
