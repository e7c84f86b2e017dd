"""`hermetic push`, `hermetic cache info` and the [cache] table, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hermetic.errors import ConfigError
from hermetic.remote import open_remote
from hermetic.remote.config import apply_flags, load_cache_config
from hermetic.store import Store

from .conftest import REPO, make_result


def hermetic(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hermetic", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_push_everything_then_cache_info(tmp_path, team, served):
    store = Store(tmp_path / "s")
    entries = [make_result(store, team, component=f"c{i}") for i in range(3)]
    token = tmp_path / "token"
    token.write_text(served.token)
    result = hermetic("--store", str(store.root), "push", served.url, "--token-file", str(token))
    assert result.returncode == 0, result.stderr
    distinct = len({o.digest for e in entries for o in e.outputs})  # the empty output is shared
    assert f"pushed 3 of 3 entries ({distinct} objects uploaded)" in result.stdout
    remote = open_remote(served.url)
    assert all(remote.get_entry(e.key) == e.encode() for e in entries)
    refused = hermetic("--store", str(store.root), "push", served.url,
                       "--token-file", str(tmp_path / "missing-token"))
    assert refused.returncode == 2 and "cannot read the cache token" in refused.stderr
    info = hermetic("cache", "info", served.url, "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["writable"] is True
    down = hermetic("cache", "info", "http://127.0.0.1:9")
    assert down.returncode == 7 and "reachable: False" in down.stdout


def test_unauthenticated_cli_push_fails_with_one_line_per_entry(tmp_path, team, served):
    store = Store(tmp_path / "s")
    make_result(store, team)
    env = {k: v for k, v in os.environ.items() if k != "HERMETIC_CACHE_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "hermetic", "--store", str(store.root), "push",
                             served.url], capture_output=True, text=True,
                            env={**env, "PYTHONPATH": str(REPO)})
    assert result.returncode == 7
    assert "401" in result.stderr and "Traceback" not in result.stderr


def test_cache_table_and_flags(tmp_path, team):
    project = tmp_path / "hermetic.toml"
    project.write_text(f"""
[cache]
substituters = [{{ url = "file:///far", priority = 40 }}, {{ url = "file:///near", priority = 10 }}]
push = ["file:///push"]
trusted-keys = ["{team.public_text}"]
secret-key = "keys/team.secret"
""")
    settings = load_cache_config(project)
    assert settings.secret_key == tmp_path / "keys/team.secret"
    settings = apply_flags(settings, substituters=["http://first"], push=["file:///push"],
                           trusted_keys=[], cwd=tmp_path)
    substituters = settings.open_substituters()
    assert [r.url for r in substituters.remotes] == ["http://first", "file:///near", "file:///far"]
    assert settings.push == ["file:///push"]
    project.write_text('[cache]\ntrusted-keys = ["nocolon"]\n')
    with pytest.raises(ConfigError, match="cache.trusted-keys"):
        load_cache_config(project)
    project.write_text('[cache]\nsubstituter = []\n')
    with pytest.raises(ConfigError, match="cache.substituter"):
        load_cache_config(project)
