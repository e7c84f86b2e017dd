"""Priorities from the critical path (pure): the longest chain of dependents goes first."""

from __future__ import annotations

from typing import Any


def critical_path_priorities(graph: Any) -> dict[str, int]:
    """name -> length of the longest chain of components that wait for it (itself included).

    ``graph`` is a ``hermetic.graph.Graph``. A component many others wait for, transitively,
    gets a higher number; Dask runs higher priorities first among ready tasks.
    """
    dependents = graph.dependents()
    order = graph.order()                      # dependencies first
    depth: dict[str, int] = {}
    for name in reversed(order):               # dependents are done before their dependencies
        depth[name] = 1 + max((depth[child] for child in dependents[name]), default=0)
    return depth
