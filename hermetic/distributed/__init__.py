"""Distributed builds on Dask: the graph, keys, sandbox and cache stay hermetic's.

The client plans as a local build does; only components with no local or cached result become
Dask tasks, each a few KB of digests (``BuildTask``). Workers fetch inputs by digest from the
team cache, build in their own sandbox, push outputs then the signed entry (put-if-absent), and
return digests. Dask itself is an optional extra (``pip install hermetic[dask]``) and only the
run's agent process (``agent``), ``cluster`` and the ``worker``/``scheduler`` commands import
it; the build process talks to the agent through ``link`` and never does.

Public interface::

    BuildTask, TaskResult, dask_key(key)              hermetic.distributed.task (pure)
    encode / read_frame / FrameWriter                  hermetic.distributed.frames (pure)
    AgentLink.spawn(kind).begin(settings)              hermetic.distributed.link
    check_address(address, security) / parse_executor  hermetic.distributed.security (pure)
    WorkerConfig, self_test(config)                    hermetic.distributed.workerconfig
    run_build_task(wire: dict) -> dict                 hermetic.distributed.execute (on workers)
    DaskExecutor(...)                                  hermetic.distributed.client
"""
