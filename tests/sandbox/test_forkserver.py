"""The fork server and its spares: concurrent callers, spare kinds, hardening of the payload,
the one-shot path, and cleanup when the server ends or is killed."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import threading
import time

import pytest

from hermetic.sandbox import SandboxSpec, cgroups, forkserver, run
from tests.sandbox.conftest import needs_sandbox

pytestmark = needs_sandbox


def _output(spec: SandboxSpec) -> tuple[object, str]:
    output = bytearray()
    result = run(spec, on_output=output.extend)
    return result, output.decode()


def _status_fields(text: str) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_concurrent_runs_from_threads_keep_their_own_output() -> None:
    """Builds run in parallel threads: every run gets its own sandbox, output and status."""
    failures: list[str] = []

    def worker(number: int) -> None:
        for round_ in range(3):
            uid = 1000 if number % 3 == 0 else 0  # some need a spare of another kind
            script = f"echo {number}-{round_}; id -u; exit {number % 5}"
            result, text = _output(SandboxSpec(argv=["sh", "-c", script], uid=uid, gid=uid))
            if result.exit_code != number % 5 or text.split() != [f"{number}-{round_}", str(uid)]:
                failures.append(f"worker {number} round {round_}: {result} {text!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_spares_of_other_kinds_show_the_spec_ids_and_sizes() -> None:
    result, text = _output(SandboxSpec(
        argv=["sh", "-c", "id -u; id -g; df -k /dev/shm | tail -1"], uid=1234, gid=4321,
        shm_size=2 * 1024 * 1024))
    assert result.ok, text
    uid, gid, shm = text.splitlines()
    assert (uid, gid) == ("1234", "4321")
    assert shm.split()[1] == "2048"


@pytest.mark.parametrize("uid, bounding", [(0, "00000000000000ff"), (1000, "0000000000000000")])
def test_payload_is_hardened(uid: int, bounding: str) -> None:
    """pid 1 hardens itself and spawns the payload: the payload must carry all of it."""
    result, text = _output(SandboxSpec(argv=["cat", "/proc/self/status"], uid=uid, gid=uid))
    assert result.ok, text
    fields = _status_fields(text)
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"
    assert fields["CapBnd"].strip() == bounding
    assert fields["CapInh"].strip() == "0000000000000000"
    assert fields["CapAmb"].strip() == "0000000000000000"
    assert fields["CapEff"].strip() == bounding  # uid 0 keeps exactly the bounding set
    assert fields["SigIgn"].strip() == "0000000000000000"  # SIGPIPE and SIGXFSZ restored


def test_one_shot_helper_runs_the_same_sandbox(monkeypatch) -> None:
    monkeypatch.setenv("HERMETIC_SANDBOX_FORKSERVER", "0")
    result, text = _output(SandboxSpec(argv=["sh", "-c", "hostname; umask; exit 4"]))
    assert result.exit_code == 4
    assert text.split() == ["hermetic", "0022"]


def _server_pid() -> int:
    run(SandboxSpec(argv=["true"]))
    assert forkserver._server is not None
    return forkserver._server[0].pid


def _owned_cgroups(pid: int) -> list[str]:
    return [path for base, _ in cgroups.available().values()
            for path in glob.glob(f"{base}/{cgroups.PREFIX}{pid}-*")]


def test_killed_server_is_replaced() -> None:
    pid = _server_pid()
    os.kill(pid, signal.SIGKILL)
    assert forkserver._server is not None
    forkserver._server[0].wait()
    result, text = _output(SandboxSpec(argv=["echo", "again"]))
    assert result.ok and text == "again\n"
    assert forkserver._server[0].pid != pid


def test_shutdown_ends_running_sandboxes_and_leaves_no_cgroups() -> None:
    pid = _server_pid()
    results = []
    runner = threading.Thread(target=lambda: results.append(
        run(SandboxSpec(argv=["sleep", "600"]))))
    runner.start()
    deadline = time.monotonic() + 30
    while not _sleeping_in_sandbox() and time.monotonic() < deadline:
        time.sleep(0.05)  # test set-up only: wait for the payload to exist
    forkserver.shutdown()
    runner.join(timeout=60)
    assert not runner.is_alive()
    assert results and results[0].signal == signal.SIGKILL
    assert _owned_cgroups(pid) == []


def _sleeping_in_sandbox() -> bool:
    found = subprocess.run(["pgrep", "-x", "-f", "sleep 600"], capture_output=True, text=True)
    return found.returncode == 0


@pytest.mark.skipif(not cgroups.available(), reason="no writable cgroup hierarchy here")
def test_stale_cgroups_of_dead_owners_are_swept() -> None:
    forkserver.shutdown()
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid is now free: an owner that is gone
    base = next(iter(cgroups.available().values()))[0]
    stale = os.path.join(base, f"{cgroups.PREFIX}{dead.pid}-{'a' * 12}")
    live = os.path.join(base, f"{cgroups.PREFIX}{os.getpid()}-{'b' * 12}")
    os.mkdir(stale)
    os.mkdir(live)
    try:
        _server_pid()  # a new server sweeps at start
        assert not os.path.exists(stale)
        assert os.path.exists(live)
    finally:
        cgroups.remove([live, stale])
