"""Deployment-shaped: `hermetic scheduler`, two `hermetic worker` processes (one as an
unprivileged user when the tests run as root), a worker killed mid-build, a cancelled run, and
a worker whose sandbox is broken."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.build.conftest import copy_workspace, seed_store
from hermetic.builder import CANCELLED
from tests.distributed.conftest import (FAIL_FAST_BUILDS, Background, env_with,
                                        independent_workspace, sandboxes_under, slow_spec,
                                        wait_until)

from tests.nobody import AS_NOBODY, NOBODY, python_for_nobody, reachable_tmpdir

pytestmark = pytest.mark.slow


def _python_for_nobody(base: Path) -> str:
    return python_for_nobody(base, ["hermetic.sandbox", "distributed"], env_with())


def _worker_store(base: Path, name: str, buildroot, owner: int | None) -> Path:
    store = seed_store(base / name, buildroot)
    if owner is not None:
        # A rootless build needs its buildroot owned by the builder (files of an unmapped
        # owner cannot be copied up when dependency RPMs install): a copy of its own, not the
        # hardlinks to root's tree.
        tree = store / "buildroots" / buildroot.digest
        shutil.rmtree(tree)
        subprocess.run(["cp", "-a", str(buildroot.path), str(tree)], check=True)
        subprocess.run(["chown", "-R", f"{owner}:{owner}", str(store)], check=True)
    return store


def _owner_of(pid: int) -> int | None:
    """The real uid of ``pid`` (setpriv execs the worker in place: same pid)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next(l for l in status.splitlines() if l.startswith("Uid:"))
    return int(line.split()[1])


@pytest.fixture
def base():
    # Somewhere an unprivileged worker can reach (pytest's tmp_path is root-only).
    with reachable_tmpdir("hermetic-dask-") as path:
        yield path


def _start_scheduler(env: dict) -> tuple[Background, str]:
    """`hermetic scheduler` on a free port, and its address once it listens."""
    scheduler = Background(["scheduler", "--port", "0"], env)
    line = scheduler.read_until(lambda l: "scheduler at" in l, "scheduler start")
    return scheduler, line.split(" at ", 1)[1].strip()


@dataclass
class StandingCluster:
    address: str
    env: dict
    worker: Background
    worker_store: Path
    client_store: Path


@contextlib.contextmanager
def _standing_cluster(base: Path, rpm_buildroot, cache,
                      *worker_args: str) -> Iterator[StandingCluster]:
    """A scheduler and one worker that outlive the client, so only the run's cancel can end a
    sandbox (Dask itself never stops a running task); both are stopped afterwards."""
    env = env_with(HERMETIC_CACHE_TOKEN=cache.token)
    scheduler, address = _start_scheduler(env)
    worker = None
    try:
        worker_store = _worker_store(base, "worker", rpm_buildroot, None)
        worker = Background(["--store", str(worker_store), "worker", "--scheduler", address,
                             "--push", cache.url, *worker_args], env, cwd=base,
                            new_session=True)
        yield StandingCluster(address, env, worker, worker_store,
                              seed_store(base / "client-store", rpm_buildroot))
    finally:
        if worker is not None:
            worker.kill_group()
        scheduler.stop()


