"""Where a distributed build's time goes: named steps timed on the worker and on the client.

Workers return their steps in the task's answer (``TaskResult.phases``); the client adds its own
and, when ``HERMETIC_DASK_PROFILE`` names a file, appends one JSON line per task to it
(benchmarks/bench_dask.py reads them). Cheap enough to stay on: two clock reads per step.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

PROFILE_ENV = "HERMETIC_DASK_PROFILE"
_write_lock = threading.Lock()


class Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def mark(self, name: str, at: float) -> None:
        """An absolute time (``time.time()``): when a step happened, not how long it took."""
        self.seconds[name] = at

    def rounded(self) -> dict[str, float]:
        return {name: value if name.endswith("_at") else round(value, 4)
                for name, value in self.seconds.items()}


def record(record: dict[str, Any], environ: dict[str, str] | None = None) -> None:
    """Append ``record`` as one JSON line to $HERMETIC_DASK_PROFILE, if set."""
    path = (os.environ if environ is None else environ).get(PROFILE_ENV)
    if not path:
        return
    line = json.dumps(record, sort_keys=True) + "\n"
    with _write_lock, open(path, "a") as handle:
        handle.write(line)
