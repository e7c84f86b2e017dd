"""``hermetic serve``: a store directory over HTTP, in the store's own layout.

GET/HEAD every object, entry and buildroot record (``os.sendfile``: the kernel copies file to
socket); PUT with a bearer token; ``POST /missing`` (a JSON list of digests → the ones absent);
``/health``; Prometheus ``/metrics``. Uploads are staged in ``<store>/tmp``, size-limited and
checked before they become visible: an object must hash to the digest in its path, an entry must
decode as an ActionEntry for the key in its path whose objects are all present. A threaded
stdlib server: one thread per connection, HTTP/1.1 keep-alive.
"""

from __future__ import annotations

import hmac
import json
import os
import socket
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import blake3

from hermetic.errors import StoreError
from hermetic.remote.layout import MAX_ENTRY_BYTES, check_digests, parse_store_path
from hermetic.remote.metrics import Metrics
from hermetic.store.fsutil import fanout, fsync_dir, open_temp

DEFAULT_MAX_UPLOAD = 8 * 1024 ** 3        # 8 GiB: larger than any RPM or buildroot tarball
MAX_MISSING_BODY = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024
OBJECT_MODE = 0o444
_NAMESPACES = ("/objects/", "/actions/", "/buildroots/")


class CacheServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], store_root: Path, *, write_token: str | None,
                 read_token: str | None = None, max_upload: int = DEFAULT_MAX_UPLOAD,
                 access_log: bool = False) -> None:
        from hermetic.store import Store

        self.store = Store(store_root)
        self.store.tmp_dir()
        self.write_token = write_token
        self.read_token = read_token
        self.max_upload = max_upload
        self.access_log = access_log
        self.metrics = Metrics()
        super().__init__(address, CacheRequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class _Refused(Exception):
    def __init__(self, status: int, message: str, reason: str | None = None,
                 close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.close = close


class CacheRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hermetic-serve"
    timeout = 120
    server: CacheServer

    # -- plumbing -----------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.access_log:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _reply(self, status: int, body: bytes = b"", content_type: str = "text/plain",
               received: int = 0, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and not head:
            self.wfile.write(body)
        self.server.metrics.request(self.command, status, 0 if head else len(body), received)

    def _error(self, refused: _Refused) -> None:
        if refused.reason:
            self.server.metrics.reject(refused.reason)
        if refused.close:
            self.close_connection = True
        self._reply(refused.status, (refused.message + "\n").encode())

    def _route(self) -> tuple[str, tuple[str, str] | None]:
        path = self.path.split("?", 1)[0]
        if "%" in path or "//" in path or "/." in path or "\\" in path or "\0" in path:
            raise _Refused(400, f"malformed path {path[:120]!r}", "path")
        try:
            target = parse_store_path(path)
        except StoreError as exc:
            raise _Refused(400, exc.message, "path") from None
        if target is None and path.startswith(_NAMESPACES):
            raise _Refused(400, f"malformed path {path[:120]!r}", "path")
        return path, target

    def _authorised(self, token: str | None) -> bool:
        if token is None:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                  token.encode())

    def _need_read(self) -> None:
        if not self._authorised(self.server.read_token):
            raise _Refused(401, "a read token is required", "auth", close=True)

    def _need_write(self) -> None:
        if self.server.write_token is None:
            raise _Refused(403, "this server is read-only (started without --token-file)",
                           "auth", close=True)
        if not self._authorised(self.server.write_token):
            raise _Refused(401, "a valid write token is required", "auth", close=True)

    def _file_for(self, target: tuple[str, str]) -> Path:
        kind, name = target
        store = self.server.store
        if kind == "object":
            return fanout(store.objects_dir, name)
        if kind == "entry":
            return fanout(store.actions_dir, name)
        return store.buildroots_dir / f"{name}.entry"

    def _content_length(self, limit: int) -> int:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise _Refused(411, "chunked uploads are not accepted; send Content-Length",
                           "length", close=True)
        value = self.headers.get("Content-Length")
        if value is None or not value.isdigit():
            raise _Refused(411, "Content-Length is required", "length", close=True)
        length = int(value)
        if length > limit:
            raise _Refused(413, f"upload of {length} bytes exceeds the limit of {limit}",
                           "size", close=True)
        return length

    def _read_body(self, length: int) -> bytes:
        data = self.rfile.read(length)
        if len(data) != length:
            raise _Refused(400, f"truncated upload ({len(data)} of {length} bytes)",
                           "truncated", close=True)
        return data

    # -- verbs --------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._get(head=True)

    def do_GET(self) -> None:
        self._get(head=False)

    def _get(self, head: bool) -> None:
        try:
            path, target = self._route()
            if target is None:
                if path in ("/health", "/"):
                    return self._health(head)
                if path == "/metrics":
                    body = self.server.metrics.render().encode()
                    return self._reply(200, body, "text/plain; version=0.0.4", head=head)
                raise _Refused(404, "not found")
            self._need_read()
            self._send_file(self._file_for(target), target, head)
        except _Refused as refused:
            self._error(refused)

    def _health(self, head: bool) -> None:
        from hermetic import __version__
        body = json.dumps({"status": "ok", "service": "hermetic", "version": __version__,
                           "writable": self.server.write_token is not None,
                           "read_token_required": self.server.read_token is not None}).encode()
        self._reply(200, body, "application/json", head=head)

    def _send_file(self, path: Path, target: tuple[str, str], head: bool) -> None:
        try:
            handle = open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise _Refused(404, "not found") from None
        with handle:
            size = os.fstat(handle.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            if target[0] == "object":
                # Content-addressed: the bytes under this name never change.
                self.send_header("Cache-Control", "public, max-age=31536000, immutable")
                self.send_header("ETag", f'"{target[1]}"')
            self.end_headers()
            sent = 0
            if not head and size:
                try:
                    sent = self._sendfile(handle.fileno(), size)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    self.close_connection = True
                if sent != size:
                    self.close_connection = True  # the client cannot resync mid-body
        self.server.metrics.request(self.command, 200, sent)

    def _sendfile(self, fd: int, size: int) -> int:
        """Zero-copy file → socket. The socket is blocking for the transfer (one sendfile call
        moves the whole file), with SO_SNDTIMEO so a stalled client still times out."""
        sock = self.connection
        previous = sock.gettimeout()
        sock.settimeout(None)
        seconds = int(self.timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                        struct.pack("ll", seconds, 0))
        sent = 0
        try:
            while sent < size:
                count = os.sendfile(sock.fileno(), fd, sent, size - sent)
                if count == 0:
                    break
                sent += count
        except BlockingIOError:  # SO_SNDTIMEO expired: the client stopped reading
            raise TimeoutError from None
        finally:
            sock.settimeout(previous)
        return sent

    def do_POST(self) -> None:
        try:
            path, _ = self._route()
            if path != "/missing":
                raise _Refused(404, "not found")
            self._need_read()
            body = self._read_body(self._content_length(MAX_MISSING_BODY))
            try:
                digests = check_digests(json.loads(body))
            except ValueError:
                raise _Refused(400, "the body is not a JSON list", "malformed") from None
            except StoreError as exc:
                raise _Refused(400, exc.message, "malformed") from None
            objects = self.server.store.objects
            answer = [d for d in dict.fromkeys(digests) if not objects.has(d)]
            self._reply(200, json.dumps(answer).encode(), "application/json", received=len(body))
        except _Refused as refused:
            self._error(refused)

    def do_PUT(self) -> None:
        try:
            _, target = self._route()
            if target is None:
                raise _Refused(404, "not found")
            self._need_write()
            kind, name = target
            if kind == "object":
                status, received = self._put_object(name)
            else:
                body = self._read_body(self._content_length(MAX_ENTRY_BYTES))
                received = len(body)
                status = self._put_entry(name, body) if kind == "entry" else \
                    self._put_buildroot_record(name, body)
            self._reply(status, b"", received=received)
        except _Refused as refused:
            self._error(refused)

    # -- uploads ------------------------------------------------------------------------------

    def _put_object(self, digest: str) -> tuple[int, int]:
        length = self._content_length(self.server.max_upload)
        store = self.server.store
        final = fanout(store.objects_dir, digest)
        fd, staged = open_temp(store.tmp_dir(), "upload")
        received = 0
        try:
            hasher = blake3.blake3()
            remaining = length
            while remaining:
                chunk = self.rfile.read(min(READ_CHUNK, remaining))
                if not chunk:
                    raise _Refused(400, f"truncated upload ({length - remaining} of {length} "
                                        "bytes)", "truncated", close=True)
                hasher.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
                remaining -= len(chunk)
            received = length
            actual = hasher.hexdigest()
            if actual != digest:
                raise _Refused(400, f"content hashes to {actual}, not {digest}", "digest")
            os.fsync(fd)
            os.fchmod(fd, OBJECT_MODE)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(staged, final)  # put-if-absent; identical concurrent uploads both win
            except FileExistsError:
                return 200, received
            fsync_dir(final.parent)
            self.server.metrics.stored("object")
            return 201, received
        except (ConnectionError, socket.timeout, TimeoutError):
            raise _Refused(400, "upload interrupted", "truncated", close=True) from None
        finally:
            os.close(fd)
            try:
                os.unlink(staged)
            except FileNotFoundError:
                pass

    def _put_entry(self, key: str, body: bytes) -> int:
        from hermetic.signing import fingerprint
        from hermetic.store import ActionEntry
        from hermetic.store.fsutil import atomic_write

        try:
            entry = ActionEntry.decode(body, where=f"entry {key}")
        except StoreError as exc:
            raise _Refused(400, exc.message, "malformed") from None
        if entry.key != key:
            raise _Refused(400, f"the entry is for key {entry.key}, not {key}", "malformed")
        store = self.server.store
        missing = store.objects.missing(o.digest for o in entry.outputs)
        if missing:
            raise _Refused(409, f"upload the objects first; missing: {', '.join(missing)}",
                           "objects")
        with store.lock(key):
            path = store.actions.path(key)
            try:
                existing = ActionEntry.decode(path.read_bytes())
            except (FileNotFoundError, StoreError):
                existing = None
            if existing is not None:
                if fingerprint(existing) != fingerprint(entry):
                    raise _Refused(409, f"a different result is already stored for key {key} "
                                        "(the build is not reproducible?)", "conflict")
                # The same result signed by more keys: keep every signature.
                names = {s.key_name for s in existing.signatures}
                extra = tuple(s for s in entry.signatures if s.key_name not in names)
                if not extra:
                    return 200
                entry = existing.with_signatures(existing.signatures + extra)
                body = entry.encode()
            atomic_write(path, body, store.tmp_dir())
        self.server.metrics.stored("entry")
        return 201 if existing is None else 200

    def _put_buildroot_record(self, digest: str, body: bytes) -> int:
        from hermetic.remote.buildroots import BuildrootRecord
        from hermetic.store.fsutil import atomic_write

        try:
            record = BuildrootRecord.decode(body)
        except StoreError as exc:
            raise _Refused(400, exc.message, "malformed") from None
        if record.digest != digest:
            raise _Refused(400, f"the record is for buildroot {record.digest}, not {digest}",
                           "malformed")
        store = self.server.store
        if not store.objects.has(record.tarball):
            raise _Refused(409, f"upload the tarball object {record.tarball} first", "objects")
        atomic_write(store.buildroots_dir / f"{digest}.entry", body, store.tmp_dir())
        return 201


def make_server(store_root: Path, host: str = "127.0.0.1", port: int = 8080, *,
                write_token: str | None = None, read_token: str | None = None,
                max_upload: int = DEFAULT_MAX_UPLOAD, access_log: bool = False) -> CacheServer:
    return CacheServer((host, port), Path(store_root), write_token=write_token,
                       read_token=read_token, max_upload=max_upload, access_log=access_log)
