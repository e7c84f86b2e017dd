"""The build's Dask agent, a real process: start-up errors, a dying agent, a crashing task."""

from __future__ import annotations

import os
import signal
import pytest

from hermetic.distributed.link import AgentLink, TaskCrashed
from hermetic.errors import HermeticError

pytest.importorskip("distributed")


def _settings(**changes) -> dict:
    settings = {"kind": "dask", "workers": 0, "scheduler": None, "tls": None, "worker": None,
                "run_id": "test-run"}
    settings.update(changes)
    return settings


def _task_wire(**changes) -> dict:
    from hermetic import __version__
    from hermetic.distributed.task import BuildTask
    from hermetic.sandbox.profile import PROFILE_VERSION

    fields = dict(key="ab" * 32, name="demo", manifest={"component": "demo"},
                  spec_name="demo.spec", files={}, buildroot="ef" * 32, dep_rpms=[],
                  source_date_epoch=1700000000, check_skip=False, cpu_count=1, timeout=None,
                  max_silent_time=None, expensive=False, hermetic_version=__version__,
                  sandbox_profile=PROFILE_VERSION, run_id="test-run")
    fields.update(changes)
    return BuildTask(**fields).to_wire()


def test_an_agent_that_cannot_start_its_client_says_why_in_one_line(tmp_path):
    missing = {name: str(tmp_path / f"absent-{name}.pem") for name in ("ca", "cert", "key")}
    link = AgentLink.spawn("dask").begin(_settings(scheduler="tls://127.0.0.1:9", tls=missing))
    try:
        with pytest.raises(HermeticError) as raised:
            link.ready()
        assert "\n" not in str(raised.value)
        assert "Dask" in str(raised.value)
    finally:
        link.close()


def test_a_dead_agent_fails_the_run_instead_of_hanging():
    link = AgentLink.spawn("dask").begin(_settings(scheduler="tcp://127.0.0.1:9"))
    try:
        os.kill(link._process.pid, signal.SIGKILL)
        with pytest.raises(HermeticError, match="the Dask agent exited"):
            link.ready()
        pending = link.submit({}, key="hermetic-x", priority=0, resource="slots")
        assert pending.wait(5) and isinstance(pending.error, HermeticError)
    finally:
        link.close()  # closing a dead agent's link is quiet


def test_an_unused_agent_is_stopped_at_close():
    link = AgentLink.spawn("dask-local")
    process = link._process
    link.close()
    assert process.poll() is not None


@pytest.mark.slow
def test_a_task_that_crashes_on_the_worker_comes_back_with_where(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    worker = {"store": str(tmp_path / "store"), "cache_url": cache.as_uri(), "token": None,
              "secret_key": None}
    link = AgentLink.spawn("dask-local").begin(_settings(kind="dask-local", workers=1,
                                                          worker=worker))
    try:
        ready = link.ready()
        assert ready.slots >= 1
        # A manifest with a float has no key: hashing it raises on the worker (not a
        # HermeticError), the task is retried once, then reported with where it happened.
        pending = link.submit(_task_wire(manifest={"x": 1.5}), key="hermetic-broken",
                              priority=0, resource="slots")
        assert pending.wait(120)
        assert isinstance(pending.error, TaskCrashed)
        assert "NonCanonicalValue" in pending.error.message
        assert "canonical.py:" in pending.error.message  # where, on the worker
    finally:
        link.close()


def test_without_dask_installed_the_agent_says_how_to_get_it(tmp_path, monkeypatch):
    # A None entry in sys.modules makes `import distributed` fail as if it were not installed.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['distributed'] = None\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    link = AgentLink.spawn("dask").begin(_settings(scheduler="tcp://127.0.0.1:9"))
    try:
        with pytest.raises(HermeticError) as raised:
            link.ready()
        assert "need Dask" in str(raised.value) and "hermetic[dask]" in raised.value.hint
    finally:
        link.close()
