"""Sandbox start-up: median start-to-exit of /bin/true, same process, same run.

  unshare   `unshare --user --map-root-user --mount --pid --net --ipc --uts --fork` (the floor)
  bwrap     `bwrap --unshare-all` with the host's /usr, /etc ... bound read-only, /proc, /dev, /tmp
  api       hermetic.sandbox.run() (fork server warm; first call reported separately)
  one-shot  run() with HERMETIC_SANDBOX_FORKSERVER=0 (a fresh helper interpreter per run)
  cli       `hermetic sandbox run -- /bin/true` (interpreter + CLI + one fork-server start)
Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from hermetic.sandbox import SandboxSpec, forkserver, run

N = int(os.environ.get("BENCH_N", "30"))


def timed(fn, n: int = N) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def bwrap_command() -> list[str]:
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session"]
    for name in ("usr", "etc", "bin", "sbin", "lib", "lib64"):
        path = f"/{name}"
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    return cmd + ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "/bin/true"]


def main() -> None:
    true = SandboxSpec(argv=["/bin/true"])
    first = time.perf_counter()
    assert run(true).ok
    first_ms = (time.perf_counter() - first) * 1000
    figures = {
        "unshare": timed(lambda: subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--net", "--ipc",
             "--uts", "--fork", "/bin/true"], check=True)),
        "bwrap": timed(lambda: subprocess.run(bwrap_command(), check=True)),
        "api": timed(lambda: run(true)),
    }
    forkserver.shutdown()
    os.environ["HERMETIC_SANDBOX_FORKSERVER"] = "0"
    figures["one-shot"] = timed(lambda: run(true), n=max(5, N // 5))
    del os.environ["HERMETIC_SANDBOX_FORKSERVER"]
    hermetic = os.path.join(os.path.dirname(sys.executable), "hermetic")
    figures["cli"] = timed(lambda: subprocess.run([hermetic, "sandbox", "run", "--", "/bin/true"],
                                                  check=True), n=max(5, N // 5))
    print(f"sandbox start-to-exit of /bin/true, median of {N} (ms)")
    for name, value in figures.items():
        print(f"  {name:9s} {value:8.1f}")
    print(f"  api first call (starts the fork server): {first_ms:.1f}")
    print(f"  api / bwrap = {figures['api'] / figures['bwrap']:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
