"""`hermetic build PATH [NAMES…]`: load → fetch → render → key → plan → build → capture."""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from hermetic.commands._common import (add_path_arguments, cache_settings, open_store,
                                       resolve_path, workspace_root)
from hermetic.context import Context
from hermetic.errors import BuildError, HermeticError


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "build", parents=[common], help="build components (reusing cached results)",
        description="Build the components PATH designates and their dependencies, each in the "
                    "sandbox, reusing every result the store already holds for its key.")
    add_path_arguments(parser)
    parser.add_argument("-j", "--jobs", type=int, default=2, metavar="N",
                        help="independent components to build at once (default: 2)")
    parser.add_argument("--keep-failed", action="store_true",
                        help="keep the build tree of a failed build under <store>/failed/NAME")
    parser.add_argument("--out", metavar="DIR",
                        help="check the RPMs out here (default: out/ in the workspace)")
    parser.add_argument("--repo", metavar="DIR",
                        help="also gather every RPM in DIR with createrepo_c metadata for dnf")
    parser.add_argument("--fail-fast", action="store_true",
                        help="on the first failure start nothing new and kill running builds "
                             "(default: independent components still build)")
    parser.add_argument("--timeout", type=float, metavar="S",
                        help="wall-clock limit of each build, in seconds")
    parser.add_argument("--max-silent-time", type=float, metavar="S",
                        help="kill a build that prints nothing for S seconds")
    dist = parser.add_argument_group("distributed builds (see docs/distributed.md)")
    dist.add_argument("--executor", default="local", metavar="KIND",
                      help="local (default), dask (a cluster at --scheduler) or dask-local:N "
                           "(a cluster of N workers started for this run)")
    dist.add_argument("--scheduler", metavar="ADDR",
                      help="Dask scheduler for --executor dask (default: $HERMETIC_SCHEDULER)")
    cache = parser.add_argument_group("team cache (see docs/cache.md)")
    cache.add_argument("--substituter", action="append", default=[], metavar="URL",
                       help="pull results from this cache before building (repeatable; tried "
                            "before [cache] substituters)")
    cache.add_argument("--push", action="append", default=[], metavar="URL",
                       help="upload every result to this cache in the background (repeatable)")
    cache.add_argument("--trusted-key", action="append", default=[], metavar="NAME:BASE64",
                       help="trust cached entries signed by this public key (repeatable)")
    cache.add_argument("--secret-key", metavar="FILE",
                       help="sign pushed entries with this key (NAME.secret) too")
    cache.add_argument("--token-file", metavar="F",
                       help="cache write token (default: $HERMETIC_CACHE_TOKEN)")
    cache.add_argument("--no-build", action="store_true",
                       help="never build: a component with no local or cached result fails")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.jobs < 1:
        raise HermeticError(f"-j {args.jobs}: the number of jobs must be at least 1")
    from hermetic.distributed.security import parse_executor
    args.executor = parse_executor(args.executor)
    agent = None
    if args.executor.kind != "local":
        from hermetic.distributed.link import AgentLink
        agent = AgentLink.spawn(args.executor.kind)  # it imports Dask while we plan
    try:
        return _run(args, ctx, agent)
    finally:
        if agent is not None:
            agent.close()


def _run(args: argparse.Namespace, ctx: Context, agent: Any) -> int:
    path = resolve_path(ctx, args.path)
    store = open_store(ctx, path)
    root = workspace_root(path) or ctx.cwd
    out_dir = resolve_path(ctx, args.out) if args.out else root / "out"
    cache = _cache_settings(args, ctx, path)
    uploader = cache.open_uploader()
    results: list[Any] = []
    try:
        results = _unchanged(store, path, args.names, out_dir, ctx.json)  # type: ignore[assignment]
        if results is None:
            results, failed = _build(args, ctx, store, path, out_dir, cache, uploader, agent)
        else:
            failed = False
    finally:
        push_failures = _finish_uploads(uploader, store, results or [])
    if args.repo and not failed:
        _write_repo(resolve_path(ctx, args.repo), results, store)
    _report(results, ctx.json)
    if failed:
        return BuildError.exit_code
    if push_failures:
        from hermetic.remote import RemoteError
        return RemoteError.exit_code
    return 0


