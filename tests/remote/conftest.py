"""Fixtures for the team cache: stores with signed entries, a real `hermetic serve`, Azurite."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from hermetic.signing import generate_key, parse_public_key, parse_secret_key, sign_entry
from hermetic.store import ActionEntry, OutputRef, Store

REPO = Path(__file__).resolve().parents[2]
AZURITE_DIR = Path(os.environ.get("HERMETIC_AZURITE_DIR",
                                  Path.home() / ".cache" / "hermetic-test-azurite"))
AZURITE_BIN = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
# Azurite's documented development account (public, fixed): not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")


@dataclass
class Team:
    secret: object
    public: object
    public_text: str


@pytest.fixture(scope="session")
def team() -> Team:
    secret_text, public_text = generate_key("team-cache-1")
    return Team(parse_secret_key(secret_text), parse_public_key(public_text), public_text)


def make_result(store: Store, team: Team, component: str = "demo", sizes=(3000, 70000, 0),
                impure: bool = False) -> ActionEntry:
    """Store random output objects and an entry naming them, signed locally and by the team."""
    outputs = []
    for index, size in enumerate(sizes):
        digest = store.objects.put_bytes(secrets.token_bytes(size))
        outputs.append(OutputRef(f"{component}-{index}.rpm", digest, size, "rpm"))
    key = secrets.token_hex(32)
    entry = ActionEntry(key=key, component=component, outputs=tuple(outputs),
                        manifest={"component": component, "nonce": key[:8]},
                        buildroot="ab" * 32, impure=impure, created=1700000000)
    entry = store.actions.put(key, entry)                  # signed by the store's local key
    return store.actions.put(key, sign_entry(entry, team.secret), sign=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    url: str
    root: Path
    token: str
    process: subprocess.Popen


def start_server(root: Path, token: str | None, *extra: str) -> tuple[str, subprocess.Popen]:
    command = [sys.executable, "-m", "hermetic", "serve", "--store", str(root), "--port", "0"]
    if token is not None:
        token_file = root.parent / f"{root.name}.token"
        token_file.write_text(token + "\n")
        command += ["--token-file", str(token_file)]
    command += list(extra)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=root.parent,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    line = process.stdout.readline()
    if " at http://" not in line:
        process.kill()
        raise RuntimeError(f"hermetic serve did not start: {line!r}")
    return line.split(" at ", 1)[1].split()[0], process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def served(tmp_path) -> Served:
    root = tmp_path / "served-store"
    root.mkdir()
    token = secrets.token_hex(16)
    url, process = start_server(root, token)
    yield Served(url, root, token, process)
    stop(process)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """A real Azurite blob service on 127.0.0.1 (installed by `make test`'s set-up)."""
    node = shutil.which("node")
    if node is None or not AZURITE_BIN.exists():
        pytest.skip(f"Azurite is not installed in {AZURITE_DIR} (run `make azurite`)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    process = subprocess.Popen(
        [str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(port),
         "--location", str(workdir), "--silent", "--skipApiVersionCheck", "--loose"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("Azurite did not start")
            time.sleep(0.1)
    connection = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                  f"AccountKey={AZURITE_KEY};"
                  f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};")
    yield connection
    stop(process)


@pytest.fixture
def azure_url(azurite, monkeypatch) -> str:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    return f"azure://{AZURITE_ACCOUNT}/cache-{secrets.token_hex(4)}"


@pytest.fixture(params=["file", "http", "azure"])
def transport(request, tmp_path):
    """(url, token, tamper(relative_path, data)) for a fresh, empty remote of each kind."""
    kind = request.param
    if kind == "file":
        root = tmp_path / "file-cache"
        root.mkdir()
        yield f"file://{root}", None, _dir_tamperer(root)
    elif kind == "http":
        served = request.getfixturevalue("served")
        yield served.url, served.token, _dir_tamperer(served.root)
    else:
        url = request.getfixturevalue("azure_url")
        yield url, None, _azure_tamperer(url)


def _dir_tamperer(root: Path):
    def tamper(relative: str, data: bytes) -> None:
        path = root / relative
        os.chmod(path, 0o644)
        path.write_bytes(data)
    return tamper


def _azure_tamperer(url: str):
    def tamper(relative: str, data: bytes) -> None:
        from azure.storage.blob import BlobServiceClient
        container = url.split("/")[3]
        service = BlobServiceClient.from_connection_string(
            os.environ["AZURE_STORAGE_CONNECTION_STRING"])
        service.get_blob_client(container, relative).upload_blob(data, overwrite=True)
    return tamper
