"""load → fetch → render → key/plan: everything before a build, shared by show, build and audits.

``prepare`` turns a PATH into fully resolved components: fetched and verified inputs, rendered
specs with the build options and release baked in, their dependency graph and the buildroot.
``manifest_for`` then gives a component's input manifest once its dependencies' outputs are known.
"""

from __future__ import annotations

import platform
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from hermetic.errors import ConfigError
from hermetic.graph import Graph, build_graph
from hermetic.keys import DependencyOutputs, component_manifest, compute_key
from hermetic.specinfo import SpecInfo, read_spec

# The CPU count every build is offered (and pinned in %_smp_build_ncpus): the -jN lands in the
# SRPM, so it is an input, fixed rather than taken from the machine.
BUILD_CPU_COUNT = 2


@dataclass(frozen=True)
class PreparedComponent:
    """One component ready to key and build: every input file is in the store."""

    name: str
    component: Any          # hermetic.model.Component
    spec_name: str
    spec_text: str          # the final spec: overlays, release and build options applied
    files: dict[str, str]   # every input file, the spec and options file included: name → blake3
    spec_info: SpecInfo
    source_date_epoch: int
    check_skip: bool
    upstream_commit: str | None

    @property
    def spec_digest(self) -> str:
        return self.files[self.spec_name]


@dataclass(frozen=True)
class Prepared:
    workspace: Any                          # hermetic.model.Workspace
    store: Any                              # hermetic.store.Store
    components: dict[str, PreparedComponent]
    graph: Graph
    selected: tuple[str, ...]               # what was asked for, plus its dependencies, in order
    buildroot: Any | None                   # hermetic.buildroot.Buildroot; None if not created yet

    @property
    def arch(self) -> str:
        return platform.machine()


def _final_spec(prepared_name: str, config: Any, rendered_text: str) -> tuple[str, str]:
    """Apply release calculation and bake the build options in: (spec text, options text)."""
    from hermetic.rpm import apply_release, build_options_macros, inject_options

    decision = apply_release(rendered_text, config.release.calculation, 0,
                             where=f"component {prepared_name}")
    options = build_options_macros(config.build, release_bump=decision.autorelease_bump)
    return inject_options(decision.spec_text), options


def _archive_epoch(paths: Iterable[Path]) -> int | None:
    """The newest member mtime inside the source archives: content, so the same everywhere."""
    newest: int | None = None
    for path in paths:
        if not tarfile.is_tarfile(path):
            continue
        try:
            with tarfile.open(path) as archive:
                for member in archive:
                    newest = member.mtime if newest is None else max(newest, int(member.mtime))
        except (tarfile.TarError, OSError, EOFError):
            continue
    return newest


def _source_date_epoch(name: str, config: Any, spec_text: str, files: Mapping[str, str],
                       spec_name: str, store: Any) -> int:
    from hermetic.rpm import changelog_epoch, source_date_epoch

    override = config.build.source_date_epoch
    if override is None and changelog_epoch(spec_text) is None:
        # No changelog date: fall back to the sources' own timestamps. File mtimes of a checkout
        # vary with the checkout, so read the mtimes recorded inside the archives instead.
        sources = [store.objects.path(d) for n, d in sorted(files.items()) if n != spec_name]
        override = _archive_epoch(sources)
    try:
        return source_date_epoch(spec_text, (), override if override else None)
    except ConfigError as error:
        raise ConfigError(f"component {name}: {error}") from None


def _prepare_component(component: Any, fetched: Any, store: Any) -> PreparedComponent:
    from hermetic.render import render_component
    from hermetic.rpm import OPTIONS_FILE_NAME

    rendered = render_component(component, fetched, store)
    spec_text, options = _final_spec(component.name, component.config, rendered.spec_text)
    if OPTIONS_FILE_NAME in rendered.files:
        raise ConfigError(f"component {component.name}: a source file is named "
                          f"{OPTIONS_FILE_NAME}, which hermetic reserves for build options")
    files = dict(rendered.files)
    files[rendered.spec_name] = store.objects.put_bytes(spec_text.encode("utf-8", "surrogateescape"))
    files[OPTIONS_FILE_NAME] = store.objects.put_bytes(options.encode())
    config = component.config
    return PreparedComponent(
        name=component.name,
        component=component,
        spec_name=rendered.spec_name,
        spec_text=spec_text,
        files=dict(sorted(files.items())),
        spec_info=read_spec(spec_text),
        source_date_epoch=_source_date_epoch(component.name, config, spec_text, files,
                                             rendered.spec_name, store),
        check_skip=bool(config.build.check.skip),
        upstream_commit=fetched.upstream_commit,
    )


