"""Benchmark (a script that prints figures, not a test): what the Dask engine costs.

A generated workspace of N small independent components is built from scratch in the same run
with `--executor local -j 2`, with `--executor local -j 2 --push URL` (the same end state as a
Dask build: every result in the team cache) and with `--executor dask-local:2` (two workers,
one build slot each), each on a fresh store, the team cache already holding the buildroot (as
a team cache does). Each round uses fresh keys and rotates the order of the three builds.
Reports wall times, the ratios (goal <= 1.1x against local -j 2), their medians over the
rounds, the per-task overhead and where a task's time goes. The CPU time the hypervisor stole
during each build is printed too: a round where any build lost more than STOLEN_LIMIT seconds
measures the neighbours, and is left out of the medians (but printed).

Run: .venv/bin/python benchmarks/bench_dask.py [--components 40] [--rounds 3]
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


STOLEN_LIMIT = 0.5  # seconds of CPU the hypervisor may take during one build of a clean round


def generate(ws: Path, count: int, salt: str) -> Path:
    """``count`` independent noarch components; ``salt`` makes their keys new in each round."""
    return write_workspace(ws, {f"pkg{i:04d}": noarch_spec(f"pkg{i:04d}",
                                                            description=f"generated {salt}")
                                for i in range(count)})


def stolen_seconds() -> float:
    """CPU time the hypervisor gave to others so far (the steal column of /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def build(store: Path, ws: Path, *args: str, env: dict[str, str]) -> tuple[float, float, list]:
    """Wall time of one `hermetic build --json`, the CPU time stolen meanwhile, its events."""
    stolen = stolen_seconds()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hermetic", "--store", str(store), "build",
                           str(ws), "--json", *args], env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"hermetic build {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return wall, stolen_seconds() - stolen, events


def mean_elapsed(events: list[dict]) -> float:
    built = [e["elapsed"] for e in events if e.get("event") == "component"
             and e.get("state") == "built"]
    return statistics.mean(built) if built else 0.0


def print_phases(profile: Path, started_at: float) -> None:
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
    if gaps and min(gaps) >= 0:
        print(f"    {'idle between tasks':22s} {statistics.mean(gaps):7.1f} "
              f"{statistics.median(gaps):7.1f}")
    elif gaps:  # dask-local admits tasks ahead of its sandbox gate: worker_gate is the wait
        print(f"    {'idle between tasks':22s}  (tasks overlap on a worker: see worker_gate)")
    first = min(r["worker_began_at"] for r in records) - started_at
    print(f"  first task began on a worker {first:.2f} s after the command started")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    from hermetic.remote import open_remote, push_buildroot

    root = cached_rpm_buildroot()
    base = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    cache = base / "cache"
    cache.mkdir()
    token = secrets.token_hex(16)
    url, server = start_server(cache, token)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HERMETIC_CACHE_TOKEN": token}
    n = options.components
    kinds = {"local": ["--executor", "local", "-j", "2"],
             "local+push": ["--executor", "local", "-j", "2", "--push", url],
             "dask": ["--executor", "dask-local:2", "--push", url]}
    ratios: dict[str, list[float]] = {"dask/local": [], "dask/local+push": []}
    noisy = 0
    try:
        seeded = seed_store(base / "seed", root)
        push_buildroot(seeded, root.digest, [open_remote(url, token)], name="test-rpm")
        for round_index in range(options.rounds):
            order = list(kinds)[round_index % 3:] + list(kinds)[:round_index % 3]
            walls: dict[str, float] = {}
            most_stolen = 0.0
            print(f"round {round_index + 1}: {n} independent components")
            for kind in order:
                # Fresh keys for every build: nothing cached locally or in the team cache.
                ws = generate(base / f"ws-{round_index}-{kind}", n,
                              salt=f"{os.getpid()}-{round_index}-{kind}")
                profile = base / f"profile-{round_index}.jsonl"
                started_at = time.time()
                wall, stolen, events = build(
                    seed_store(base / f"{kind}-{round_index}", root), ws, *kinds[kind],
                    env={**env, "HERMETIC_DASK_PROFILE": str(profile)})
                walls[kind] = wall
                most_stolen = max(most_stolen, stolen)
                print(f"  {kind:10s} {wall:5.1f} s  (mean component {mean_elapsed(events) * 1000:.0f}"
                      f" ms as reported; {stolen:.1f} s CPU stolen by the hypervisor meanwhile)")
                if kind == "dask":
                    print_phases(profile, started_at)
            ratio, ratio_push = walls["dask"] / walls["local"], walls["dask"] / walls["local+push"]
            overhead = (walls["dask"] - walls["local"]) / n
            clean = most_stolen <= STOLEN_LIMIT
            print(f"  dask-local:2 / local -j 2 = {ratio:.2f}x (goal <= 1.1x); / local -j 2 "
                  f"--push = {ratio_push:.2f}x; overhead {overhead * 1000:.0f} ms wall, "
                  f"{overhead * 2000:.0f} ms of slot time per task"
                  + ("" if clean else f"  [noisy: {most_stolen:.1f} s stolen; not counted]"))
            if clean:
                ratios["dask/local"].append(ratio)
                ratios["dask/local+push"].append(ratio_push)
            else:
                noisy += 1
        if ratios["dask/local"]:
            print(f"median over {len(ratios['dask/local'])} clean rounds ({noisy} noisy left "
                  f"out): dask-local:2 / local -j 2 = "
                  f"{statistics.median(ratios['dask/local']):.2f}x; / local -j 2 --push = "
                  f"{statistics.median(ratios['dask/local+push']):.2f}x")
        else:
            print(f"no clean round: the hypervisor stole more than {STOLEN_LIMIT} s during a "
                  "build of every round; run again when the machine is quieter")
    finally:
        stop(server)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
