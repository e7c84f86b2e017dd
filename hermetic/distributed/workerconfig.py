"""A worker's own settings (never sent by clients) and the self-test it passes before joining."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermetic.errors import ConfigError, HermeticError, SandboxError

# Run in a tiny sandbox: seccomp filter on (mode 2) and a network namespace holding only lo.
SELF_TEST_SCRIPT = (
    "grep -q '^Seccomp:[[:space:]]*2' /proc/self/status || { echo 'no seccomp filter'; exit 3; }\n"
    "n=$(tail -n +3 /proc/net/dev | grep -vc '^ *lo:')\n"
    "[ \"$n\" = 0 ] || { echo \"$n network interface(s) besides lo\"; exit 4; }\n"
)


@dataclass
class WorkerConfig:
    store: Path
    cache_url: str                           # where outputs are pushed (and inputs fetched)
    substituters: list[str] = field(default_factory=list)   # extra places to fetch inputs
    token: str | None = None                 # the cache write token
    secret_key: Path | None = None           # signs pushed entries (NAME.secret)
    memory_max: int | None = None            # per-build memory limit (bytes)
    # dask-local: sandboxes at a time in this process, shared by all its workers, which Dask
    # admits a task more than that each (its push then overlaps the next build). None: every
    # task Dask admits builds at once.
    sandbox_slots: int | None = None
    _remotes: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:  # travels to dask-local workers: no live objects
        state = dict(self.__dict__)
        state["_remotes"] = {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def remote(self, url: str | None = None) -> Any:
        """One open Remote per URL for the worker's lifetime (connections are reused)."""
        from hermetic.remote import open_remote

        url = url or self.cache_url
        with self._lock:
            if url not in self._remotes:
                self._remotes[url] = open_remote(url, self.token)
            return self._remotes[url]

    def fetch_remotes(self) -> list[Any]:
        return [self.remote(url) for url in dict.fromkeys([self.cache_url, *self.substituters])]

    def load_secret(self) -> Any:
        if self.secret_key is None:
            return None
        from hermetic.signing import load_secret_key
        return load_secret_key(self.secret_key)


def parse_size(text: str) -> int:
    """``8G``, ``512M``, ``1024K`` or bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    raw = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if raw and raw[-1] in units:
            return int(float(raw[:-1]) * units[raw[-1]])
        return int(raw)
    except ValueError:
        raise ConfigError(f"--mem {text!r}: use a size such as 8G, 512M or bytes") from None


def self_test(config: WorkerConfig) -> list[str]:
    """Everything a worker needs, checked before it joins; the lines it passed.

    Raises a HermeticError naming the first thing that fails: the sandbox (user namespaces,
    seccomp, a network namespace with only lo, by running a real tiny sandbox), the store,
    the cache (reachable) and the signing key (readable).
    """
    passed = [_check_sandbox()]
    config.store.mkdir(parents=True, exist_ok=True)
    from hermetic.store import Store
    try:
        Store(config.store).tmp_dir()
    except OSError as exc:
        raise HermeticError(f"worker self-test: store {config.store} is not writable "
                            f"({exc.strerror})") from None
    passed.append(f"store {config.store} writable")
    for remote in config.fetch_remotes():
        info = remote.info()
        if not info.get("reachable"):
            raise HermeticError(f"worker self-test: cache {remote.url} is not reachable"
                                + (f" ({info['error']})" if info.get("error") else ""),
                                hint="start `hermetic serve` or fix --push/--substituter")
        passed.append(f"cache {remote.url} reachable")
    if config.secret_key is not None:
        try:
            key = config.load_secret()
        except HermeticError as exc:
            raise HermeticError(f"worker self-test: signing key: {exc.message}") from None
        passed.append(f"signing key {key.name} readable")
    return passed


def _check_sandbox() -> str:
    from hermetic.sandbox import SandboxSpec, check_support, run

    try:
        check_support()
        with tempfile.TemporaryDirectory(prefix="hermetic-selftest-") as scratch:
            log = Path(scratch) / "out.log"
            result = run(SandboxSpec(argv=["/bin/sh", "-c", SELF_TEST_SCRIPT], timeout=60,
                                     log_path=str(log)))
            output = log.read_text(errors="replace").strip() if log.exists() else ""
    except SandboxError as exc:
        raise SandboxError(f"worker self-test: {exc.message}", exc.hint) from None
    if not result.ok:
        raise SandboxError(f"worker self-test: the sandbox check failed: "
                           f"{output or f'exit {result.exit_code}, signal {result.signal}'}")
    return "sandbox: user namespaces, seccomp, network namespace"
