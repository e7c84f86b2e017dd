"""Sandbox start-up: start-to-exit of /bin/true, same process, same run; median and p90.

  unshare   `unshare --user --map-root-user --mount --pid --net --ipc --uts --fork` (the floor)
  bwrap     `bwrap --unshare-all` with the host's /usr, /etc ... bound read-only, /proc, /dev, /tmp
  api       hermetic.sandbox.run() with the fork server warm
These three are sampled in interleaved rounds (unshare, bwrap, api, unshare, ...) so that the
load of the machine falls on all of them alike; the goal is api <= 1.5x bwrap.
  api back-to-back  run() called in a tight loop: each run overlaps the building of the
                    next spare sandbox (the worst case; real builds are seconds apart)
  api after idle    run() after 50 ms without sandbox activity (a spare is surely ready)
  one-shot  run() with HERMETIC_SANDBOX_FORKSERVER=0 (a fresh helper interpreter per run)
  cli       `hermetic sandbox run -- /bin/true` (interpreter + CLI + a fork server start)
  first     the first run() of a process (starts the fork server)
Prints figures; asserts nothing. BENCH_N sets the sample count (default 30).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Callable

from hermetic.sandbox import SandboxSpec, forkserver, run

N = int(os.environ.get("BENCH_N", "30"))
TRUE = SandboxSpec(argv=["/bin/true"])


def once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return statistics.median(ordered), p90


def bwrap_command() -> list[str]:
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session"]
    for name in ("usr", "etc", "bin", "sbin", "lib", "lib64"):
        path = f"/{name}"
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    return cmd + ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "/bin/true"]


def check_ok() -> None:
    result = run(TRUE)
    assert result.ok, result


def main() -> None:
    first = once(check_ok)
    launchers: dict[str, Callable[[], object]] = {
        "unshare": lambda: subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--net", "--ipc",
             "--uts", "--fork", "/bin/true"], check=True),
        "bwrap": lambda: subprocess.run(bwrap_command(), check=True),
        "api": lambda: run(TRUE),
    }
    figures: dict[str, list[float]] = {name: [] for name in launchers}
    for _ in range(N):
        for name, launch in launchers.items():
            figures[name].append(once(launch))
    figures["api back-to-back"] = [once(launchers["api"]) for _ in range(N)]
    idle = []
    for _ in range(N):
        time.sleep(0.05)  # not timed: lets the next spare finish, as between real builds
        idle.append(once(launchers["api"]))
    figures["api after idle"] = idle
    forkserver.shutdown()
    os.environ["HERMETIC_SANDBOX_FORKSERVER"] = "0"
    figures["one-shot"] = [once(launchers["api"]) for _ in range(max(5, N // 5))]
    del os.environ["HERMETIC_SANDBOX_FORKSERVER"]
    hermetic = os.path.join(os.path.dirname(sys.executable), "hermetic")
    figures["cli"] = [once(lambda: subprocess.run([hermetic, "sandbox", "run", "--", "/bin/true"],
                                                  check=True)) for _ in range(max(5, N // 5))]
    print(f"sandbox start-to-exit of /bin/true (ms), {N} samples (one-shot, cli: {max(5, N // 5)})")
    print(f"  {'launcher':18s} {'median':>8s} {'p90':>8s}")
    for name, samples in figures.items():
        median, p90 = summary(samples)
        print(f"  {name:18s} {median:8.1f} {p90:8.1f}")
    print(f"  {'first run()':18s} {first:8.1f}")
    bwrap = statistics.median(figures["bwrap"])
    for name in ("api", "api back-to-back", "api after idle"):
        print(f"  {name} / bwrap = {statistics.median(figures[name]) / bwrap:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
