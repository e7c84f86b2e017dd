"""`hermetic serve` over real HTTP: auth, verification of uploads, paths, metrics, concurrency."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import threading
import urllib.parse

import blake3
import pytest

from hermetic.remote import RemoteError, open_remote
from hermetic.remote.layout import entry_path, object_path
from hermetic.store import Store

from .conftest import make_result, start_server, stop


def request(url, method, path, body=None, token=None, headers=None):
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=body, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def test_health_and_read_only_put(tmp_path):
    root = tmp_path / "ro"
    root.mkdir()
    url, process = start_server(root, None)
    try:
        status, body = request(url, "GET", "/health")
        assert status == 200 and json.loads(body)["writable"] is False
        data = b"hello"
        status, _ = request(url, "PUT", "/" + object_path(blake3.blake3(data).hexdigest()),
                            body=data, token="anything")
        assert status == 403
        assert not (root / "objects").exists() or not any((root / "objects").rglob("*"))
    finally:
        stop(process)


def test_unauthenticated_put_is_refused(served):
    data = secrets.token_bytes(1000)
    path = "/" + object_path(blake3.blake3(data).hexdigest())
    assert request(served.url, "PUT", path, body=data)[0] == 401
    assert request(served.url, "PUT", path, body=data, token="wrong-token")[0] == 401
    assert not (served.root / path.lstrip("/")).exists()
    assert request(served.url, "PUT", path, body=data, token=served.token)[0] == 201
    assert request(served.url, "PUT", path, body=data, token=served.token)[0] == 200
    status, body = request(served.url, "GET", path)
    assert status == 200 and body == data
    mode = (served.root / path.lstrip("/")).stat().st_mode & 0o777
    assert mode == 0o444


def test_object_upload_must_match_its_digest(served):
    data = secrets.token_bytes(5000)
    wrong = "/" + object_path(blake3.blake3(b"other").hexdigest())
    status, body = request(served.url, "PUT", wrong, body=data, token=served.token)
    assert status == 400 and b"hashes to" in body
    assert not (served.root / wrong.lstrip("/")).exists()
    assert list((served.root / "tmp").iterdir()) == []


def test_truncated_upload_never_becomes_visible(served):
    data = secrets.token_bytes(200_000)
    digest = blake3.blake3(data).hexdigest()
    parsed = urllib.parse.urlsplit(served.url)
    with socket.create_connection((parsed.hostname, parsed.port)) as sock:
        sock.sendall((f"PUT /{object_path(digest)} HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {served.token}\r\n"
                      f"Content-Length: {len(data)}\r\n\r\n").encode() + data[:50_000])
        sock.shutdown(socket.SHUT_WR)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400")
    assert not (served.root / object_path(digest)).exists()
    assert list((served.root / "tmp").iterdir()) == []
    assert request(served.url, "HEAD", "/" + object_path(digest))[0] == 404


def test_oversized_upload_is_refused(tmp_path):
    root = tmp_path / "small"
    root.mkdir()
    url, process = start_server(root, "tok", "--max-upload", "1000")
    try:
        data = secrets.token_bytes(1001)
        path = "/" + object_path(blake3.blake3(data).hexdigest())
        assert request(url, "PUT", path, body=data, token="tok")[0] == 413
    finally:
        stop(process)


@pytest.mark.parametrize("path", [
    "/objects/../keys/local.secret",
    "/objects/ab/../../keys/local.secret",
    "/objects/%2e%2e/keys",
    "/objects/ab/nothex",
    "/objects/ab/" + "A" * 64,
    "/objects/cd/" + "ab" * 32,          # wrong bucket
    "/actions/zz",
    "/buildroots/../keys.entry",
])
def test_malformed_and_traversing_paths_are_refused(served, path):
    (served.root / "keys").mkdir(exist_ok=True)
    (served.root / "keys" / "local.secret").write_text("secret")
    assert request(served.url, "GET", path)[0] == 400
    assert request(served.url, "PUT", path, body=b"x", token=served.token)[0] == 400


def test_entries_are_checked_before_they_are_stored(served, team, tmp_path):
    source = Store(tmp_path / "a")
    entry = make_result(source, team)
    path = "/" + entry_path(entry.key)
    # Objects first: an entry naming objects the server lacks is refused.
    status, body = request(served.url, "PUT", path, body=entry.encode(), token=served.token)
    assert status == 409 and b"objects first" in body
    remote = open_remote(served.url, served.token)
    for output in entry.outputs:
        remote.put_object(output.digest, source.objects.path(output.digest))
    # Not an entry at all, and an entry for another key.
    assert request(served.url, "PUT", path, body=b"\x93garbage", token=served.token)[0] == 400
    other = "/" + entry_path("e" * 64)
    assert request(served.url, "PUT", other, body=entry.encode(), token=served.token)[0] == 400
    remote.put_entry(entry.key, entry.encode())
    assert remote.get_entry(entry.key) == entry.encode()
    # A different result for the same key is a conflict, not a silent replacement.
    import dataclasses
    changed = dataclasses.replace(entry, manifest={"different": True})
    with pytest.raises(RemoteError, match="409"):
        remote.put_entry(entry.key, changed.encode())
    remote.close()


def test_missing_endpoint_and_read_token(tmp_path, team):
    root = tmp_path / "private"
    root.mkdir()
    source = Store(root)
    entry = make_result(source, team)
    token_file = tmp_path / "read.token"
    token_file.write_text("reader\n")
    url, process = start_server(root, "writer", "--read-token-file", str(token_file))
    try:
        digests = [o.digest for o in entry.outputs] + ["1" * 64]
        body = json.dumps(digests).encode()
        assert request(url, "POST", "/missing", body=body)[0] == 401
        assert request(url, "GET", "/" + entry_path(entry.key))[0] == 401
        status, answer = request(url, "POST", "/missing", body=body, token="reader")
        assert status == 200 and json.loads(answer) == ["1" * 64]
        assert request(url, "POST", "/missing", body=b"[\"nothex\"]", token="reader")[0] == 400
        assert request(url, "GET", "/health")[0] == 200
        assert open_remote(url, "reader").missing(digests) == ["1" * 64]
    finally:
        stop(process)


def test_metrics_count_requests_bytes_and_errors(served):
    data = secrets.token_bytes(4096)
    path = "/" + object_path(blake3.blake3(data).hexdigest())
    request(served.url, "PUT", path, body=data, token=served.token)
    request(served.url, "GET", path)
    request(served.url, "PUT", path, body=data)  # 401
    status, text = request(served.url, "GET", "/metrics")
    assert status == 200
    metrics = text.decode()
    assert 'hermetic_http_requests_total{method="GET",code="200"} 1' in metrics
    assert 'hermetic_http_requests_total{method="PUT",code="201"} 1' in metrics
    assert 'hermetic_http_errors_total{kind="client"} 1' in metrics
    sent = int(metrics.split("\nhermetic_http_sent_bytes_total ")[1].split()[0])
    assert 4096 <= sent <= 4096 + 100  # the object, plus the one-line 401 body
    assert "hermetic_http_received_bytes_total 4096" in metrics
    assert 'hermetic_uploads_rejected_total{reason="auth"} 1' in metrics


def test_concurrent_put_of_one_object_is_safe(served, tmp_path):
    data = secrets.token_bytes(3 * 1024 * 1024)
    source = tmp_path / "blob"
    source.write_bytes(data)
    digest = blake3.blake3(data).hexdigest()
    remote = open_remote(served.url, served.token)
    results, errors = [], []

    def upload():
        try:
            results.append(remote.put_object(digest, source))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    remote.close()
    assert errors == []
    assert len(results) == 16 and results.count(True) >= 1
    stored = served.root / object_path(digest)
    assert blake3.blake3(stored.read_bytes()).hexdigest() == digest
    assert list((served.root / "tmp").iterdir()) == []
    assert os.stat(stored).st_nlink == 1
