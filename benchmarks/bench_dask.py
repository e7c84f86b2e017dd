"""Benchmark (a script that prints figures, not a test): what the Dask engine costs.

A generated workspace of N small independent components is built from scratch twice in the same
run: `--executor local -j 2` and `--executor dask-local:2` (two workers, one build slot each),
each on a fresh store, the team cache already holding the buildroot (as a team cache does).
Reports wall times, their ratio (goal <= 1.1x) and the per-task overhead; the LocalCluster's
start-up is measured apart since a real cluster is already running.

Run: .venv/bin/python benchmarks/bench_dask.py [--components 40] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.build.conftest import seed_store  # noqa: E402
from tests.conftest import cached_rpm_buildroot  # noqa: E402
from tests.remote.conftest import start_server, stop  # noqa: E402
from tests.workspaces import noarch_spec, write_workspace  # noqa: E402


def generate(ws: Path, count: int, salt: str) -> Path:
    """``count`` independent noarch components; ``salt`` makes their keys new in each round."""
    return write_workspace(ws, {f"pkg{i:04d}": noarch_spec(f"pkg{i:04d}",
                                                            description=f"generated {salt}")
                                for i in range(count)})


def build(store: Path, ws: Path, *args: str, env: dict[str, str]) -> tuple[float, list[dict]]:
    """Wall time of one `hermetic build --json`, and its component events."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hermetic", "--store", str(store), "build",
                           str(ws), "--json", *args], env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"hermetic build {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return wall, events


def mean_elapsed(events: list[dict]) -> float:
    built = [e["elapsed"] for e in events if e.get("event") == "component"
             and e.get("state") == "built"]
    return statistics.mean(built) if built else 0.0


def print_phases(profile: Path) -> None:
    """Mean and median seconds per step of a task (client_* on the client, worker_* on the
    worker), and how long each worker's slot sat idle between two tasks."""
    records = [json.loads(line) for line in profile.read_text().splitlines() if line.strip()]
    if not records:
        return
    steps = sorted({k for r in records for k, v in r.items()
                    if isinstance(v, float) and not k.endswith("_at")})
    print(f"  per-task steps over {len(records)} tasks (ms): mean / median")
    for step in steps:
        values = [r.get(step, 0.0) * 1000 for r in records]
        print(f"    {step:22s} {statistics.mean(values):7.1f} {statistics.median(values):7.1f}")
    gaps = []
    for worker in {r["worker"] for r in records}:
        spans = sorted((r["worker_began_at"], r["worker_ended_at"]) for r in records
                       if r["worker"] == worker and "worker_ended_at" in r)
        gaps += [(b[0] - a[1]) * 1000 for a, b in zip(spans, spans[1:])]
    if gaps:
        print(f"    {'idle between tasks':22s} {statistics.mean(gaps):7.1f} "
              f"{statistics.median(gaps):7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=1)
    options = parser.parse_args()

    from hermetic.remote import open_remote, push_buildroot

    root = cached_rpm_buildroot()
    base = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    cache = base / "cache"
    cache.mkdir()
    token = secrets.token_hex(16)
    url, server = start_server(cache, token)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HERMETIC_CACHE_TOKEN": token}
    try:
        seeded = seed_store(base / "seed", root)
        push_buildroot(seeded, root.digest, [open_remote(url, token)], name="test-rpm")

        from distributed import Client, LocalCluster
        started = time.monotonic()
        with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster):
            startup = time.monotonic() - started

        for round_index in range(options.rounds):
            ws = generate(base / f"ws-{round_index}", options.components,
                          salt=f"{os.getpid()}-{round_index}")
            local, local_events = build(seed_store(base / f"local-{round_index}", root), ws,
                                        "--executor", "local", "-j", "2", env=env)
            shutil.rmtree(ws / "out", ignore_errors=True)
            profile = base / f"profile-{round_index}.jsonl"
            dask, dask_events = build(seed_store(base / f"dask-{round_index}", root), ws,
                                      "--executor", "dask-local:2", "--push", url,
                                      env={**env, "HERMETIC_DASK_PROFILE": str(profile)})
            n = options.components
            print(f"{n} independent components: local -j 2 {local:.1f} s, dask-local:2 "
                  f"{dask:.1f} s (ratio {dask / local:.2f}x; goal <= 1.1x)")
            print(f"  LocalCluster start-up alone: {startup:.1f} s; without it: ratio "
                  f"{(dask - startup) / local:.2f}x")
            print(f"  per-task overhead: {(dask - startup - local) / n * 1000 * 2:.0f} ms "
                  f"of slot time per task ({(dask - startup - local) / n * 1000:.0f} ms wall)")
            print(f"  mean component time as the build reports it: local "
                  f"{mean_elapsed(local_events) * 1000:.0f} ms, dask "
                  f"{mean_elapsed(dask_events) * 1000:.0f} ms")
            print_phases(profile)
    finally:
        stop(server)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
