from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hermetic.store import ActionEntry, Store

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


def make_entry(store: Store, component: str, key_seed: str, payloads: dict[str, bytes],
               manifest: dict | None = None, buildroot: str = "") -> ActionEntry:
    """An entry whose outputs are really in the store (objects first, as the builder does)."""
    import blake3
    outputs = []
    for name, data in payloads.items():
        digest = store.objects.put_bytes(data)
        outputs.append({"name": name, "digest": digest, "size": len(data),
                        "kind": "srpm" if name.endswith(".src.rpm") else "rpm"})
    key = blake3.blake3(key_seed.encode()).hexdigest()
    return ActionEntry(key=key, component=component, outputs=outputs,
                       manifest=manifest or {"seed": key_seed}, timings={"build_ms": 1200},
                       rpm_version="4.18.0", buildroot=buildroot, created=1_700_000_000)


def python_process(code: str, **kwargs) -> subprocess.Popen:
    """A separate Python process running ``code`` with this checkout importable."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            text=True, **kwargs)
