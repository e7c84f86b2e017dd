"""Build overhead and cache-hit latency of `hermetic build` (a script that prints figures).

1. Overhead: `hermetic build` with a cold cache (buildroot ready) against plain `rpmbuild` with
   the same macros on the same buildroot tree, launched by bwrap — the cheapest container that
   gives rpmbuild that root. Alternating runs, medians. Goal <= 1.05x. Measured for the example
   library (a sub-second build: the ratio shows hermetic's fixed cost) and for a generated
   component whose compile takes seconds (the ratio a real package sees).
2. Cache hit: a no-op `hermetic build` of one component, and of a generated workspace of 1,000
   components whose entries are already stored. Goals <= 0.3 s and <= 2 s wall. The full
   pipeline (fast path disabled) is reported too.

Needs the cached test buildroot (`make test` creates it) or creates it (about 80 s, network).
Run: .venv/bin/python benchmarks/bench_build.py [--rounds N] [--components N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.build.conftest import copy_workspace, seed_store  # noqa: E402
from tests.conftest import cached_rpm_buildroot  # noqa: E402
from tests.workspaces import CHANGELOG, age, write_workspace  # noqa: E402

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def hermetic(store: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hermetic", "--store", str(store), *args], check=True,
                   env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def plain_rpmbuild(root, work: Path, spec_dir: Path, component: str) -> float:
    """rpmbuild -ba with hermetic's macros on the same tree, launched by bwrap."""
    from hermetic.rpm.driver import CONTROL_DIR, prepare_workdir, rpmbuild_argv

    shutil.rmtree(work, ignore_errors=True)
    (work / "SPECS").mkdir(parents=True)
    (work / "SOURCES").mkdir()
    shutil.copy(spec_dir / f"{component}.spec", work / "SPECS")
    for tarball in spec_dir.glob("*.tar.gz"):
        shutil.copy(tarball, work / "SOURCES")
    prepare_workdir(work, f"{component}.spec", [], 2)
    argv = [a for a in rpmbuild_argv(f"{component}.spec") if a]
    # The tree has no /builddir mount point and must stay unmodified: a tmpfs root with the
    # tree's top-level directories bound read-only (bwrap 0.8 has no overlay support).
    layout: list[str] = ["--tmpfs", "/"]
    for entry in sorted(root.path.iterdir()):
        if entry.is_symlink():
            layout += ["--symlink", os.readlink(entry), f"/{entry.name}"]
        elif entry.is_dir() and entry.name not in ("proc", "dev", "tmp"):
            layout += ["--ro-bind", str(entry), f"/{entry.name}"]
    command = ["bwrap", *layout, "--bind", str(work), "/builddir",
               "--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--proc", "/proc", "--dev", "/dev",
               "--unshare-all", "--die-with-parent", "--chdir", "/builddir",
               "--setenv", "SOURCE_DATE_EPOCH", "1700000000", "--setenv", "HOME", "/builddir",
               *argv]
    assert (work / CONTROL_DIR).is_dir()
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def heavy_component(ws: Path, functions: int) -> Path:
    """A component whose build takes seconds, not a fraction of one: one large C file."""
    folder = ws / "components" / "heavy"
    source = folder / "heavy-1.0"
    source.mkdir(parents=True)
    body = "".join(f"int f{i}(int x) {{ int s = 0; for (int j = 0; j < x; j++) s += j * {i} ^ (s >> 3);"
                   f" return s; }}\n" for i in range(functions))
    (source / "heavy.c").write_text(body + "int main(void) { return f0(1); }\n")
    subprocess.run(["tar", "--sort=name", "--mtime=@1700000000", "--owner=0", "--group=0",
                    "--numeric-owner", "-czf", str(folder / "heavy-1.0.tar.gz"), "-C",
                    str(folder), "heavy-1.0"], check=True)
    shutil.rmtree(source)
    (folder / "heavy.spec").write_text(
        "Name: heavy\nVersion: 1.0\nRelease: 1\nSummary: a slow build\nLicense: MIT\n"
        "Source0: heavy-1.0.tar.gz\n\n%description\nslow\n\n%prep\n%autosetup\n\n"
        "%build\ngcc -O2 -o heavy heavy.c\n\n%install\ninstall -D heavy %{buildroot}/usr/bin/heavy\n\n"
        "%files\n/usr/bin/heavy\n\n%changelog\n* Mon Jan 01 2024 B <b@example.invalid> - 1.0-1\n- x\n")
    (folder / "heavy.comp.toml").write_text(
        '[components.heavy]\nspec = { type = "local", path = "heavy.spec" }\n')
    return folder


