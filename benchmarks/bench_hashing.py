"""Hashing throughput: hermetic.hashing against the `b3sum` tool on the same 1 GiB of files.

Generates a mix of a few large files and many small ones in a temp directory, then measures
(best of N, page cache warm for every contender, same run):

  b3sum             the reference tool (Rust, mmap + threads), all files in one call
  blake3_file       hermetic.hashing.blake3_file per file (threads + mmap above 4 MiB)
  hash_file b3+sha  blake3 and sha256 in one read (what verifying a declared digest costs)
  stat cache miss   StatCache.cached_digest on an empty cache (hash + remember)
  stat cache hit    StatCache.cached_digest again: unchanged files are not read at all

Usage: python benchmarks/bench_hashing.py [--total-mib 1024] [--runs 3] [--dir DIR]
This is a benchmark script, not a test: it prints figures and asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hermetic.hashing import RACY_WINDOW_NS, StatCache, blake3_file, hash_file  # noqa: E402

MIB = 1 << 20


def generate(directory: Path, total_mib: int) -> list[Path]:
    """Three quarters of the bytes in four large files, the rest in 64 KiB files."""
    large_total = total_mib * 3 // 4
    files: list[Path] = []
    block = os.urandom(MIB)
    for i in range(4):
        path = directory / f"large-{i}.tar"
        with open(path, "wb") as out:
            for j in range(large_total // 4):
                # vary each MiB so nothing deduplicates or compresses
                out.write(j.to_bytes(8, "little") + i.to_bytes(8, "little") + block[16:])
        files.append(path)
    small_count = (total_mib - large_total) * MIB // (64 * 1024)
    small_dir = directory / "small"
    small_dir.mkdir()
    for i in range(small_count):
        path = small_dir / f"patch-{i:05d}.patch"
        path.write_bytes(os.urandom(64 * 1024))
        files.append(path)
    return files


def best_of(runs: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def run_b3sum(files: list[Path]) -> None:
    # one process for everything, as a shell user would: b3sum FILES...
    batch = 2000
    for i in range(0, len(files), batch):
        subprocess.run(["b3sum", "--no-names", *map(str, files[i:i + batch])], check=True,
                       stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to generate (default: tmp)")
    args = parser.parse_args()
    if shutil.which("b3sum") is None:
        print("b3sum is not installed (apt-get install b3sum)", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-hashing-") as tmp:
        root = Path(tmp)
        data = root / "data"
        data.mkdir()
        print(f"generating {args.total_mib} MiB in {data} ...", flush=True)
        files = generate(data, args.total_mib)
        size = sum(f.stat().st_size for f in files)
        # Let the files age past the racy window so the stat cache may remember them.
        time.sleep(RACY_WINDOW_NS / 1e9 + 0.2)
        for f in files:  # warm the page cache for everyone alike
            blake3_file(f)

        results: dict[str, float] = {}
        results["b3sum"] = best_of(args.runs, lambda: run_b3sum(files))
        results["blake3_file"] = best_of(args.runs, lambda: [blake3_file(f) for f in files])
        results["hash_file b3+sha256"] = best_of(
            args.runs, lambda: [hash_file(f, ("blake3", "sha256")) for f in files])

        misses = []
        for run in range(args.runs):
            cache = StatCache(root / f"stat-{run}.sqlite")
            start = time.perf_counter()
            for f in files:
                cache.cached_digest(f)
            cache.flush()  # the write to disk is part of a miss's cost
            misses.append(time.perf_counter() - start)
            assert cache.misses == len(files)
        results["stat cache miss"] = min(misses)
        cache = StatCache(root / "stat-0.sqlite")
        results["stat cache hit"] = best_of(args.runs, lambda: [cache.cached_digest(f) for f in files])
        assert cache.hits == len(files) * args.runs, "stat cache did not hit"

        # correctness: the same digests as the reference tool
        sample = [files[0], files[-1]]
        reference = subprocess.run(["b3sum", "--no-names", *map(str, sample)], check=True,
                                   capture_output=True, text=True).stdout.split()
        assert reference == [blake3_file(f) for f in sample]

    large = sum(1 for f in files if f.name.startswith("large"))
    print(f"\n{size / MIB:.0f} MiB in {len(files)} files ({large} large, "
          f"{len(files) - large} of 64 KiB), {os.cpu_count()} CPUs, page cache warm, "
          f"best of {args.runs}\n")
    base = results["b3sum"]
    print(f"{'method':<22}{'seconds':>10}{'MB/s':>12}{'vs b3sum':>11}")
    for name, seconds in results.items():
        print(f"{name:<22}{seconds:>10.3f}{size / 1e6 / seconds:>12.0f}{base / seconds:>10.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
