"""The dependency graph between components, and a parallel scheduler over it (pure).

An edge A → B means A BuildRequires a package that component B produces. BuildRequires that no
component produces are expected to come from the buildroot. The scheduler talks to a ``run``
callback and does no I/O itself, so it is tested with plain functions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from hermetic.errors import ConfigError
from hermetic.specinfo import SpecInfo


@dataclass(frozen=True)
class Graph:
    dependencies: Mapping[str, frozenset[str]]  # component → components it needs built first

    def dependents(self) -> dict[str, set[str]]:
        reverse: dict[str, set[str]] = {name: set() for name in self.dependencies}
        for name, deps in self.dependencies.items():
            for dep in deps:
                reverse[dep].add(name)
        return reverse

    def closure(self, names: Iterable[str]) -> set[str]:
        """``names`` and everything they transitively depend on."""
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(self.dependencies[name])
        return seen

    def order(self) -> list[str]:
        """A topological order (dependencies first), ties broken by name for stable output."""
        remaining = {name: set(deps) for name, deps in self.dependencies.items()}
        result: list[str] = []
        while remaining:
            ready = sorted(name for name, deps in remaining.items() if not deps)
            if not ready:
                raise ConfigError(f"dependency cycle: {' -> '.join(_find_cycle(remaining))}")
            for name in ready:
                del remaining[name]
                result.append(name)
            for deps in remaining.values():
                deps.difference_update(ready)
        return result


def _find_cycle(remaining: Mapping[str, set[str]]) -> list[str]:
    """Walk unresolved edges until a component repeats; return that loop, closed."""
    start = min(remaining)
    path: list[str] = []
    position: dict[str, int] = {}
    node = start
    while node not in position:
        position[node] = len(path)
        path.append(node)
        node = min(dep for dep in remaining[node] if dep in remaining)
    return path[position[node]:] + [node]


def build_graph(specs: Mapping[str, SpecInfo]) -> Graph:
    producers: dict[str, str] = {}
    for component in sorted(specs):
        for package in specs[component].packages:
            other = producers.setdefault(package, component)
            if other != component:
                raise ConfigError(
                    f"package {package} is produced by two components: {other} and {component}")
    dependencies = {
        component: frozenset(
            producers[req] for req in info.build_requires
            if req in producers and producers[req] != component)
        for component, info in specs.items()
    }
    graph = Graph(dependencies)
    graph.order()  # reject cycles up front
    return graph


def critical_path_priorities(graph: Graph) -> dict[str, int]:
    """name -> length of the longest chain of components that wait for it (itself included).

    A component many others wait for, transitively, gets a higher number and starts first
    among ready ones: the critical path is never left waiting behind leaves.
    """
    dependents = graph.dependents()
    depth: dict[str, int] = {}
    for name in reversed(graph.order()):       # dependents are done before their dependencies
        depth[name] = 1 + max((depth[child] for child in dependents[name]), default=0)
    return depth


MAX_THREADS = 256  # waiting threads at most (an executor's in-flight components)
JOBS_RECHECK_SECONDS = 1.0


@dataclass
class Outcome:
    """What the scheduler learned about each component."""

    succeeded: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    skipped: set[str] = field(default_factory=set)  # a dependency failed
    errors: dict[str, BaseException] = field(default_factory=dict)  # ``run`` raised


def run_parallel(graph: Graph, jobs: int | Callable[[], int], run: Callable[[str], bool],
                 stop: threading.Event | None = None,
                 priority: Mapping[str, int] | None = None) -> Outcome:
    """Run ``run(name)`` for every component once its dependencies succeeded, ``jobs`` at a time.

    ``run`` returns True on success. A failure skips the component's dependents; independent
    components still run to completion. Setting ``stop`` starts nothing new. ``jobs`` may be a
    function, asked again whenever something finishes and every second (an executor whose
    capacity is learnt, or changes, while it runs). Among ready components the highest ``priority`` starts first (see
    ``critical_path_priorities``), then the name decides.
    """
    limit = jobs if callable(jobs) else (lambda: jobs)
    rank = priority or {}
    outcome = Outcome()
    waiting = {name: set(deps) for name, deps in graph.dependencies.items()}
    dependents = graph.dependents()
    running: dict[Future[bool], str] = {}

    def skip_dependents(name: str) -> None:
        for child in dependents[name]:
            if child in waiting:
                del waiting[child]
                outcome.skipped.add(child)
                skip_dependents(child)

    # Threads are made on demand, so a generous pool costs nothing while ``limit`` is small.
    with ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="build") as pool:
        while waiting or running:
            if not (stop and stop.is_set()):
                ready = sorted((name for name, deps in waiting.items() if not deps),
                               key=lambda name: (-rank.get(name, 0), name))
                for name in ready[: max(0, min(MAX_THREADS, max(1, limit())) - len(running))]:
                    del waiting[name]
                    running[pool.submit(run, name)] = name
            elif not running:
                outcome.skipped.update(waiting)
                break
            if not running:
                break
            # A limit that can change is asked again every second, not only when one finishes.
            done, _ = wait(running, return_when=FIRST_COMPLETED,
                           timeout=JOBS_RECHECK_SECONDS if callable(jobs) else None)
            for future in done:
                name = running.pop(future)
                error = future.exception()
                if error is not None:
                    outcome.errors[name] = error
                if error is None and future.result():
                    outcome.succeeded.add(name)
                    for deps in waiting.values():
                        deps.discard(name)
                else:
                    outcome.failed.add(name)
                    skip_dependents(name)
    return outcome
