"""``open_remote(url, token)``: pick the transport from the URL scheme; read tokens."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from hermetic.errors import ConfigError
from hermetic.remote.protocol import Remote

TOKEN_ENV = "HERMETIC_CACHE_TOKEN"


def open_remote(url: str, token: str | None = None) -> Remote:
    """A Remote for ``http(s)://…``, ``file:///DIR`` (or a bare directory path), ``azure://…``."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme in ("http", "https"):
        from hermetic.remote.http import HttpRemote
        return HttpRemote(url, token)
    if scheme == "file":
        from hermetic.remote.file import FileRemote
        parsed = urllib.parse.urlsplit(url)
        if parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"{url}: file:// URLs name a local directory (file:///DIR)")
        return FileRemote(Path(urllib.parse.unquote(parsed.path)), url)
    if scheme == "azure":
        from hermetic.remote.azure import AzureRemote
        return AzureRemote(url, token)
    if scheme == "" and url.startswith(("/", ".")):
        from hermetic.remote.file import FileRemote
        return FileRemote(Path(url).resolve())
    raise ConfigError(f"cache URL {url!r}: unsupported scheme (use http://, https://, file:// "
                      "or azure://)")


def read_token(token_file: str | os.PathLike[str] | None = None) -> str | None:
    """The write token: ``token_file`` if given, else ``$HERMETIC_CACHE_TOKEN``, else None."""
    if token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{token_file}: cannot read the cache token ({exc.strerror})") from None
        if not token:
            raise ConfigError(f"{token_file}: the cache token file is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None
