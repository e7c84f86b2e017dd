from __future__ import annotations

import base64
import dataclasses
import stat
from pathlib import Path

import pytest

from hermetic.errors import ConfigError, StoreError
from hermetic.signing import (fingerprint, generate_key, load_secret_key, parse_public_key,
                              parse_secret_key, sign_entry, verify_entry, write_key_pair)
from hermetic.store import OutputRef, Store

from .conftest import make_entry


@pytest.fixture
def entry(store: Store):
    return make_entry(store, "hello", "k", {"hello-1.0-1.x86_64.rpm": b"rpm",
                                            "hello-1.0-1.src.rpm": b"srpm"})


@pytest.fixture
def team_key():
    secret_text, public_text = generate_key("cache.example.org-1")
    return parse_secret_key(secret_text), public_text


def test_key_text_format_is_nix_style() -> None:
    secret_text, public_text = generate_key("cache.example.org-1")
    name, encoded = public_text.split(":")
    assert name == "cache.example.org-1" and len(base64.b64decode(encoded)) == 32
    assert len(base64.b64decode(secret_text.split(":")[1])) == 64
    assert parse_secret_key(secret_text).public().text() == public_text
    for bad in ("no-colon", "name:%%%", "name:" + base64.b64encode(b"short").decode()):
        with pytest.raises(ConfigError):
            parse_public_key(bad)


def test_good_signature_verifies(entry, team_key) -> None:
    secret, public_text = team_key
    signed = sign_entry(entry, secret)
    assert verify_entry(signed, [public_text])
    assert verify_entry(signed, [parse_public_key(public_text)])
    # output order is not part of the fingerprint
    reordered = dataclasses.replace(signed, outputs=tuple(reversed(signed.outputs)))
    assert verify_entry(reordered, [public_text])


def test_tampered_digest_is_rejected(store: Store, entry, team_key) -> None:
    secret, public_text = team_key
    signed = sign_entry(entry, secret)
    evil = store.objects.put_bytes(b"evil rpm")
    first = signed.outputs[0]
    tampered = dataclasses.replace(
        signed, outputs=(OutputRef(first.name, evil, first.size, first.kind),) + signed.outputs[1:])
    assert not verify_entry(tampered, [public_text])
    resized = dataclasses.replace(
        signed, outputs=(dataclasses.replace(first, size=first.size + 1),) + signed.outputs[1:])
    assert not verify_entry(resized, [public_text])
    assert not verify_entry(dataclasses.replace(signed, manifest={"other": 1}), [public_text])
    assert fingerprint(signed) != fingerprint(tampered)


def test_untrusted_key_is_rejected(entry, team_key) -> None:
    secret, _ = team_key
    _, stranger = generate_key("stranger-1")
    signed = sign_entry(entry, secret)
    assert not verify_entry(signed, [stranger])
    assert not verify_entry(entry, [stranger])  # unsigned


def test_wrong_key_under_a_trusted_name_is_rejected(entry, team_key) -> None:
    secret, _ = team_key
    _, impostor_public = generate_key("cache.example.org-1")  # same name, other key
    assert not verify_entry(sign_entry(entry, secret), [impostor_public])


def test_a_bad_trusted_signature_is_not_rescued_by_a_good_one(entry, team_key) -> None:
    secret, public_text = team_key
    other_secret_text, other_public = generate_key("other-1")
    signed = sign_entry(sign_entry(entry, secret), parse_secret_key(other_secret_text))
    assert verify_entry(signed, [public_text, other_public])
    broken = dataclasses.replace(signed, signatures=(
        signed.signatures[0],
        dataclasses.replace(signed.signatures[1], signature=signed.signatures[0].signature)))
    assert not verify_entry(broken, [public_text, other_public])
    assert verify_entry(broken, [public_text])  # the broken one is by a key we do not trust


def test_store_get_with_trusted_keys(store: Store, entry, team_key) -> None:
    _, public_text = team_key
    store.actions.put(entry.key, entry)
    assert store.actions.get(entry.key, trusted=[store.local_public_key()]) is not None
    with pytest.raises(StoreError, match="no valid signature from a trusted key"):
        store.actions.get(entry.key, trusted=[public_text])


def test_write_key_pair_modes_and_no_overwrite(tmp_path: Path) -> None:
    secret_path, public_path = write_key_pair("team-1", tmp_path)
    assert stat.S_IMODE(secret_path.stat().st_mode) == 0o600
    assert load_secret_key(secret_path).public().text() == public_path.read_text().strip()
    with pytest.raises(ConfigError, match="already exists"):
        write_key_pair("team-1", tmp_path)
    (tmp_path / "bad.secret").write_text("bad:AAAA\n")
    with pytest.raises(ConfigError, match="bad.secret"):
        load_secret_key(tmp_path / "bad.secret")


def test_local_key_is_created_once(store: Store) -> None:
    first = store.local_public_key().text()
    assert Store(store.root).local_public_key().text() == first
    assert (store.root / "keys" / "local.public").read_text().strip() == first
