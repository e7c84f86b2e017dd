"""The fetch phase: the only phase with network.

``fetch_component(component, store)`` brings a component's spec, patches and sources into the
store, each verified against its declared digest first, and returns a ``FetchedComponent``
(file name → blake3). ``materialize`` lays those files out in a directory for render and
build; ``fetch_workspace`` fetches many components in parallel threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hermetic.fetch.component import FetchedComponent, FetchStats, fetch_plan
from hermetic.fetch.plan import FetchPlan, plan_for

__all__ = ["FetchedComponent", "FetchStats", "FetchPlan", "fetch_component", "fetch_plan",
           "fetch_workspace", "materialize", "plan_for", "stat_cache_for"]


def stat_cache_for(store: Any):
    """The store's stat cache (local spec files are re-read only when their stat changes)."""
    return store.stat_cache


def fetch_component(component: Any, store: Any, *, stat_cache: Any = None,
                    timeout: float | None = None) -> FetchedComponent:
    """Fetch and verify one loaded ``hermetic.model`` Component into ``store``."""
    if stat_cache is None:
        stat_cache = stat_cache_for(store)
    return fetch_plan(plan_for(component), store, stat_cache=stat_cache, timeout=timeout)


def fetch_workspace(workspace: Any, store: Any, names: Iterable[str] | None = None,
                    jobs: int = 4, *, timeout: float | None = None,
                    on_fetched: Callable[[FetchedComponent], None] | None = None,
                    ) -> dict[str, FetchedComponent]:
    """Fetch several components in parallel threads; results in name order.

    ``names`` (default: all) must name components of the workspace. When some fail, every
    component still runs to completion and the first failure in name order is raised, so the
    error shown does not depend on thread timing.
    """
    from hermetic.errors import ConfigError

    components = workspace.components
    # Without names: what the PATH designated (one *.comp.toml of a project), else everything.
    default = getattr(workspace, "selected", ()) or components
    selected = sorted(set(names)) if names else sorted(default)
    unknown = [name for name in selected if name not in components]
    if unknown:
        raise ConfigError(f"no component named {', '.join(map(repr, unknown))} in "
                          f"{workspace.project_file or workspace.root}",
                          hint="`hermetic show` lists the components")
    stat_cache = stat_cache_for(store)

    def one(name: str) -> FetchedComponent:
        fetched = fetch_component(components[name], store, stat_cache=stat_cache,
                                  timeout=timeout)
        if on_fetched is not None:
            on_fetched(fetched)
        return fetched

    results: dict[str, FetchedComponent] = {}
    errors: dict[str, BaseException] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="fetch") as pool:
        futures = {name: pool.submit(one, name) for name in selected}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except BaseException as error:  # re-raised below, in name order
                errors[name] = error
    if errors:
        raise errors[min(errors)]
    return results


def materialize(fetched: FetchedComponent, store: Any, dest: Path) -> Path:
    """Lay the component's files out flat in ``dest`` (hardlinks to the store when possible).

    The links share their inode with read-only store objects: never write through them —
    replace a file (write a new one and rename) instead.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, digest in fetched.files.items():
        target = dest / name
        if target.exists() and os.path.samefile(target, store.objects.path(digest)):
            continue
        store.objects.link_to(digest, target)
    return dest
