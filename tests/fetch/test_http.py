"""The streaming downloader against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from hermetic.fetch.http import DownloadError, download


def test_download_streams_to_file_and_feeds_the_hasher(http_server, tmp_path: Path) -> None:
    body = bytes(range(256)) * 5000  # > one chunk boundary is not needed; content matters
    http_server.files["/a.tar.gz"] = body
    hasher = hashlib.sha256()
    destination = tmp_path / "out"
    assert download(http_server.url("/a.tar.gz"), destination, hasher) == len(body)
    assert destination.read_bytes() == body
    assert hasher.hexdigest() == hashlib.sha256(body).hexdigest()


def test_redirects_are_followed(http_server, tmp_path: Path) -> None:
    http_server.files["/real"] = b"moved content"
    http_server.redirects["/old"] = http_server.url("/real")
    destination = tmp_path / "out"
    download(http_server.url("/old"), destination, hashlib.sha256())
    assert destination.read_bytes() == b"moved content"
    assert http_server.requests == ["/old", "/real"]


def test_404_is_one_line_with_the_status(http_server, tmp_path: Path) -> None:
    url = http_server.url("/missing.tar.gz")
    with pytest.raises(DownloadError) as caught:
        download(url, tmp_path / "out", hashlib.sha256())
    assert caught.value.status == 404
    assert str(caught.value) == f"{url}: HTTP 404 Not Found"


def test_connection_refused_names_the_url(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    with pytest.raises(DownloadError, match=f"^{url}: .*refused"):
        download(url, tmp_path / "out", hashlib.sha256())


def test_unsupported_scheme(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="unsupported URL scheme 'ftp'"):
        download("ftp://example.invalid/x", tmp_path / "out", hashlib.sha256())


def test_file_urls_work_for_local_mirrors(tmp_path: Path) -> None:
    source = tmp_path / "mirror.tar"
    source.write_bytes(b"local mirror")
    destination = tmp_path / "out"
    download(source.as_uri(), destination, hashlib.sha256())
    assert destination.read_bytes() == b"local mirror"


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # the kernel accepts the connection; nobody ever replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/slow.tar.gz"
        with pytest.raises(DownloadError, match=f"^{url}: timed out"):
            download(url, tmp_path / "out", hashlib.sha256(), timeout=0.2)