def select(workspace: Any, names: Iterable[str] | None) -> list[str]:
    names = list(names or ())
    unknown = sorted(set(names) - set(workspace.components))
    if unknown:
        raise ConfigError(f"no component named {', '.join(map(repr, unknown))} in "
                          f"{workspace.project_file or workspace.root}",
                          hint="`hermetic show` lists the components")
    return names or list(workspace.selected or workspace.components)


def prepare(path: Path, store: Any, names: Iterable[str] | None = None, *,
            ensure_buildroot: bool = True, jobs: int = 4,
            substituters: Any | None = None) -> Prepared:
    """Load, fetch, render and graph the workspace at ``path``; see the module docstring.

    Every component of the workspace is fetched and rendered — the graph needs all of their
    specs to know who produces what — but only ``names`` (default: what PATH designates) and
    their dependencies are selected. ``ensure_buildroot=False`` never creates or imports the
    buildroot (``show``): keys then stay unknown until it exists. A buildroot pinned by digest
    is pulled from ``substituters``' caches when the store lacks it.
    """
    from hermetic.fetch import fetch_workspace
    from hermetic.model import load_workspace

    workspace = load_workspace(path)
    wanted = select(workspace, names)
    fetched = fetch_workspace(workspace, store, names=list(workspace.components), jobs=jobs)
    components = {name: _prepare_component(workspace.components[name], fetched[name], store)
                  for name in workspace.components}
    graph = build_graph({name: item.spec_info for name, item in components.items()})
    closure = graph.closure(wanted)
    selected = tuple(name for name in graph.order() if name in closure)
    buildroot = _buildroot(workspace, store, create=ensure_buildroot, substituters=substituters)
    return Prepared(workspace, store, components, graph, selected, buildroot)


def _buildroot(workspace: Any, store: Any, *, create: bool,
               substituters: Any | None = None) -> Any | None:
    from hermetic import buildroot as buildroots
    from hermetic.buildroot.store import lookup_digest

    config = workspace.buildroot
    if config.type == "host":
        return buildroots.host_buildroot()
    if config.digest:
        pinned = lookup_digest(store.root, config.name, config.digest)
        if pinned is None and create and substituters:
            pinned = _pull_buildroot(store, config, substituters)
        if pinned is not None or not create:
            return pinned
    if not create:
        return buildroots.lookup(store.root, config.name)
    made = buildroots.ensure_buildroot(config, store.root, workspace.root)
    if config.digest and made.digest != config.digest:
        raise ConfigError(
            f"{workspace.project_file}: buildroot.digest pins {config.digest[:16]}…, but the "
            f"{config.type} buildroot {config.name} here has digest {made.digest[:16]}…",
            hint="pull the pinned tree from a team cache (--substituter), or update the pin")
    return made


def _pull_buildroot(store: Any, config: Any, substituters: Any) -> Any | None:
    from hermetic.remote import pull_buildroot
    from hermetic.remote.errors import RemoteError

    for remote in substituters.remotes:
        try:
            pulled = pull_buildroot(store.root, config.digest, remote, config.name)
        except RemoteError as error:  # a cache that is down or serves a bad tree: try the next
            print(f"hermetic: warning: {error}", file=sys.stderr)
            continue
        if pulled is not None:
            return pulled
    return None


def toolchain_inputs(item: PreparedComponent) -> dict[str, Any]:
    from hermetic.rpm import reproducibility_fingerprint

    return {
        "macros": reproducibility_fingerprint(BUILD_CPU_COUNT),
        "cpu_count": BUILD_CPU_COUNT,
        "source_date_epoch": item.source_date_epoch,
        "check_skip": item.check_skip,
    }


def dependency_outputs(name: str, entry: Any) -> DependencyOutputs:
    """What a dependent's key sees of a built dependency: its binary RPMs' names and digests."""
    return DependencyOutputs(name, tuple(sorted(
        (output.name, output.digest) for output in entry.outputs if output.kind == "rpm")))


def manifest_for(prepared: Prepared, name: str, dep_entries: Mapping[str, Any]) -> dict[str, Any]:
    """The input manifest of ``name``; ``dep_entries`` maps each dependency to its entry."""
    from hermetic.sandbox.profile import PROFILE_VERSION

    item = prepared.components[name]
    deps = sorted(prepared.graph.dependencies[name])
    missing = [dep for dep in deps if dep not in dep_entries]
    if missing:
        raise ValueError(f"{name}: outputs of {', '.join(missing)} are not known yet")
    return component_manifest(
        name=name,
        model=item.component.config.key_fields(),
        spec_name=item.spec_name,
        spec_digest=item.spec_digest,
        files={n: d for n, d in item.files.items() if n != item.spec_name},
        buildroot=prepared.buildroot.digest if prepared.buildroot else None,
        sandbox_profile=PROFILE_VERSION,
        arch=prepared.arch,
        toolchain=toolchain_inputs(item),
        dependencies=[dependency_outputs(dep, dep_entries[dep]) for dep in deps],
    )


