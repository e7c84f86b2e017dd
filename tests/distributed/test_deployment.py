"""Deployment-shaped: `hermetic scheduler`, two `hermetic worker` processes (one as an
unprivileged user when the tests run as root), a worker killed mid-build, a cancelled run, and
a worker whose sandbox is broken."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.build.conftest import copy_workspace, seed_store
from tests.distributed.conftest import (Background, env_with, sandboxes_under, slow_spec,
                                        wait_until)

pytestmark = pytest.mark.slow
NOBODY = 65534


def _unprivileged_prefix() -> list[str]:
    """How to run the second worker as nobody, when running as root and nobody can run this
    interpreter (a venv under /root cannot be); else [] (both workers run as we do)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return []
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    # The worker starts further interpreters (the fork server): probe a nested start too.
    nested = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'pass'], check=True)"
    probe = subprocess.run([*prefix, sys.executable, "-c", nested],
                           capture_output=True, env=env_with(), cwd="/")
    return prefix if probe.returncode == 0 else []


def _worker_store(base: Path, name: str, buildroot, owner: int | None) -> Path:
    store = seed_store(base / name, buildroot)
    if owner is not None:  # the tree stays root's (hardlinked, read-only); the rest is theirs
        for path in (store, store / "buildroots", store / "buildroots" / "names",
                     store / "buildroots" / "meta"):
            os.chown(path, owner, owner)
    return store


@pytest.fixture
def base():
    # Somewhere an unprivileged worker can reach (pytest's tmp_path is root-only).
    path = Path(tempfile.mkdtemp(prefix="hermetic-dask-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_killed_worker_task_is_rescheduled_and_the_entry_appears_once(
        base, rpm_buildroot, cache):
    env = env_with(HERMETIC_CACHE_TOKEN=cache.token)
    scheduler = Background(["scheduler", "--port", "0"], env)
    workers: list[Background] = []
    try:
        address = scheduler.read_until(lambda l: "scheduler at" in l, "scheduler start")
        address = address.split(" at ", 1)[1].strip()
        prefix = _unprivileged_prefix()
        stores = [_worker_store(base, "worker-a", rpm_buildroot, None),
                  _worker_store(base, "worker-b", rpm_buildroot, NOBODY if prefix else None)]
        for store, user_prefix in zip(stores, ([], prefix)):
            workers.append(Background(["--store", str(store), "worker", "--scheduler", address,
                                       "--push", cache.url], env, cwd=base, new_session=True,
                                      prefix=user_prefix))
        from distributed import Client
        with Client(address, timeout="30s") as probe:
            probe.wait_for_workers(2, timeout=120)
        client_store = seed_store(base / "client-store", rpm_buildroot)
        workspace = copy_workspace(base / "ws")
        slow_spec(workspace, "libgreet", 8)
        client = Background(["--store", str(client_store), "build", str(workspace), "--json",
                             "--executor", "dask", "--scheduler", address, "--push", cache.url],
                            env, new_session=True)
        client.read_until(lambda l: '"libgreet"' in l and "on tcp://" in l, "libgreet starts")
        wait_until(lambda: any(sandboxes_under(s / "tmp") for s in stores), 60,
                   "a sandbox on a worker")
        victim = next(i for i, s in enumerate(stores) if sandboxes_under(s / "tmp"))
        workers[victim].kill_group()
        # The dead worker's fork server takes its sandboxes down with it.
        wait_until(lambda: not sandboxes_under(stores[victim] / "tmp"), 30,
                   "the killed worker's sandbox to go")
        out, err = client.finish(timeout=240)
        assert client.process.returncode == 0, err
        summary = client.json_events()[-1]
        assert {c["name"]: c["status"] for c in summary["components"]} == \
            {"libgreet": "built", "greeter": "built"}, err
        keys = {c["name"]: c["key"] for c in summary["components"]}
        # Exactly one entry per key in the cache, and the survivor built libgreet.
        assert sorted(p.name for p in cache.entry_files()) == sorted(keys.values())
        survivor = stores[1 - victim]
        from hermetic.store import Store
        assert Store(survivor).actions.get(keys["libgreet"], record_use=False) is not None
        assert Store(stores[victim]).actions.get(keys["libgreet"], record_use=False) is None
    finally:
        for worker in workers:
            worker.kill_group()
        scheduler.stop()


def test_cancel_leaves_no_sandbox_process(base, rpm_buildroot, cache):
    # A standing cluster (workers outlive the client), so only the run's cancel event can end
    # the sandbox: Dask itself never stops a running task.
    env = env_with(HERMETIC_CACHE_TOKEN=cache.token)
    scheduler = Background(["scheduler", "--port", "0"], env)
    worker = None
    try:
        address = scheduler.read_until(lambda l: "scheduler at" in l, "scheduler start")
        address = address.split(" at ", 1)[1].strip()
        worker_store = _worker_store(base, "worker", rpm_buildroot, None)
        worker = Background(["--store", str(worker_store), "worker", "--scheduler", address,
                             "--push", cache.url], env, cwd=base, new_session=True)
        store = seed_store(base / "client-store", rpm_buildroot)
        workspace = copy_workspace(base / "ws")
        slow_spec(workspace, "libgreet", 120)
        client = Background(["--store", str(store), "build", str(workspace), "--json",
                             "--executor", "dask", "--scheduler", address, "--push", cache.url],
                            env, new_session=True)
        client.read_until(lambda l: '"libgreet"' in l and "on tcp://" in l, "libgreet starts")
        wait_until(lambda: sandboxes_under(worker_store / "tmp"), 60, "the sandbox to start")
        client.process.send_signal(signal.SIGINT)
        _, err = client.finish(timeout=60)
        assert client.process.returncode == 130, err
        assert "interrupted" in err
        wait_until(lambda: not sandboxes_under(worker_store / "tmp"), 20, "no sandbox left")
        assert worker.process.poll() is None  # the worker itself carries on
        assert cache.entry_files() == []
    finally:
        if worker is not None:
            worker.kill_group()
        scheduler.stop()


def test_worker_with_a_broken_sandbox_refuses_to_join(tmp_path, cache):
    # A user namespace in which no further user namespace may be made: the sandbox cannot work.
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c",
                            "echo 0 > /proc/sys/user/max_user_namespaces"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a user namespace to break the sandbox in")
    result = subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c",
         'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', "sh",
         sys.executable, "-m", "hermetic", "--store", str(tmp_path / "store"), "worker",
         "--scheduler", "tcp://127.0.0.1:1", "--push", cache.url],
        capture_output=True, text=True, env=env_with(), timeout=120)
    assert result.returncode == 4, result.stderr
    assert "worker self-test" in result.stderr
    assert "user namespaces are disabled" in result.stderr
    assert "joining" not in result.stderr
