"""The pure parts: executor names, address policy, the task wire format, agent frames, Dask
defaults, the sandbox gate."""

from __future__ import annotations

import pytest

from hermetic.distributed.cancel import RunCancels
from hermetic.distributed.security import check_address, parse_executor, tls_files
from hermetic.distributed.task import BuildTask, TaskResult, dask_key
from hermetic.distributed.workerconfig import parse_size
from hermetic.errors import ConfigError
from tests.distributed.procs import upper_dirs


def test_executor_names():
    assert parse_executor("local").kind == "local"
    assert parse_executor("dask").kind == "dask"
    assert parse_executor("dask-local:3").workers == 3
    for bad in ("dask-local", "dask-local:0", "dask-local:x", "ray"):
        with pytest.raises(ConfigError, match="--executor"):
            parse_executor(bad)


def test_loopback_is_allowed_without_tls():
    assert check_address("127.0.0.1:9000", None) == "tcp://127.0.0.1:9000"
    assert check_address("tcp://localhost", None) == "tcp://localhost:8786"
    assert check_address("tcp://[::1]:1", None) == "tcp://[::1]:1"


def test_other_addresses_need_mutual_tls(tmp_path):
    with pytest.raises(ConfigError, match="non-loopback address without TLS"):
        check_address("tcp://10.1.2.3:8786", None)
    with pytest.raises(ConfigError, match="tls:// needs"):
        check_address("tls://10.1.2.3:8786", None)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    with pytest.raises(ConfigError, match="--tls-key"):
        tls_files(str(tmp_path / "ca.pem"), str(tmp_path / "cert.pem"), None)
    files = tls_files("ca.pem", "cert.pem", "key.pem", cwd=tmp_path)
    assert check_address("tls://10.1.2.3:8786", files) == "tls://10.1.2.3:8786"
    with pytest.raises(ConfigError, match="non-loopback"):
        check_address("tcp://10.1.2.3:8786", files)  # TLS files given but plain tcp asked


def _task(**changes) -> BuildTask:
    fields = dict(key="ab" * 32, name="demo", manifest={"component": "demo"},
                  spec_name="demo.spec", files={"demo.spec": "cd" * 32}, buildroot="ef" * 32,
                  dep_rpms=["12" * 32], source_date_epoch=1700000000, check_skip=False,
                  cpu_count=2, timeout=None, max_silent_time=None, expensive=False,
                  hermetic_version="0.1.0", sandbox_profile="1", run_id="r1")
    fields.update(changes)
    return BuildTask(**fields)


def test_task_round_trips_and_stays_small():
    import msgpack

    task = _task()
    wire = task.to_wire()
    assert BuildTask.from_wire(wire) == task
    assert len(msgpack.packb(wire)) < 4096
    with pytest.raises(ConfigError, match="wire format"):
        BuildTask.from_wire({**wire, "format": 99})
    result = TaskResult("ab" * 32, "demo", "failed", "tcp://w", error="boom", log="cd" * 32)
    assert TaskResult.from_wire(result.to_wire()) == result


def test_dask_key_is_the_hermetic_key():
    assert dask_key("ab" * 32) == "hermetic-" + "ab" * 32
    assert dask_key("ab" * 32, 1) != dask_key("ab" * 32)


def test_worker_refuses_other_versions_and_forged_keys():
    from hermetic import __version__
    from hermetic.distributed.execute import WorkerRefused, check_compatible
    from hermetic.keys import compute_key
    from hermetic.sandbox.profile import PROFILE_VERSION

    manifest = {"component": "demo", "x": 1}
    good = _task(key=compute_key(manifest), manifest=manifest, hermetic_version=__version__,
                 sandbox_profile=PROFILE_VERSION)
    check_compatible(good)
    with pytest.raises(WorkerRefused, match="hermetic 0.0.1"):
        check_compatible(_task(**{**good.__dict__, "hermetic_version": "0.0.1"}))
    with pytest.raises(WorkerRefused, match="sandbox profile"):
        check_compatible(_task(**{**good.__dict__, "sandbox_profile": "other"}))
    with pytest.raises(WorkerRefused, match="does not hash"):
        check_compatible(_task(**{**good.__dict__, "key": "00" * 32}))


def test_upper_dirs_are_read_from_mountinfo():
    line = ("116 42 0:51 / / rw,relatime - overlay overlay rw,lowerdir=/oldroot/a,"
            "upperdir=/oldroot/tmp/s/upper,workdir=/oldroot/tmp/s/.w,userxattr\n"
            "22 1 8:1 / /x rw - ext4 /dev/sda1 rw\n")
    assert upper_dirs(line) == ["/oldroot/tmp/s/upper"]


def test_sizes():
    assert parse_size("8G") == 8 << 30
    assert parse_size("512MiB") == 512 << 20
    assert parse_size("1000") == 1000
    with pytest.raises(ConfigError, match="--mem"):
        parse_size("lots")


