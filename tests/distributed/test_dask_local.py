"""`--executor dask-local:N`: a real LocalCluster, `hermetic serve` as the team cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.build.conftest import Hermetic, copy_workspace, seed_store
from tests.distributed.conftest import failing_spec

pytestmark = pytest.mark.slow


def rpm_digests(summary: dict) -> dict[str, str]:
    return {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest()
            for c in summary["components"] for p in c["outputs"]}


def dask_args(cache, workers: int = 2) -> list[str]:
    return ["--executor", f"dask-local:{workers}", "--push", cache.url,
            "--token-file", str(cache.token_file)]


def worker_events(stdout_events: list[dict]) -> dict[str, str]:
    return {e["name"]: e["detail"] for e in stdout_events
            if e.get("event") == "component" and e["detail"].startswith("on tcp://")}


def events_of(hermetic: Hermetic, workspace: Path, *args: str):
    import json
    result = hermetic.run("build", str(workspace), "--json", *args, check=False)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result, lines


def test_dask_build_is_byte_identical_to_a_local_build(tmp_path, rpm_buildroot, cache):
    local = Hermetic(seed_store(tmp_path / "store-local", rpm_buildroot))
    built_here = local.build_json(copy_workspace(tmp_path / "ws-local"))

    remote = Hermetic(seed_store(tmp_path / "store-dask", rpm_buildroot))
    workspace = copy_workspace(tmp_path / "ws-dask")
    result, events = events_of(remote, workspace, *dask_args(cache))
    assert result.returncode == 0, result.stderr
    summary = events[-1]
    assert {c["name"]: c["status"] for c in summary["components"]} == \
        {"libgreet": "built", "greeter": "built"}
    # Both went through a worker, and the progress events say which one.
    assert set(worker_events(events)) == {"libgreet", "greeter"}
    assert {c["name"]: c["key"] for c in summary["components"]} == \
        {c["name"]: c["key"] for c in built_here["components"]}
    assert rpm_digests(summary) == rpm_digests(built_here)
    # Outputs and the entries went through the cache (one entry per key), the buildroot too.
    assert len(cache.entry_files()) == 2
    assert any((cache.root / "buildroots").glob("*.entry")) or \
        any((cache.root / "buildroots").rglob("*"))

    again = remote.build_json(workspace, *dask_args(cache))
    assert set(again["statuses"].values()) == {"cached"}


def test_cached_component_is_never_submitted_and_failures_bring_their_log(
        tmp_path, rpm_buildroot, cache):
    hermetic = Hermetic(seed_store(tmp_path / "store", rpm_buildroot))
    workspace = copy_workspace(tmp_path / "ws")
    first = hermetic.run("build", str(workspace), "libgreet")  # local: cached from now on
    assert "libgreet: built" in first.stdout
    failing_spec(workspace, "greeter")

    result, events = events_of(hermetic, workspace, *dask_args(cache, workers=1))
    summary = events[-1]
    statuses = {c["name"]: c["status"] for c in summary["components"]}
    assert statuses == {"libgreet": "cached", "greeter": "failed"}, result.stderr
    assert result.returncode == 5
    assert list(worker_events(events)) == ["greeter"]  # libgreet never reached the cluster
    assert "deliberate failure here" in result.stderr   # the log's tail, fetched by digest
    log = hermetic.store / "failed" / "greeter" / "build.log"
    assert "deliberate failure here" in log.read_text()
    # A failure is never a result: the cache holds libgreet's entry (pushed as --push does for
    # cached results) and nothing for greeter.
    keys = {c["name"]: c["key"] for c in summary["components"]}
    assert [p.name for p in cache.entry_files()] == [keys["libgreet"]]


def test_dask_executors_need_a_cache(tmp_path, rpm_buildroot):
    hermetic = Hermetic(seed_store(tmp_path / "store", rpm_buildroot))
    result = hermetic.run("build", str(copy_workspace(tmp_path / "ws")), "--executor",
                          "dask-local:1", check=False)
    assert result.returncode == 2
    assert "needs a team cache" in result.stderr
    result = hermetic.run("build", str(tmp_path / "ws"), "--executor", "dask", "--push",
                          "file:///nonexistent", check=False, env={"HERMETIC_SCHEDULER": ""})
    assert result.returncode == 2
    assert "--scheduler" in result.stderr