def _cache_settings(args: argparse.Namespace, ctx: Context, path: Path) -> Any:
    return cache_settings(ctx, path, substituters=args.substituter, push=args.push,
                          trusted_keys=args.trusted_key, secret_key=args.secret_key,
                          token_file=args.token_file)


def _finish_uploads(uploader: Any, store: Any, results: list[Any]) -> list[str]:
    """Push what was not built here (cached, pulled), wait for every upload, report failures."""
    if uploader is None:
        return []
    for result in results:
        if result.status in ("cached", "pulled") and result.key:
            uploader.submit(store, result.key)
    failures = uploader.close()
    for line in uploader.skipped:
        print(f"hermetic: warning: push skipped {line}", file=sys.stderr)
    for line in failures:
        print(f"hermetic: error: push: {line}", file=sys.stderr)
    return failures


def _unchanged(store: Any, path: Path, names: list[str], out_dir: Path,
               json_output: bool) -> list[Any] | None:
    """The fast path: every component cached and nothing read since has changed."""
    from hermetic import fastpath

    recorded = fastpath.lookup(store, path, names)
    if recorded is None:
        return None
    from hermetic.builder import ComponentResult, check_out
    from hermetic.events import ComponentEvent, make_renderer

    entries = [(name, key, store.actions.get(key)) for name, key in recorded.components]
    if any(entry is None for _, _, entry in entries):
        return None  # evicted by gc meanwhile: take the full path
    renderer = make_renderer(json_output)
    results = []
    try:
        for name, key, entry in entries:
            outputs = check_out(store, entry, out_dir)
            results.append(ComponentResult(name, key, "cached", outputs=outputs, entry=entry))
            renderer.emit(ComponentEvent(name, "cached", key=key,
                                         detail="no input changed since the last build"))
    finally:
        renderer.close()
    return results


def _build(args: argparse.Namespace, ctx: Context, store: Any, path: Path,
           out_dir: Path, cache: Any = None, uploader: Any = None,
           agent: Any = None) -> tuple[list[Any], bool]:
    from hermetic.builder import Builder, BuildSettings, ComponentResult
    from hermetic.events import make_renderer
    from hermetic.graph import Graph, critical_path_priorities, run_parallel
    from hermetic.pipeline import prepare

    if args.executor.kind == "local":
        from hermetic.sandbox import warm_up

        warm_up()  # the sandbox server starts while the pipeline loads, fetches and renders
    with _executor(args, ctx, store, cache, agent) as dask:  # its agent reaches the cluster
        substituters = cache.open_substituters() if cache else None
        prepared = prepare(path, store, args.names, jobs=max(args.jobs, 4),
                           substituters=substituters)
        settings = BuildSettings(keep_failed=args.keep_failed, out_dir=out_dir,
                                 timeout=args.timeout, max_silent_time=args.max_silent_time,
                                 substituters=substituters, uploader=uploader,
                                 no_build=getattr(args, "no_build", False),
                                 fail_fast=getattr(args, "fail_fast", False),
                                 stop=threading.Event())
        renderer = make_renderer(ctx.json)
        builder = Builder(prepared, renderer, settings)
        subgraph = Graph({name: prepared.graph.dependencies[name]
                          for name in prepared.selected})
        try:
            if dask is None:
                outcome = run_parallel(subgraph, args.jobs, builder.build_one,
                                       stop=settings.stop,
                                       priority=critical_path_priorities(subgraph))
            else:  # only what no store or cache holds is submitted (docs/distributed.md)
                outcome = dask.run(prepared, subgraph, builder, renderer)
        finally:
            renderer.close()
    for error in outcome.errors.values():
        raise error  # a bug, not a build failure: keep its traceback
    results = [builder.results.get(name) or ComponentResult(name, None, "skipped")
               for name in prepared.selected]
    failed = bool(outcome.failed or outcome.skipped)
    if not failed:
        _remember(prepared, store, path, args.names, out_dir, results)
    return results, failed


