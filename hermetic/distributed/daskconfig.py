"""hermetic's defaults for Dask: its schedulers, workers and clients load them before starting.

A hermetic task is one sandboxed build that runs in a child process for seconds to hours; the
Python threads of a worker only wait for it. Dask's defaults suit short Python tasks instead:
a statistical profiler samples every worker thread every 10 ms, and memory management watches
the worker process ten times a second to spill data hermetic never keeps there (results are
digests; the data moves through the team cache). Both burn a core's worth of time that the
builds need (see docs/performance.md). They are installed as *defaults*: whatever the user set
in Dask's own configuration (YAML files, ``DASK_*`` variables) still wins, as long as it differs
from Dask's own default (which this cannot tell from not set).
"""

from __future__ import annotations

HERMETIC_DASK_DEFAULTS = {
    "distributed": {
        "worker": {
            "profile": {"enabled": False},
            "memory": {"target": False, "spill": False, "pause": False, "terminate": False,
                       "monitor-interval": "1s"},
        },
        "admin": {
            "tick": {"interval": "500ms"},   # event-loop health check: long blocks still show
            "system-monitor": {"interval": "2s"},
        },
    },
}

_installed = False


def install_defaults() -> None:
    """Make hermetic's Dask defaults current for this process (idempotent)."""
    global _installed
    if _installed:
        return
    import dask.config
    import distributed  # noqa: F401 - its own defaults load on import and must come first

    dask.config.update_defaults(HERMETIC_DASK_DEFAULTS)
    _installed = True
