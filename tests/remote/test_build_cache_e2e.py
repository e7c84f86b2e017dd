"""`hermetic build --push` on one machine, `--substituter --no-build` on "another": nothing is
built the second time and the RPMs are byte-identical; an untrusted cache is never used."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hermetic.signing import write_key_pair
from tests.build.conftest import Hermetic, copy_workspace, seed_store

pytestmark = pytest.mark.slow


def rpm_digests(summary: dict) -> dict[str, str]:
    return {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest()
            for c in summary["components"] for p in c["outputs"]}


def test_second_machine_pulls_everything_and_builds_nothing(tmp_path, rpm_buildroot, served):
    secret, public = write_key_pair("team-1", tmp_path / "keys")
    token_file = tmp_path / "push.token"
    token_file.write_text(served.token)
    first = Hermetic(seed_store(tmp_path / "store-a", rpm_buildroot))
    built = first.build_json(copy_workspace(tmp_path / "ws-a"), "--push", served.url,
                             "--token-file", str(token_file), "--secret-key", str(secret))
    assert built["statuses"] == {"libgreet": "built", "greeter": "built"}, built["stderr"]

    # Another machine: its own store (same buildroot), its own checkout, trusts the team key.
    second = Hermetic(seed_store(tmp_path / "store-b", rpm_buildroot))
    pulled = second.build_json(copy_workspace(tmp_path / "elsewhere" / "ws-b"), "--no-build",
                               "--substituter", served.url,
                               "--trusted-key", public.read_text().strip())
    assert pulled["statuses"] == {"libgreet": "pulled", "greeter": "pulled"}, pulled["stderr"]
    assert not (second.store / "failed").exists()
    assert rpm_digests(pulled) == rpm_digests(built)

    # A third machine trusting some other key rejects the cache and, with --no-build, fails.
    _, stranger = write_key_pair("stranger-1", tmp_path / "other-keys")
    third = Hermetic(seed_store(tmp_path / "store-c", rpm_buildroot))
    refused = third.build_json(copy_workspace(tmp_path / "ws-c"), "--no-build",
                               "--substituter", served.url,
                               "--trusted-key", stranger.read_text().strip(), check=False)
    assert refused["returncode"] != 0
    assert refused["statuses"]["libgreet"] == "failed"
    assert "no signature by a trusted key" in refused["stderr"]
