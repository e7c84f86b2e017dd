"""Shared fixtures: host-side listeners and victims the escape attempts aim at."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import threading

import pytest

from hermetic.errors import SandboxError

HOST_PYTHON = "/usr/bin/python3"


def sandbox_available() -> str | None:
    """Why the sandbox cannot run here, or None."""
    from hermetic.sandbox import check_support
    if not os.path.exists(HOST_PYTHON):
        return f"{HOST_PYTHON} is missing"
    try:
        check_support()
    except SandboxError as exc:
        return str(exc)
    return None


_REASON = sandbox_available()
needs_sandbox = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


class _Listeners:
    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.sockets: list[socket.socket] = []

    def _serve_stream(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.sendall(b"hello")
            conn.close()

    def _serve_udp(self, sock: socket.socket) -> None:
        while True:
            try:
                _, peer = sock.recvfrom(16)
            except OSError:
                return
            if peer is None:
                return  # shut down
            sock.sendto(b"pong", peer)

    def start(self, sock: socket.socket, serve) -> None:
        self.sockets.append(sock)
        thread = threading.Thread(target=serve, args=(sock,), daemon=True)
        thread.start()
        self.threads.append(thread)

    def close(self) -> None:
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """Things on the host an escaping payload would reach: listeners, a secret, a process."""
    listeners = _Listeners()
    values: dict[str, object] = {}
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    listeners.start(tcp, listeners._serve_stream)
    values["tcp_port"] = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    listeners.start(udp, listeners._serve_udp)
    values["udp_port"] = udp.getsockname()[1]
    try:
        tcp6 = socket.socket(socket.AF_INET6)
        tcp6.bind(("::1", 0))
        tcp6.listen()
        listeners.start(tcp6, listeners._serve_stream)
        values["tcp6_port"] = tcp6.getsockname()[1]
    except OSError:
        values["tcp6_port"] = None
    abstract = f"hermetic-test-{secrets.token_hex(6)}"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind("\0" + abstract)
    unix.listen()
    listeners.start(unix, listeners._serve_stream)
    values["abstract"] = abstract
    base = tmp_path_factory.mktemp("host")
    secret = base / "secret"
    secret.write_text("secret")
    values["secret"] = str(secret)
    tree = base / "tree"
    tree.mkdir()
    values["ro_tree"] = str(tree)
    victim = subprocess.Popen(["sleep", "600"])
    values["victim_pid"] = victim.pid
    try:
        yield values
    finally:
        victim.kill()
        victim.wait()
        listeners.close()


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
