"""Round trips and tampering through every transport: file://, hermetic serve, Azure (Azurite)."""

from __future__ import annotations

import dataclasses

import pytest

from hermetic.remote import Substituters, Uploader, open_remote
from hermetic.remote.layout import entry_path, object_path
from hermetic.signing import generate_key, parse_secret_key, sign_entry
from hermetic.store import Store

from .conftest import make_result


def push(url, token, store, key):
    uploader = Uploader([url], token)
    uploader.submit(store, key)
    assert uploader.close() == []
    return uploader


def pull(url, team, store, key):
    warnings: list[str] = []
    substituters = Substituters([(url, 10)], [team.public_text], warn=warnings.append)
    try:
        return substituters.pull(store, key), warnings
    finally:
        substituters.close()


def test_round_trip(transport, team, tmp_path):
    url, token, _ = transport
    source = Store(tmp_path / "a")
    entry = make_result(source, team)
    uploader = push(url, token, source, entry.key)
    assert uploader.objects_uploaded == 3
    # A second push finds every object present and uploads none.
    assert push(url, token, source, entry.key).objects_uploaded == 0

    other = Store(tmp_path / "b")
    pulled, warnings = pull(url, team, other, entry.key)
    assert warnings == []
    assert pulled is not None and pulled.key == entry.key
    # The remote's signatures are kept as they were: nothing re-signed on the way in.
    assert pulled.signatures == entry.signatures
    assert other.actions.get(entry.key, record_use=False).encode() == entry.encode()
    for output in entry.outputs:
        assert other.objects.path(output.digest).read_bytes() == \
            source.objects.path(output.digest).read_bytes()
    assert other.latest("demo") == entry.key


def test_missing_is_batched_and_exact(transport, team, tmp_path):
    url, token, _ = transport
    source = Store(tmp_path / "a")
    entry = make_result(source, team)
    push(url, token, source, entry.key)
    remote = open_remote(url, token)
    absent = "0" * 64
    present = [o.digest for o in entry.outputs]
    assert remote.missing(present + [absent, absent]) == [absent]
    assert remote.get_entry("f" * 64) is None
    remote.close()


def _pushed(transport, team, tmp_path):
    url, token, tamper = transport
    source = Store(tmp_path / "a")
    entry = make_result(source, team)
    push(url, token, source, entry.key)
    return url, tamper, source, entry


def _assert_rejected(url, team, tmp_path, entry, reason: str):
    other = Store(tmp_path / "victim")
    pulled, warnings = pull(url, team, other, entry.key)
    assert pulled is None
    assert len(warnings) == 1 and reason in warnings[0], warnings
    assert other.actions.get(entry.key, record_use=False) is None
    # Nothing unverified reached the store: no tampered object, no staging leftovers.
    for output in entry.outputs:
        path = other.objects.path(output.digest)
        assert not path.exists() or path.read_bytes() != b"tampered"
    assert not any((other.root / "tmp").iterdir()) if (other.root / "tmp").exists() else True


def test_flipped_byte_in_object_is_rejected(transport, team, tmp_path):
    url, tamper, source, entry = _pushed(transport, team, tmp_path)
    output = max(entry.outputs, key=lambda o: o.size)
    data = bytearray(source.objects.path(output.digest).read_bytes())
    data[len(data) // 2] ^= 0x01
    tamper(object_path(output.digest), bytes(data))
    _assert_rejected(url, team, tmp_path, entry, "hashes to")


def test_truncated_object_is_rejected(transport, team, tmp_path):
    url, tamper, source, entry = _pushed(transport, team, tmp_path)
    output = max(entry.outputs, key=lambda o: o.size)
    tamper(object_path(output.digest), source.objects.path(output.digest).read_bytes()[:-100])
    _assert_rejected(url, team, tmp_path, entry, output.digest[:16])


def test_edited_entry_is_rejected(transport, team, tmp_path):
    url, tamper, source, entry = _pushed(transport, team, tmp_path)
    # Point an output at other (existing) bytes: the signatures no longer cover the entry.
    swapped = dataclasses.replace(entry.outputs[0], digest=entry.outputs[1].digest,
                                  size=entry.outputs[1].size)
    edited = dataclasses.replace(entry, outputs=(swapped,) + entry.outputs[1:])
    tamper(entry_path(entry.key), edited.encode())
    _assert_rejected(url, team, tmp_path, entry, "does not verify")


def test_untrusted_signer_is_rejected(transport, team, tmp_path):
    url, token, tamper = transport
    source = Store(tmp_path / "a")
    entry = make_result(source, team)
    mallory = parse_secret_key(generate_key("mallory-1")[0])
    forged = sign_entry(entry.with_signatures(()), mallory)
    push(url, token, source, entry.key)
    tamper(entry_path(entry.key), forged.encode())
    _assert_rejected(url, team, tmp_path, entry, "no signature by a trusted key")


def test_entry_under_the_wrong_key_is_rejected(transport, team, tmp_path):
    url, tamper, source, entry = _pushed(transport, team, tmp_path)
    other = make_result(source, team, component="other")
    tamper(entry_path(entry.key), other.encode())
    _assert_rejected(url, team, tmp_path, entry, "claims key")


@pytest.mark.parametrize("rounds", [3])
def test_tampering_is_rejected_every_time(transport, team, tmp_path, rounds):
    url, tamper, source, entry = _pushed(transport, team, tmp_path)
    output = entry.outputs[1]
    data = bytearray(source.objects.path(output.digest).read_bytes())
    data[0] ^= 0x80
    tamper(object_path(output.digest), bytes(data))
    for round_ in range(rounds):
        _assert_rejected(url, team, tmp_path / f"r{round_}", entry, "hashes to")