def test_run_cancels_set_the_running_tasks_event_and_remember_the_run():
    runs = RunCancels(remembered=2)
    with runs.active("a") as first, runs.active("a") as second, runs.active("b") as other:
        assert first is second and not first.is_set()
        assert runs.cancel("a") == 2
        assert first.is_set() and not other.is_set()
    # A task of a cancelled run that starts late is cancelled from its start.
    with runs.active("a") as late:
        assert late.is_set()
    runs.cancel("x")
    runs.cancel("y")  # only the last two are remembered: "a" is forgotten
    assert not runs.is_cancelled("a") and runs.is_cancelled("y")
    with runs.active("a") as fresh:
        assert not fresh.is_set()
    assert runs.cancel("nobody-builds-this") == 0


# -- the agent's frames ---------------------------------------------------------------------

def test_frames_round_trip_and_end_cleanly():
    import io

    from hermetic.distributed.frames import encode, read_frame

    stream = io.BytesIO(encode({"op": "submit", "id": 1, "wire": {"k": b"\x00\xff"}})
                        + encode({"op": "close"}))
    assert read_frame(stream) == {"op": "submit", "id": 1, "wire": {"k": b"\x00\xff"}}
    assert read_frame(stream) == {"op": "close"}
    assert read_frame(stream) is None


def test_frames_refuse_truncation_oversize_and_garbage():
    import io
    import struct

    from hermetic.distributed.frames import MAX_FRAME_BYTES, FrameError, encode, read_frame

    with pytest.raises(FrameError, match="short"):
        read_frame(io.BytesIO(encode({"op": "done", "id": 1})[:-2]))
    with pytest.raises(FrameError, match="limit"):
        read_frame(io.BytesIO(struct.pack(">I", MAX_FRAME_BYTES + 1)))
    with pytest.raises(FrameError, match="without an op"):
        read_frame(io.BytesIO(struct.pack(">I", 1) + b"\x01"))


# -- what the build process and a worker's build path import ---------------------------------

def test_build_process_never_imports_dask_and_build_path_no_model():
    import subprocess
    import sys

    probe = ("import sys, hermetic.distributed.client, hermetic.distributed.link, "
             "hermetic.distributed.execute, hermetic.builder, hermetic.rpm, hermetic.signing; "
             "print('distributed' in sys.modules, 'pydantic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    # Dask lives in the agent only; the agent's workers start without the config model.
    assert done.stdout.split() == ["False", "False"]


# -- hermetic's Dask defaults ----------------------------------------------------------------

def _dask_settings(env: dict) -> list[str]:
    import os
    import subprocess
    import sys

    pytest.importorskip("distributed")
    probe = ("import dask; from hermetic.distributed.daskconfig import install_defaults; "
             "install_defaults(); g = dask.config.get; "
             "print(g('distributed.worker.profile.enabled'), "
             "g('distributed.worker.memory.spill'), g('distributed.admin.tick.interval'))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, env={**os.environ, **env})
    return done.stdout.split()


def test_dask_defaults_turn_off_what_builds_do_not_need():
    assert _dask_settings({}) == ["False", "False", "500ms"]


def test_a_users_dask_configuration_still_wins():
    # Any value other than Dask's own default is the user's choice and stays.
    assert _dask_settings({"DASK_DISTRIBUTED__WORKER__MEMORY__SPILL": "0.9",
                           "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "50ms"}) == \
        ["False", "0.9", "50ms"]


# -- dask-local's process-wide sandbox gate --------------------------------------------------

def test_sandbox_gate_is_shared_per_store_and_released_once(tmp_path):
    from hermetic.distributed.execute import _sandbox_gate, _SandboxTurn
    from hermetic.distributed.workerconfig import WorkerConfig

    config = WorkerConfig(store=tmp_path / "s", cache_url="file:///c", sandbox_slots=1)
    other_worker = WorkerConfig(store=tmp_path / "s", cache_url="file:///c", sandbox_slots=1)
    gate = _sandbox_gate(config)
    assert gate is _sandbox_gate(other_worker)  # the workers of one process share it
    assert _sandbox_gate(WorkerConfig(store=tmp_path / "s", cache_url="file:///c")) is None
    assert gate.acquire(timeout=1)
    turn = _SandboxTurn(gate)
    turn.release()  # early, before the push
    turn.release()  # and again at the end: a no-op
    assert gate.acquire(timeout=1)
    assert not gate.acquire(blocking=False)  # one slot: released exactly once
    gate.release()


def test_in_flight_follows_the_capacity_the_agent_last_reported(tmp_path):
    from types import SimpleNamespace

    from hermetic.distributed.client import START_IN_FLIGHT, DaskExecutor
    from hermetic.distributed.link import AgentLink
    from hermetic.distributed.security import Executor

    cache = SimpleNamespace(push=["http://127.0.0.1:1"], token_file=None, secret_key=None)
    executor = DaskExecutor(SimpleNamespace(root=tmp_path), cache, Executor("dask-local", 2))
    executor.link = AgentLink()  # not spawned: messages are handed to it directly
    assert executor._in_flight() == START_IN_FLIGHT        # nothing known yet
    executor.link._dispatch({"op": "ready", "has_big": True, "slots": 4})
    executor.capacity = executor.link.ready()
    assert executor._in_flight() == 8
    executor.link._dispatch({"op": "capacity", "has_big": False, "slots": 10})  # workers joined
    assert executor._in_flight() == 20 and not executor.link.latest.has_big