@dataclass(frozen=True)
class PlanItem:
    name: str
    key: str | None
    plan: str        # cached | pull | build
    reason: str


def plan(prepared: Prepared, explain: bool = False,
         substituters: Any | None = None) -> list[PlanItem]:
    """What ``build`` would do for each selected component, without doing it.

    With ``substituters`` (``hermetic.remote.Substituters``), a component whose key a team cache
    holds a trusted entry for is planned ``pull``; its entry's outputs then key its dependents.
    """
    from hermetic.keys import diff_manifests

    store = prepared.store
    entries: dict[str, Any] = {}
    items: list[PlanItem] = []
    for name in prepared.selected:
        if prepared.buildroot is None:
            items.append(PlanItem(name, None, "build", "the buildroot does not exist yet"))
            continue
        waiting = sorted(dep for dep in prepared.graph.dependencies[name] if dep not in entries)
        if waiting:
            items.append(PlanItem(name, None, "build", f"waits for {', '.join(waiting)}"))
            continue
        manifest = manifest_for(prepared, name, entries)
        key = compute_key(manifest)
        entry = store.actions.get(key, record_use=False)
        if entry is not None:
            entries[name] = entry
            items.append(PlanItem(name, key, "cached", "a result for this key is in the store"))
            continue
        found = substituters.lookup(key) if substituters else None
        if found is not None:
            url, entries[name] = found
            items.append(PlanItem(name, key, "pull", f"a trusted result is in {url}"))
            continue
        reason = "no result for this key"
        latest = store.actions.latest(name)
        previous = store.actions.get(latest, record_use=False) if latest else None
        if previous is not None:
            changes = diff_manifests(previous.manifest, manifest)
            if changes:
                reason = "; ".join(changes) if explain else \
                    f"{changes[0]}" + (f" (+{len(changes) - 1} more)" if len(changes) > 1 else "")
        items.append(PlanItem(name, key, "build", reason))
    return items


@dataclass(frozen=True)
class Explanation:
    name: str
    verdict: str             # one line: cached / will rebuild because ... / never built
    changes: list[str]       # one line per differing input


def explain(prepared: Prepared) -> list[Explanation]:
    """Each selected component's manifest against the one stored with its latest result.

    A dependency that must rebuild first has unknown outputs; its latest stored outputs stand in
    for them, so the lines name what changed in the component itself, and the verdict says the
    dependency may change it further.
    """
    from hermetic.keys import diff_manifests

    store = prepared.store
    exact: dict[str, Any] = {}     # dependencies whose current key has a result
    latest: dict[str, Any] = {}    # latest stored result of each component, as a stand-in
    result: list[Explanation] = []
    for name in prepared.selected:
        key = store.actions.latest(name)
        previous = store.actions.get(key, record_use=False) if key else None
        if previous is not None:
            latest[name] = previous
        if prepared.buildroot is None:
            result.append(Explanation(name, "unknown: the buildroot does not exist yet", []))
            continue
        deps = prepared.graph.dependencies[name]
        pending = sorted(dep for dep in deps if dep not in exact)
        stand_ins = {dep: exact.get(dep) or latest.get(dep) for dep in deps}
        if any(entry is None for entry in stand_ins.values()):
            missing = sorted(dep for dep, entry in stand_ins.items() if entry is None)
            result.append(Explanation(name, f"will build after {', '.join(missing)} "
                                            "(never built)", []))
            continue
        manifest = manifest_for(prepared, name, stand_ins)
        current = compute_key(manifest)
        entry = store.actions.get(current, record_use=False) if not pending else None
        if entry is not None:
            exact[name] = entry
            result.append(Explanation(name, "cached: its inputs match a stored result", []))
            continue
        if previous is None:
            result.append(Explanation(name, "will build: never built in this store", []))
            continue
        changes = diff_manifests(previous.manifest, manifest)
        suffix = f" (and after {', '.join(pending)}, whose outputs may change)" if pending else ""
        if changes:
            verdict = f"will rebuild: {len(changes)} input(s) changed{suffix}"
        else:
            verdict = f"will rebuild only if {', '.join(pending)} change their RPMs" if pending \
                else "will rebuild: its result is missing from the store"
        result.append(Explanation(name, verdict, changes))
    return result