def _executor(args: argparse.Namespace, ctx: Context, store: Any, cache: Any,
              agent: Any) -> Any:
    """The Dask executor of ``--executor dask|dask-local:N`` (a context manager) talking to
    the already spawned ``agent``, or a null context for local builds."""
    if args.executor.kind == "local":
        return contextlib.nullcontext()
    from hermetic.distributed.client import DaskExecutor
    from hermetic.distributed.security import tls_files
    return DaskExecutor(store, cache, args.executor, scheduler=args.scheduler,
                        tls=tls_files(cwd=ctx.cwd), timeout=args.timeout,
                        max_silent_time=args.max_silent_time, link=agent)


def _remember(prepared: Any, store: Any, path: Path, names: list[str], out_dir: Path,
              results: list[Any]) -> None:
    """Record the keys for the fast path, with every place the pipeline read from."""
    from hermetic import fastpath

    workspace = prepared.workspace
    if workspace.buildroot.type == "host":
        return  # the host's digest follows its installed packages, which no stat here sees
    roots = {workspace.root}
    for component in workspace.components.values():
        spec = component.config.spec
        if spec.type == "upstream" and not spec.upstream_commit:
            return  # a branch head can move without any local file changing
        if component.spec_path is not None:
            roots.add(component.spec_path.parent)
        for bound in component.overlays:
            if bound.source_path is not None:
                roots.add(bound.source_path.parent)
    roots = {r for r in roots if not any(o != r and o in r.parents for o in roots)}
    fastpath.record(store, path, names, roots=sorted(roots), files=workspace.files,
                    skip=[store.root, out_dir], buildroot_name=workspace.buildroot.name,
                    components=[(r.name, r.key) for r in results])


def _report(results: list[Any], json_output: bool) -> None:
    from hermetic.builder import failure_tail

    summary = [{"name": r.name, "key": r.key, "status": r.status,
                "outputs": [str(p) for p in r.outputs]} for r in results]
    if json_output:
        print(json.dumps({"event": "summary", "components": summary}, sort_keys=True))
    else:
        for item in summary:
            if item["status"] in ("built", "cached", "pulled"):
                print(f"{item['name']}: {item['status']}")
                for output in item["outputs"]:
                    print(f"  {output}")
            elif item["status"] == "skipped":
                print(f"{item['name']}: skipped (a dependency failed)")
    for result in results:
        if result.status != "failed":
            continue
        print(f"hermetic: error: {result.name}: {result.error}", file=sys.stderr)
        tail = failure_tail(result.log_path)
        if tail:
            print(f"--- last {len(tail)} lines of the build log of {result.name} ---",
                  file=sys.stderr)
            for line in tail:
                print(line, file=sys.stderr)
        if result.log_path:
            print(f"hermetic: log: {result.log_path}", file=sys.stderr)


def _write_repo(repo: Path, results: list[Any], store: Any) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    for result in results:
        if result.entry is None:
            continue
        for output in result.entry.outputs:
            if output.kind in ("rpm", "srpm"):
                store.objects.link_to(output.digest, repo / output.name)
    try:
        subprocess.run(["createrepo_c", "--quiet", "--update", str(repo)], check=True,
                       capture_output=True, text=True)
    except FileNotFoundError:
        raise HermeticError("--repo needs createrepo_c", hint="apt-get install createrepo-c")
    except subprocess.CalledProcessError as error:
        raise HermeticError(f"createrepo_c {repo}: {error.stderr.strip()}")
