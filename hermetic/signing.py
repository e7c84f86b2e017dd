"""Ed25519 signatures of action entries, with keys in Nix's ``name:base64`` text form.

A secret key is ``name:base64(seed ‖ public)`` (64 bytes, as Nix writes them); a public key is
``name:base64(public)`` (32 bytes). A signature covers the entry's *fingerprint*: the canonical
encoding of everything a consumer relies on (key, component, output names, digests, sizes and
kinds, buildroot, impurity and the manifest's digest), never the signatures themselves.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hermetic.canonical import canonical, digest
from hermetic.errors import ConfigError
from hermetic.store.entry import ActionEntry, Signature

FINGERPRINT_DOMAIN = "hermetic-action-entry-1"


@dataclass(frozen=True)
class PublicKey:
    name: str
    key: Ed25519PublicKey

    def text(self) -> str:
        raw = self.key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return f"{self.name}:{base64.b64encode(raw).decode()}"


@dataclass(frozen=True)
class SecretKey:
    name: str
    key: Ed25519PrivateKey

    def public(self) -> PublicKey:
        return PublicKey(self.name, self.key.public_key())


def _split(text: str, what: str) -> tuple[str, bytes]:
    name, sep, encoded = text.strip().partition(":")
    if not sep or not name or any(c.isspace() for c in name):
        raise ConfigError(f"malformed {what} {text.strip()[:40]!r}: expected NAME:BASE64")
    try:
        return name, base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"malformed {what} {name!r}: the part after ':' is not base64") from None


def generate_key(name: str) -> tuple[str, str]:
    """A fresh key pair as text: (``name:secret``, ``name:public``)."""
    if not name or ":" in name or any(c.isspace() for c in name):
        raise ConfigError(f"key name {name!r} must be non-empty, without ':' or spaces")
    secret = Ed25519PrivateKey.generate()
    seed = secret.private_bytes_raw()
    public = secret.public_key().public_bytes_raw()
    return (f"{name}:{base64.b64encode(seed + public).decode()}",
            f"{name}:{base64.b64encode(public).decode()}")


def parse_secret_key(text: str) -> SecretKey:
    name, raw = _split(text, "secret key")
    if len(raw) not in (32, 64):
        raise ConfigError(f"secret key {name!r}: expected 64 bytes (seed and public), got {len(raw)}")
    key = Ed25519PrivateKey.from_private_bytes(raw[:32])
    if len(raw) == 64 and key.public_key().public_bytes_raw() != raw[32:]:
        raise ConfigError(f"secret key {name!r}: its public half does not match its seed")
    return SecretKey(name, key)


def load_secret_key(path: str | os.PathLike[str]) -> SecretKey:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read secret key ({exc.strerror})") from None
    try:
        return parse_secret_key(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None


def parse_public_key(text: str) -> PublicKey:
    name, raw = _split(text, "public key")
    if len(raw) != 32:
        raise ConfigError(f"public key {name!r}: expected 32 bytes, got {len(raw)}")
    return PublicKey(name, Ed25519PublicKey.from_public_bytes(raw))


def fingerprint(entry: ActionEntry) -> bytes:
    """The bytes a signature covers (canonical msgpack; output order does not matter)."""
    outputs = sorted([o.name, o.digest, o.size, o.kind] for o in entry.outputs)
    return canonical({
        "domain": FINGERPRINT_DOMAIN,
        "key": entry.key,
        "component": entry.component,
        "outputs": outputs,
        "buildroot": entry.buildroot,
        "impure": entry.impure,
        "manifest": digest(entry.manifest),
    })


def sign_entry(entry: ActionEntry, secret: SecretKey) -> ActionEntry:
    """``entry`` with this key's signature added (replacing an older one by the same name)."""
    signature = base64.b64encode(secret.key.sign(fingerprint(entry))).decode()
    others = tuple(s for s in entry.signatures if s.key_name != secret.name)
    return entry.with_signatures(others + (Signature(secret.name, signature),))


def _as_public(key: PublicKey | str) -> PublicKey:
    return key if isinstance(key, PublicKey) else parse_public_key(key)


def verify_entry(entry: ActionEntry, trusted: Iterable[PublicKey | str]) -> bool:
    """True when at least one trusted key signed this entry and no trusted key's signature fails.

    Signatures by keys we do not trust are ignored: we cannot judge them. A signature that
    names a trusted key but does not verify means tampering, and rejects the entry.
    """
    keys: dict[str, list[PublicKey]] = {}
    for key in trusted:
        public = _as_public(key)
        keys.setdefault(public.name, []).append(public)
    message = fingerprint(entry)
    good = False
    for signature in entry.signatures:
        candidates = keys.get(signature.key_name)
        if not candidates:
            continue
        try:
            raw = base64.b64decode(signature.signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        if not any(_verifies(k, raw, message) for k in candidates):
            return False
        good = True
    return good


def _verifies(public: PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public.key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def write_key_pair(name: str, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``generate_key`` to ``DIR/NAME.secret`` (0600) and ``DIR/NAME.public``; never overwrites."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    secret_text, public_text = generate_key(name)
    secret_path, public_path = directory / f"{name}.secret", directory / f"{name}.public"
    for path in (secret_path, public_path):
        if path.exists():
            raise ConfigError(f"{path} already exists; refusing to overwrite a key")
    _write_exclusive(secret_path, secret_text + "\n", 0o600)
    _write_exclusive(public_path, public_text + "\n", 0o644)
    return secret_path, public_path


def _write_exclusive(path: Path, text: str, mode: int) -> None:
    """Write to a temp file with ``mode`` from the start, then link into place (no overwrite)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    finally:
        os.unlink(tmp)


def local_key(keys_dir: str | os.PathLike[str]) -> SecretKey:
    """The store's own signing key, ``keys/local.secret``, created on first use.

    Concurrent first uses agree on one key: the loser of the ``link`` race reads the winner's.
    """
    keys_dir = Path(keys_dir)
    secret_path = keys_dir / "local.secret"
    if not secret_path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        name = f"{os.uname().nodename or 'localhost'}-hermetic-1"
        secret_text, _ = generate_key(name)
        try:
            _write_exclusive(secret_path, secret_text + "\n", 0o600)
        except FileExistsError:
            pass
    secret = load_secret_key(secret_path)
    public_path = keys_dir / "local.public"
    if not public_path.exists():
        try:
            _write_exclusive(public_path, secret.public().text() + "\n", 0o644)
        except FileExistsError:
            pass
    return secret


__all__ = [
    "PublicKey", "SecretKey", "generate_key", "parse_secret_key", "load_secret_key",
    "parse_public_key", "fingerprint", "sign_entry", "verify_entry", "write_key_pair",
    "local_key",
]