def bench_overhead(root, rounds: int, tmp: Path, component: str, spec_dir: Path) -> None:
    ours, plain = [], []
    for index in range(rounds):
        store = tmp / f"overhead-store-{component}-{index}"
        seed_store(store, root)
        ours.append(hermetic(store, "build", str(spec_dir / f"{component}.comp.toml")))
        plain.append(plain_rpmbuild(root, tmp / "plain-work", spec_dir, component))
        shutil.rmtree(store, ignore_errors=True)
    a, b = statistics.median(ours), statistics.median(plain)
    print(f"overhead, {component}: hermetic build (cold cache) median {a:.2f} s, plain rpmbuild "
          f"(bwrap) median {b:.2f} s, ratio {a / b:.2f}x, fixed cost {a - b:.2f} s "
          f"(goal <= 1.05x; {rounds} rounds)")


def bench_cache_hit_one(root, rounds: int, tmp: Path) -> None:
    ws = copy_workspace(tmp / "hit-ws")
    store = tmp / "hit-store"
    seed_store(store, root)
    comp = str(ws / "components/libgreet/libgreet.comp.toml")
    hermetic(store, "build", comp)
    age(ws)
    hermetic(store, "build", comp)  # records the fast path
    fast = [hermetic(store, "build", comp) for _ in range(rounds)]
    full = []
    for _ in range(rounds):
        shutil.rmtree(store / "fastpath", ignore_errors=True)
        full.append(hermetic(store, "build", comp))
    print(f"cache hit, 1 component: median {statistics.median(fast):.3f} s "
          f"(full pipeline {statistics.median(full):.3f} s; goal <= 0.3 s)")


def generate(ws: Path, count: int) -> None:
    """Every tenth component starts a chain; the others BuildRequire the previous -devel."""
    specs = {}
    for index in range(count):
        name = f"pkg{index:04d}"
        needs = f"BuildRequires: pkg{index - 1:04d}-devel\n" if index % 10 else ""
        specs[name] = (
            f"Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: generated\nLicense: MIT\n"
            f"BuildArch: noarch\n{needs}\n%description\ngenerated\n\n"
            f"%package devel\nSummary: devel\n%description devel\ndevel\n\n"
            f"%files\n%files devel\n\n{CHANGELOG}")
    write_workspace(ws, specs)


def seed_entries(ws: Path, store_root: Path) -> None:
    """Store an entry under every component's real key (placeholder RPM bytes): only the
    lookup path is measured, and it never opens the RPMs."""
    from hermetic.pipeline import manifest_for, prepare
    from hermetic.keys import compute_key
    from hermetic.store import ActionEntry, OutputRef, Store

    store = Store(store_root)
    prepared = prepare(ws, store)
    entries = {}
    for name in prepared.selected:
        manifest = manifest_for(prepared, name, entries)
        key = compute_key(manifest)
        outputs = []
        for rpm in (f"{name}-1.0-1.noarch.rpm", f"{name}-devel-1.0-1.noarch.rpm"):
            data = rpm.encode()
            outputs.append(OutputRef(rpm, store.objects.put_bytes(data), len(data), "rpm"))
        entry = ActionEntry(key=key, component=name, outputs=tuple(outputs), manifest=manifest,
                            buildroot=prepared.buildroot.digest, created=int(time.time()))
        entries[name] = store.actions.put(key, entry)


def bench_cache_hit_many(root, count: int, rounds: int, tmp: Path) -> None:
    ws = tmp / "many-ws"
    generate(ws, count)
    store = tmp / "many-store"
    seed_store(store, root)
    started = time.perf_counter()
    seed_entries(ws, store)
    seeded = time.perf_counter() - started
    age(ws)
    first = hermetic(store, "build", str(ws))  # full pipeline, all cached; records the fast path
    fast = [hermetic(store, "build", str(ws)) for _ in range(rounds)]
    print(f"cache hit, {count} components: median {statistics.median(fast):.3f} s "
          f"(full pipeline {first:.2f} s, seeding {seeded:.1f} s; goal <= 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--components", type=int, default=1000)
    parser.add_argument("--functions", type=int, default=3000,
                        help="size of the slow component's C file (build time)")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "hermetic")],
                   check=True, stdout=subprocess.DEVNULL)
    root = cached_rpm_buildroot()
    with tempfile.TemporaryDirectory(prefix="hermetic-bench-") as tmp:
        tmp_path = Path(tmp)
        ws = copy_workspace(tmp_path / "overhead-ws")
        rounds = max(3, args.rounds // 2)
        bench_overhead(root, rounds, tmp_path, "libgreet", ws / "components/libgreet")
        bench_overhead(root, rounds, tmp_path, "heavy", heavy_component(ws, args.functions))
        bench_cache_hit_one(root, args.rounds, tmp_path)
        bench_cache_hit_many(root, args.components, args.rounds, tmp_path)


if __name__ == "__main__":
    main()