def test_killed_worker_task_is_rescheduled_and_the_entry_appears_once(
        base, rpm_buildroot, cache):
    env = env_with(HERMETIC_CACHE_TOKEN=cache.token)
    scheduler, address = _start_scheduler(env)
    workers: list[Background] = []
    try:
        # As root (CI), the second worker runs as nobody, with a store and a home it owns.
        unprivileged = os.geteuid() == 0 and shutil.which("setpriv") is not None
        stores = [_worker_store(base, "worker-a", rpm_buildroot, None),
                  _worker_store(base, "worker-b", rpm_buildroot,
                                NOBODY if unprivileged else None)]
        launches = [([], sys.executable, env)]
        if unprivileged:
            home = base / "nobody-home"
            home.mkdir()
            os.chown(home, NOBODY, NOBODY)
            launches.append((AS_NOBODY, _python_for_nobody(base),
                             {**env, "HOME": str(home), "TMPDIR": str(home),
                              "PYTHONDONTWRITEBYTECODE": "1"}))
        else:
            launches.append(([], sys.executable, env))
        for store, (prefix, python, worker_env) in zip(stores, launches):
            workers.append(Background(["--store", str(store), "worker", "--scheduler", address,
                                       "--push", cache.url], worker_env, cwd=base,
                                      new_session=True, prefix=prefix, python=python))
        if unprivileged:
            wait_until(lambda: _owner_of(workers[1].process.pid) == NOBODY, 30,
                       "the second worker to run as nobody")
        from distributed import Client
        with Client(address, timeout="30s") as probe:
            try:
                probe.wait_for_workers(2, timeout=120)
            except Exception:
                for worker in workers:
                    worker.kill_group()
                raise AssertionError("a worker did not join:\n" + "\n".join(
                    w.process.stderr.read()[-3000:] for w in workers)) from None
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
    with _standing_cluster(base, rpm_buildroot, cache) as cluster:
        workspace = copy_workspace(base / "ws")
        slow_spec(workspace, "libgreet", 120)
        client = Background(["--store", str(cluster.client_store), "build", str(workspace),
                             "--json", "--executor", "dask", "--scheduler", cluster.address,
                             "--push", cache.url], cluster.env, new_session=True)
        client.read_until(lambda l: '"libgreet"' in l and "on tcp://" in l, "libgreet starts")
        wait_until(lambda: sandboxes_under(cluster.worker_store / "tmp"), 60,
                   "the sandbox to start")
        client.process.send_signal(signal.SIGINT)
        _, err = client.finish(timeout=60)
        assert client.process.returncode == 130, err
        assert "interrupted" in err
        wait_until(lambda: not sandboxes_under(cluster.worker_store / "tmp"), 20,
                   "no sandbox left")
        assert cluster.worker.process.poll() is None  # the worker itself carries on
        assert cache.entry_files() == []


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


def test_fail_fast_on_a_standing_cluster_kills_the_running_build(base, rpm_buildroot, cache):
    # Three slots on one worker, so all three components run at once whatever order Dask
    # starts them in (with two, the two sleepers could take both slots and a-broken would never
    # run to fail): a-broken's failure must end both ten-minute sandboxes on the worker, which
    # carries on.
    with _standing_cluster(base, rpm_buildroot, cache, "--slots", "3") as cluster:
        # Every ready component is submitted at once, so the worker may start c-waiting in
        # the slot a-broken frees before the client has heard of the failure: it sleeps too,
        # and must be cancelled (queued) or killed (started), never built.
        workspace = independent_workspace(base / "ws", {**FAIL_FAST_BUILDS,
                                                        "c-waiting": "sleep 600"})
        client = Background(["--store", str(cluster.client_store), "build", str(workspace),
                             "--json", "--fail-fast", "--executor", "dask", "--scheduler",
                             cluster.address, "--push", cache.url],
                            {**cluster.env, "PYTHONFAULTHANDLER": "1"}, new_session=True)
        try:
            out, err = client.finish(timeout=120)
        except subprocess.TimeoutExpired:  # dump every thread of the stuck client (faulthandler)
            client.process.send_signal(signal.SIGABRT)
            _, err = client.process.communicate()
            raise AssertionError(f"the client hung:\n{err[-6000:]}") from None
        assert client.process.returncode == 5, err
        summary = client.json_events()[-1]
        statuses = {c["name"]: c["status"] for c in summary["components"]}
        assert statuses["a-broken"] == "failed" and statuses["b-slow"] == "failed", err
        assert statuses["c-waiting"] in ("failed", "skipped"), err
        assert f"b-slow: {CANCELLED}" in err
        assert "deliberate failure" in err
        wait_until(lambda: not sandboxes_under(cluster.worker_store / "tmp"), 20,
                   "no sandbox left")
        assert cluster.worker.process.poll() is None
        assert cache.entry_files() == []
