"""Distributed builds on Dask: the graph, keys, sandbox and cache stay hermetic's.

The client plans as a local build does; only components with no local or cached result become
Dask tasks, each a few KB of digests (``BuildTask``). Workers fetch inputs by digest from the
team cache, build in their own sandbox, push outputs then the signed entry (put-if-absent), and
return digests. Dask itself is an optional extra (``pip install hermetic[dask]``): nothing here
imports it at module level except ``client``, ``worker`` and ``execute``, which only the
``--executor dask*`` path and the ``worker``/``scheduler`` commands load.

Public interface::

    BuildTask, TaskResult, dask_key(key)              hermetic.distributed.task (pure)
    critical_path_priorities(graph) -> dict[str,int]   hermetic.distributed.priority (pure)
    check_address(address, security) / parse_executor  hermetic.distributed.security (pure)
    WorkerConfig, self_test(config)                    hermetic.distributed.workerconfig
    run_build_task(wire: dict) -> dict                 hermetic.distributed.execute (on workers)
    DaskExecutor(...)                                  hermetic.distributed.client
"""
