"""Who may talk to a cluster (pure checks; Dask's Security object is built lazily).

Anyone who reaches a Dask scheduler can run code on its workers, so hermetic uses plain TCP on
loopback only; any other address needs ``tls://`` with a CA, a certificate and a key on every
side (Dask then requires and verifies the peer's certificate: mutual TLS).
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hermetic.errors import ConfigError

SCHEDULER_ENV = "HERMETIC_SCHEDULER"
TLS_ENV = {"ca": "HERMETIC_TLS_CA", "cert": "HERMETIC_TLS_CERT", "key": "HERMETIC_TLS_KEY"}
DEFAULT_PORT = 8786


@dataclass(frozen=True)
class Executor:
    kind: str                 # local | dask | dask-local
    workers: int = 0          # dask-local only


def parse_executor(text: str) -> Executor:
    """``local``, ``dask`` or ``dask-local:N`` (N ≥ 1)."""
    if text in ("local", "dask"):
        return Executor(text)
    if text.startswith("dask-local:"):
        count = text.split(":", 1)[1]
        if count.isdigit() and int(count) >= 1:
            return Executor("dask-local", int(count))
    raise ConfigError(f"--executor {text!r}: use local, dask or dask-local:N (N ≥ 1 workers)")


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path

    def security(self) -> Any:
        """A Dask ``Security`` that requires encryption and verifies peers with ``ca``."""
        from distributed.security import Security

        return Security(tls_ca_file=str(self.ca), tls_client_cert=str(self.cert),
                        tls_client_key=str(self.key), tls_scheduler_cert=str(self.cert),
                        tls_scheduler_key=str(self.key), tls_worker_cert=str(self.cert),
                        tls_worker_key=str(self.key), require_encryption=True)


def tls_files(ca: str | None = None, cert: str | None = None, key: str | None = None,
              *, cwd: Path | None = None) -> TlsFiles | None:
    """The TLS files from flags, else ``$HERMETIC_TLS_CA/CERT/KEY``; None when none is given."""
    given = {"ca": ca or os.environ.get(TLS_ENV["ca"]),
             "cert": cert or os.environ.get(TLS_ENV["cert"]),
             "key": key or os.environ.get(TLS_ENV["key"])}
    if not any(given.values()):
        return None
    absent = [f"--tls-{name} (or ${TLS_ENV[name]})" for name, value in given.items() if not value]
    if absent:
        raise ConfigError(f"TLS needs a CA, a certificate and a key: {', '.join(absent)} "
                          "missing")
    base = cwd or Path.cwd()
    paths = {name: base / value for name, value in given.items()}  # type: ignore[operator]
    for name, path in paths.items():
        if not path.is_file():
            raise ConfigError(f"TLS {name} file {path} does not exist")
    return TlsFiles(**paths)


def split_address(address: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``tcp://h:p``, ``tls://h:p`` or ``h:p`` (tcp)."""
    text = address if "://" in address else f"tcp://{address}"
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in ("tcp", "tls") or not parsed.hostname:
        raise ConfigError(f"scheduler address {address!r}: use tcp://HOST:PORT on loopback or "
                          "tls://HOST:PORT")
    try:
        port = parsed.port or DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"scheduler address {address!r}: bad port") from None
    return parsed.scheme, parsed.hostname, port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(address: str, tls: TlsFiles | None, *, what: str = "scheduler") -> str:
    """The address to use, normalised; refuses anything but loopback without mutual TLS."""
    scheme, host, port = split_address(address)
    if scheme == "tls" and tls is None:
        raise ConfigError(f"{what} {address}: tls:// needs --tls-ca, --tls-cert and --tls-key "
                          f"(or ${TLS_ENV['ca']}, ${TLS_ENV['cert']}, ${TLS_ENV['key']})")
    if not is_loopback(host) and scheme != "tls":
        raise ConfigError(f"{what} {address}: refusing a non-loopback address without TLS "
                          "(anyone who reaches a Dask scheduler can run code on its workers)",
                          hint=f"use tls://{host}:{port} with client certificates, or "
                               "127.0.0.1 through an SSH tunnel")
    bracketed = f"[{host}]" if ":" in host else host
    return f"{scheme}://{bracketed}:{port}"
