"""`hermetic serve` download throughput against nginx on the same directory, same run.

1 GiB (BENCH_SERVE_MIB) of RPM-sized objects (64 KiB – 8 MiB, seeded) in a store laid out as
objects/ab/<blake3>. Both servers bind 127.0.0.1; the client is curl (BENCH_SERVE_CLIENTS
parallel processes, keep-alive, bodies to /dev/null), identical for both, each server measured
BENCH_SERVE_ROUNDS times (best round kept). Then the load test of the issue: 64 concurrent
Python clients pulling and re-hashing objects for BENCH_SERVE_LOAD_S seconds (30), counting
requests and errors. Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import blake3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TOTAL = int(os.environ.get("BENCH_SERVE_MIB", "1024")) * 1024 * 1024
CLIENTS = int(os.environ.get("BENCH_SERVE_CLIENTS", "4"))
ROUNDS = int(os.environ.get("BENCH_SERVE_ROUNDS", "3"))
LOAD_SECONDS = float(os.environ.get("BENCH_SERVE_LOAD_S", "30"))


def make_objects(root: Path) -> list[str]:
    rng = random.Random(42)
    digests, written = [], 0
    while written < TOTAL:
        size = min(rng.randint(64 * 1024, 8 * 1024 * 1024), TOTAL - written)
        data = rng.randbytes(size)
        digest = blake3.blake3(data).hexdigest()
        path = root / "objects" / digest[:2] / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digests.append(digest)
        written += size
    return digests


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_nginx(root: Path, work: Path) -> tuple[str, subprocess.Popen]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(f"""
worker_processes 2;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location / {{ }}
  }}
}}
""")
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)],
                               stderr=subprocess.DEVNULL)
    wait_for(port)
    return f"http://127.0.0.1:{port}", process


def start_hermetic(root: Path) -> tuple[str, subprocess.Popen]:
    process = subprocess.Popen([sys.executable, "-m", "hermetic", "serve", "--store", str(root),
                                "--port", "0"], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    line = process.stdout.readline()
    return line.split(" at ", 1)[1].split()[0], process


def wait_for(port: int) -> None:
    import socket
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def download_all(base: str, digests: list[str], work: Path) -> float:
    """Seconds for CLIENTS curl processes to fetch every object once (keep-alive)."""
    configs = []
    for index in range(CLIENTS):
        config = work / f"curl-{index}.cfg"
        config.write_text("".join(f'url = "{base}/objects/{d[:2]}/{d}"\noutput = "/dev/null"\n'
                                  for d in digests[index::CLIENTS]))
        configs.append(config)
    start = time.perf_counter()
    procs = [subprocess.Popen(["curl", "-sS", "--fail", "-K", str(c)]) for c in configs]
    codes = [p.wait() for p in procs]
    elapsed = time.perf_counter() - start
    if any(codes):
        raise RuntimeError(f"curl failed against {base}: {codes}")
    return elapsed


def load_test(base: str, digests: list[str]) -> tuple[int, int, int]:
    from hermetic.remote import open_remote
    stop_at = time.monotonic() + LOAD_SECONDS
    counts, errors, volume = [0] * 64, [], [0] * 64
    small = [d for d in digests][:200]

    def client(index: int) -> None:
        remote = open_remote(base)
        rng = random.Random(index)
        scratch = Path(tempfile.mkdtemp(prefix=f"load-{index}-"))
        try:
            while time.monotonic() < stop_at:
                digest = rng.choice(small)
                dest = scratch / "x"
                volume[index] += remote.get_object(digest, dest)  # re-hashes; raises on mismatch
                dest.unlink()
                counts[index] += 1
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            remote.close()
            shutil.rmtree(scratch, ignore_errors=True)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), len(errors), sum(volume)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx started by root reads as its worker user
        root = work / "store"
        digests = make_objects(root)
        print(f"objects: {len(digests)}, {TOTAL / 2**20:.0f} MiB, clients: {CLIENTS} curl", flush=True)
        # Read once so both servers start from a warm page cache.
        subprocess.run(["cat", *map(str, (root / "objects").rglob("*"))],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nginx_url, nginx = start_nginx(root, work)
        hermetic_url, hermetic = start_hermetic(root)
        try:
            results: dict[str, float] = {}
            for _ in range(ROUNDS):
                for name, url in (("nginx", nginx_url), ("hermetic serve", hermetic_url)):
                    seconds = download_all(url, digests, work)
                    results[name] = max(results.get(name, 0.0), TOTAL / seconds / 2**20)
            for name, mib_s in results.items():
                print(f"{name:15s} {mib_s:8.0f} MiB/s (best of {ROUNDS})")
            print(f"ratio hermetic/nginx: {results['hermetic serve'] / results['nginx']:.2f} "
                  "(goal >= 0.8)")
            requests, errors, volume = load_test(hermetic_url, digests)
            print(f"load: 64 clients x {LOAD_SECONDS:.0f} s against hermetic serve: "
                  f"{requests} downloads ({volume / 2**20:.0f} MiB, every one re-hashed), "
                  f"{errors} errors", flush=True)
        finally:
            for process in (nginx, hermetic):
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
