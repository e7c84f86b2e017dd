"""``http(s)://HOST[:PORT][/PREFIX]``: the client of ``hermetic serve`` (or any static server).

Built on the standard library's ``http.client`` rather than requests/httpx: it streams request
and response bodies without buffering, keeps one persistent connection per thread (the builder
and the uploader download and upload from several threads), and adds no dependency to a tool
that must start fast. Reads also work against a plain static server (nginx over a copied store)
except ``missing``, which falls back to one HEAD per digest when ``POST /missing`` is absent.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hermetic.remote.entries import SmallFileEntries
from hermetic.remote.errors import IntegrityError, RemoteError, RemoteUnavailable
from hermetic.remote.layout import MAX_ENTRY_BYTES, object_path
from hermetic.remote.protocol import CHUNK, hash_path, receive_object

DEFAULT_TIMEOUT = 60.0
_RETRYABLE = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
              http.client.BadStatusLine, ConnectionAbortedError)


class HttpRemote(SmallFileEntries):
    checks_outputs_before_entries = False  # `hermetic serve` refuses such entries itself

    def __init__(self, url: str, token: str | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise RemoteError(f"{url}: not an http(s) URL with a host")
        self.url = url.rstrip("/")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._prefix = parsed.path.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._all_lock = threading.Lock()

    # -- connection handling ------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._https:
                conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                                   context=ssl.create_default_context())
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"User-Agent": "hermetic"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        headers.update(extra or {})
        return headers

    def _request(self, method: str, relative: str, body: Any = None,
                 headers: dict[str, str] | None = None,
                 rewind: Any = None) -> http.client.HTTPResponse:
        """Send one request; a stale keep-alive connection is retried once on a fresh one.

        The caller must read the response to the end (or drop the connection).
        """
        path = f"{self._prefix}/{relative}"
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=self._headers(headers))
                return conn.getresponse()
            except _RETRYABLE as exc:
                self._drop_connection()
                if attempt == 2:
                    raise RemoteUnavailable(f"{self.url}: {method} {relative}: {exc}") from None
                if rewind is not None:
                    body = rewind()
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                raise RemoteUnavailable(f"{self.url}: {method} {relative}: {reason}") from None
        raise AssertionError("unreachable")

    def _fail(self, response: http.client.HTTPResponse, what: str) -> RemoteError:
        detail = response.read(4096).decode("utf-8", "replace").strip().splitlines()
        message = f"{self.url}: {what}: HTTP {response.status} {response.reason}"
        if detail:
            message += f" ({detail[0][:200]})"
        if response.status >= 500:
            return RemoteUnavailable(message)
        hint = None
        if response.status in (401, 403):
            hint = "give a token (--token-file or HERMETIC_CACHE_TOKEN) the server accepts"
        return RemoteError(message, hint=hint)

    def _get_small(self, relative: str) -> bytes | None:
        response = self._request("GET", relative)
        if response.status == 404:
            response.read()
            return None
        if response.status != 200:
            raise self._fail(response, f"GET {relative}")
        data = response.read(MAX_ENTRY_BYTES + 1)
        if len(data) > MAX_ENTRY_BYTES:
            self._drop_connection()
            raise IntegrityError(f"{self.url}/{relative}: larger than {MAX_ENTRY_BYTES} bytes")
        return data

    # -- the protocol -------------------------------------------------------------------------

    def missing(self, digests: Iterable[str]) -> list[str]:
        unique = list(dict.fromkeys(digests))
        if not unique:
            return []
        body = json.dumps(unique).encode()
        response = self._request("POST", "missing", body=body,
                                 headers={"Content-Type": "application/json"})
        if response.status in (404, 405, 501):  # a static server: ask object by object
            response.read()
            return [d for d in unique if not self._has_object(d)]
        if response.status != 200:
            raise self._fail(response, "POST missing")
        try:
            answer = json.loads(response.read(len(body) + 1024))
        except ValueError:
            raise RemoteError(f"{self.url}: POST missing: the answer is not JSON") from None
        wanted = set(unique)
        if not isinstance(answer, list) or not set(answer) <= wanted:
            raise RemoteError(f"{self.url}: POST missing: the answer names digests not asked for")
        return answer

    def _has_object(self, digest: str) -> bool:
        response = self._request("HEAD", object_path(digest))
        response.read()
        if response.status == 200:
            return True
        if response.status == 404:
            return False
        raise self._fail(response, f"HEAD {object_path(digest)}")

    def get_object(self, digest: str, dest: Path) -> int:
        relative = object_path(digest)
        response = self._request("GET", relative)
        if response.status == 404:
            response.read()
            raise IntegrityError(f"{self.url}: object {digest[:16]}… is missing")
        if response.status != 200:
            raise self._fail(response, f"GET {relative}")
        length = response.getheader("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        try:
            return receive_object(digest, dest, _Reader(response), where=self.url,
                                  expected_size=expected)
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            if isinstance(exc, http.client.IncompleteRead):
                raise IntegrityError(f"{self.url}: object {digest[:16]}… is truncated") from None
            raise RemoteUnavailable(f"{self.url}: GET {relative}: {exc}") from None
        except IntegrityError:
            self._drop_connection()  # the rest of the body may still be in flight
            raise

    def put_object(self, digest: str, path: Path) -> bool:
        actual, size = hash_path(path)
        if actual != digest:
            raise IntegrityError(f"local object {digest[:16]}… hashes to {actual[:16]}…; "
                                 "run `hermetic store verify`")
        relative = object_path(digest)
        with open(path, "rb") as stream:
            response = self._request(
                "PUT", relative, body=stream,
                headers={"Content-Length": str(size),
                         "Content-Type": "application/octet-stream"},
                rewind=lambda: (stream.seek(0), stream)[1])
        if response.status in (200, 201, 204):
            response.read()
            return response.status == 201
        raise self._fail(response, f"PUT {relative}")

    def _put_small(self, relative: str, data: bytes) -> None:
        response = self._request("PUT", relative, body=data,
                                 headers={"Content-Length": str(len(data)),
                                          "Content-Type": "application/x-msgpack"})
        if response.status in (200, 201, 204):
            response.read()
            return
        raise self._fail(response, f"PUT {relative}")

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = {"url": self.url, "transport": "https" if self._https else "http"}
        try:
            response = self._request("GET", "health")
            body = response.read(65536)
        except RemoteUnavailable as exc:
            return {**result, "reachable": False, "error": str(exc)}
        result["reachable"] = response.status == 200
        result["status"] = response.status
        try:
            details = json.loads(body)
        except ValueError:
            details = None
        if isinstance(details, dict):
            result.update({k: v for k, v in details.items() if k not in result})
        return result

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


class _Reader:
    """A response read in large chunks (http.client's default read size is small)."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self._response = response

    def read(self, size: int = CHUNK) -> bytes:
        return self._response.read(size)
