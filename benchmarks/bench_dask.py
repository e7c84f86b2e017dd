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
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.build.conftest import seed_store  # noqa: E402
from tests.remote.conftest import start_server, stop  # noqa: E402


def generate(ws: Path, count: int) -> Path:
    (ws / "components").mkdir(parents=True)
    (ws / "hermetic.toml").write_text(
        'includes = ["components/*/*.comp.toml"]\n[buildroot]\ntype = "created"\n'
        'name = "test-rpm"\n[default-component-config.release]\ncalculation = "manual"\n')
    for index in range(count):
        name = f"pkg{index:04d}"
        folder = ws / "components" / name
        folder.mkdir()
        (folder / f"{name}.comp.toml").write_text(
            f'[components.{name}]\nspec = {{ type = "local", path = "{name}.spec" }}\n')
        (folder / f"{name}.spec").write_text(
            f"Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: generated\nLicense: MIT\n"
            f"BuildArch: noarch\n\n%description\ngenerated\n\n%install\n"
            f"mkdir -p %{{buildroot}}/usr/share/{name}\n"
            f"echo {name} > %{{buildroot}}/usr/share/{name}/data\n\n"
            f"%files\n/usr/share/{name}\n\n%changelog\n"
            f"* Mon Jan 01 2024 Bench <b@example.invalid> - 1.0-1\n- generated\n")
    return ws


def build(store: Path, ws: Path, *args: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "hermetic", "--store", str(store), "build", str(ws),
                    *args], check=True, env=env, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=1)
    options = parser.parse_args()

    from hermetic.remote import open_remote, push_buildroot
    import tests.conftest as fixtures
    from hermetic.buildroot import lookup

    root = lookup(fixtures._cache_root() / "store", "test-rpm")
    if root is None:
        sys.exit("the test buildroot is missing: run the tests once (make test)")
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
            ws = generate(base / f"ws-{round_index}", options.components)
            local = build(seed_store(base / f"local-{round_index}", root), ws,
                          "--executor", "local", "-j", "2", env=env)
            shutil.rmtree(ws / "out", ignore_errors=True)
            dask = build(seed_store(base / f"dask-{round_index}", root), ws,
                         "--executor", "dask-local:2", "--push", url, env=env)
            n = options.components
            print(f"{n} independent components: local -j 2 {local:.1f} s, dask-local:2 "
                  f"{dask:.1f} s (ratio {dask / local:.2f}x; goal <= 1.1x)")
            print(f"  LocalCluster start-up alone: {startup:.1f} s; without it: ratio "
                  f"{(dask - startup) / local:.2f}x")
            print(f"  per-task overhead: {(dask - startup - local) / n * 1000 * 2:.0f} ms "
                  f"of slot time per task ({(dask - startup - local) / n * 1000:.0f} ms wall)")
    finally:
        stop(server)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
