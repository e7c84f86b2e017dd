"""The escape suite: every attempt must fail inside the sandbox and work outside it.

The "outside" half proves each attempt is a real one that could succeed (a test that cannot
fail proves nothing). Controls that only root can perform on this host are skipped, with that
reason, when the suite runs unprivileged; test_unprivileged.py re-runs this module as nobody.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from hermetic.sandbox import Bind, SandboxSpec, run
from tests.sandbox.attempts import ATTEMPTS, PRELUDE, Attempt
from tests.sandbox.conftest import HOST_PYTHON, have, needs_sandbox

pytestmark = needs_sandbox


def _script(attempt: Attempt, values: dict, inside: bool, scratch: str) -> str:
    filled = dict(values)
    filled["scratch"] = "/tmp" if inside else scratch
    filled["scratch_tmp"] = "/tmp" if inside else scratch
    if inside and attempt.spec.get("ro_bind"):
        filled["ro_tree"] = "/data"
    return PRELUDE + attempt.script.format(**filled)


def _skip_if_unusable(attempt: Attempt, values: dict) -> None:
    if attempt.name == "ipv6-to-host" and values["tcp6_port"] is None:
        pytest.skip("no IPv6 on the host's loopback")


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[a.name for a in ATTEMPTS])
def test_attempt_fails_inside(attempt: Attempt, host: dict) -> None:
    _skip_if_unusable(attempt, host)
    spec_fields = {k: v for k, v in attempt.spec.items() if k != "ro_bind"}
    binds = [Bind(host["ro_tree"], "/data", readonly=True)] if attempt.spec.get("ro_bind") else []
    output = bytearray()
    result = run(SandboxSpec(argv=[HOST_PYTHON, "-c", _script(attempt, host, True, "/tmp")],
                             binds=binds, timeout=60, **spec_fields),
                 on_output=output.extend)
    text = output.decode(errors="replace")
    assert "ESCAPED" not in text, f"{attempt.name} escaped the sandbox: {text}"
    assert result.exit_code == 1 and "blocked:" in text, (result, text)


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[a.name for a in ATTEMPTS])
def test_attempt_works_outside(attempt: Attempt, host: dict, tmp_path) -> None:
    _skip_if_unusable(attempt, host)
    if attempt.control_needs_root and os.geteuid() != 0:
        pytest.skip("this control needs root on this host")
    if attempt.name == "bpf" and os.geteuid() == 0 and _read("/proc/sys/kernel/unprivileged_bpf_disabled") is None:
        pytest.skip("no bpf sysctl")
    script = _script(attempt, host, False, str(tmp_path))
    command = [HOST_PYTHON, "-c", script]
    if attempt.control == "userns":
        command = ["unshare", "--user", "--map-root-user", "--net", "--mount", "--uts",
                   "--fork"] + command
    done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                          start_new_session=True)
    assert done.returncode == 0 and "ESCAPED" in done.stdout, (done.stdout, done.stderr)


def _read(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return None


def test_loopback_works_inside() -> None:
    """The private network still has a working lo: %check suites need TCP and UDP on it."""
    script = PRELUDE + """
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
c = socket.create_connection(srv.getsockname()); a, _ = srv.accept(); a.sendall(b'ok')
u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u1.bind(('127.0.0.1', 0))
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u2.sendto(b'ok', u1.getsockname())
done(c.recv(2) == b'ok' and u1.recv(2) == b'ok')
"""
    output = bytearray()
    result = run(SandboxSpec(argv=[HOST_PYTHON, "-c", script]), on_output=output.extend)
    assert result.ok and b"ESCAPED" in output, output


def test_ptrace_own_children_works_inside() -> None:
    script = PRELUDE + """
import time
pid = os.fork()
if pid == 0:
    time.sleep(5); os._exit(0)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
ok = libc.ptrace(16, pid, None, None) == 0
os.kill(pid, 9); os.waitpid(pid, 0); done(ok, os.strerror(ctypes.get_errno()))
"""
    output = bytearray()
    result = run(SandboxSpec(argv=[HOST_PYTHON, "-c", script]), on_output=output.extend)
    assert result.ok and b"ESCAPED" in output, output


def test_strict_profile_denies_loopback_and_ptrace() -> None:
    script = PRELUDE + """
try: socket.socket(); done(True)
except OSError as e: why = e
done(libc.ptrace(ctypes.c_long(0), ctypes.c_long(0), None, None) == 0, why)
"""
    output = bytearray()
    result = run(SandboxSpec(argv=[HOST_PYTHON, "-c", script], profile="strict"),
                 on_output=output.extend)
    assert result.exit_code == 1 and b"Address family not supported" in output, output


DAEMON = """
import fcntl, os, sys, time
lock_path = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, str(os.getpid()).encode())
        os.close(1); os.close(2)
        time.sleep(600)
    os._exit(0)
# The parent waits until the daemon holds its lock, then exits at once.
while os.path.getsize(lock_path) == 0 if os.path.exists(lock_path) else True:
    time.sleep(0.01)
"""


def _lock_is_free(path: str) -> bool:
    import fcntl
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_daemon_dies_with_the_sandbox(tmp_path) -> None:
    lock = tmp_path / "inside" / "lock"
    lock.parent.mkdir()
    result = run(SandboxSpec(argv=[HOST_PYTHON, "-c", DAEMON, "/work/lock"],
                             binds=[Bind(str(lock.parent), "/work", readonly=False)], timeout=60))
    assert result.ok
    assert _lock_is_free(str(lock)), "a daemonised grandchild outlived the sandbox"


def test_daemon_outlives_its_parent_outside(tmp_path) -> None:
    lock = tmp_path / "lock"
    subprocess.run([HOST_PYTHON, "-c", DAEMON, str(lock)], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert not _lock_is_free(str(lock)), "the control daemon did not survive its parent"
    finally:
        os.kill(int(lock.read_text()), 9)


def test_timeout_kills_a_sleeper() -> None:
    result = run(SandboxSpec(argv=["sleep", "60"], timeout=0.5))
    assert result.timed_out and not result.ok and result.exit_code is None
    assert result.duration < 30


def test_without_timeout_the_sleeper_finishes() -> None:
    result = run(SandboxSpec(argv=["sleep", "0.6"]))
    assert result.ok and not result.timed_out


def test_max_silent_time_kills_a_silent_payload() -> None:
    result = run(SandboxSpec(argv=["sh", "-c", "echo started; sleep 60"], max_silent_time=0.5))
    assert result.silent_timeout and not result.ok


def test_chatty_payload_survives_max_silent_time() -> None:
    script = "for i in 1 2 3 4 5 6; do echo $i; sleep 0.2; done"
    result = run(SandboxSpec(argv=["sh", "-c", script], max_silent_time=3))
    assert result.ok and not result.silent_timeout
