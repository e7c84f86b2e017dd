"""Download one URL to a file, streaming, hashing as the bytes arrive.

urllib from the standard library is enough: it follows redirects (at most 10, http(s) only),
honours ``https_proxy``/``no_proxy`` and verifies TLS certificates with the system store. Every
failure becomes one ``DownloadError`` line naming the URL and what went wrong.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

from hermetic import __version__
from hermetic.errors import FetchError

CHUNK_SIZE = 1 << 20
DEFAULT_TIMEOUT = 60.0  # seconds without any progress, per socket operation
ALLOWED_SCHEMES = ("http", "https", "file")


class ChunkSink(Protocol):
    def update(self, chunk: bytes) -> None: ...


class DownloadError(FetchError):
    """A URL could not be fetched. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


def download(url: str, destination: Path, sink: ChunkSink,
             timeout: float = DEFAULT_TIMEOUT) -> int:
    """Stream ``url`` into ``destination`` (created, fsynced), feeding ``sink``; return bytes.

    The caller owns ``destination`` and removes it on any failure.
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ALLOWED_SCHEMES:
        raise DownloadError(f"{url}: unsupported URL scheme {scheme!r} "
                            f"(use {', '.join(ALLOWED_SCHEMES)})")
    request = urllib.request.Request(url, headers={"User-Agent": f"hermetic/{__version__}",
                                                   "Accept-Encoding": "identity"})
    size = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, \
                open(destination, "wb") as out:
            expected_length = _content_length(response)
            while chunk := response.read(CHUNK_SIZE):
                out.write(chunk)
                sink.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}", status=exc.code) from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url}: {_describe(exc.reason)}") from None
    except http.client.HTTPException as exc:
        raise DownloadError(f"{url}: broken HTTP response ({type(exc).__name__}: {exc})") from None
    except (TimeoutError, socket.timeout):
        raise DownloadError(f"{url}: timed out after {timeout:g} s without data") from None
    except OSError as exc:
        raise DownloadError(f"{url}: {_describe(exc)}") from None
    if expected_length is not None and size != expected_length:
        raise DownloadError(f"{url}: connection closed after {size} of {expected_length} bytes")
    return size


def _content_length(response: object) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _describe(reason: object) -> str:
    if isinstance(reason, ssl.SSLError):
        return f"TLS error: {reason.reason or reason}"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve host ({reason.strerror})"
    if isinstance(reason, OSError):
        return reason.strerror or str(reason)
    return str(reason)
