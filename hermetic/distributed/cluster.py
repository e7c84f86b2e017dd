"""The Dask side of workers and schedulers (imports Dask: load only for dask executors).

``HermeticPlugin`` carries a worker's own settings into its process; the task function finds
them as ``worker.plugins["hermetic"].config``. Resources: ``slots`` (ordinary builds) and
``big`` (builds whose component sets ``build.hints.expensive``); ``cpus``, ``memory`` and
``feature-NAME`` are advertised for information and for tasks that ask for them.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from distributed import WorkerPlugin

from hermetic.distributed.execute import PLUGIN_NAME
from hermetic.distributed.workerconfig import WorkerConfig


class HermeticPlugin(WorkerPlugin):
    name = PLUGIN_NAME

    def __init__(self, config: WorkerConfig, self_test: bool = False) -> None:
        self.config = config
        self.run_self_test = self_test

    def setup(self, worker: Any) -> None:
        if self.run_self_test:
            self_test_once(self.config)
        warm(self.config)


_passed: dict[tuple[str, ...], list[str]] = {}
_passed_lock = threading.Lock()


def self_test_once(config: WorkerConfig) -> list[str]:
    """The self-test, run once per process and settings: the workers of ``dask-local:N``
    share one process, hence one sandbox, store and cache connection."""
    from hermetic.distributed.workerconfig import self_test

    identity = (str(config.store), config.cache_url, *config.substituters,
                str(config.secret_key))
    with _passed_lock:
        if identity not in _passed:
            _passed[identity] = self_test(config)
        return _passed[identity]


def warm(config: WorkerConfig) -> None:
    """Pay once, at join, what the first task would pay: the sandbox fork server (kept running
    for the worker's lifetime), the modules a build imports and the cache connection."""
    import hermetic.builder  # noqa: F401
    import hermetic.buildroot.store  # noqa: F401
    import hermetic.rpm  # noqa: F401
    import hermetic.signing  # noqa: F401
    from hermetic.sandbox import warm_up

    warm_up()
    config.remote().info()


def worker_resources(slots: int, big_slots: int, cpus: int | None = None,
                     memory: int | None = None, features: list[str] | None = None) -> dict:
    resources: dict[str, float] = {"slots": slots, "big": big_slots}
    if cpus:
        resources["cpus"] = cpus
    if memory:
        resources["memory"] = memory
    for feature in features or ():
        resources[f"feature-{feature}"] = 1
    return resources


async def run_worker(scheduler: str, config: WorkerConfig, resources: dict, nthreads: int,
                     security: Any = None, host: str = "127.0.0.1",
                     name: str | None = None) -> None:
    """Join ``scheduler`` as a worker until the scheduler goes away or the worker is stopped."""
    from distributed import Worker

    from hermetic.distributed.daskconfig import install_defaults

    install_defaults()

    worker = Worker(scheduler, nthreads=nthreads, resources=resources, host=host,
                    security=security, plugins={HermeticPlugin(config)}, name=name,
                    dashboard=False)
    await worker
    try:
        await worker.finished()
    finally:
        await worker.close()


async def run_scheduler(host: str, port: int, security: Any = None,
                        on_ready: Any = None) -> None:
    from distributed import Scheduler

    from hermetic.distributed.daskconfig import install_defaults

    install_defaults()

    protocol = "tls" if security is not None else "tcp"
    scheduler = Scheduler(host=host, port=port, protocol=protocol, security=security,
                          dashboard=False, dashboard_address="127.0.0.1:0")
    await scheduler
    if on_ready is not None:
        on_ready(scheduler.address)
    try:
        await scheduler.finished()
    finally:
        await scheduler.close()


def run_forever(coroutine: Any) -> None:
    asyncio.run(coroutine)
