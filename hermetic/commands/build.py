"""`hermetic build PATH [NAMES…]`: load → fetch → render → key → plan → build → capture."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from hermetic.commands._common import add_path_arguments, open_store, resolve_path, workspace_root
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
    parser.add_argument("--timeout", type=float, metavar="S",
                        help="wall-clock limit of each build, in seconds")
    parser.add_argument("--max-silent-time", type=float, metavar="S",
                        help="kill a build that prints nothing for S seconds")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from hermetic.builder import Builder, BuildSettings, failure_tail
    from hermetic.events import make_renderer
    from hermetic.graph import Graph, run_parallel
    from hermetic.pipeline import prepare

    if args.jobs < 1:
        raise HermeticError(f"-j {args.jobs}: the number of jobs must be at least 1")
    path = resolve_path(ctx, args.path)
    store = open_store(ctx, path)
    prepared = prepare(path, store, args.names, jobs=max(args.jobs, 4))
    root = workspace_root(path) or ctx.cwd
    out_dir = resolve_path(ctx, args.out) if args.out else root / "out"
    settings = BuildSettings(keep_failed=args.keep_failed, out_dir=out_dir,
                             timeout=args.timeout, max_silent_time=args.max_silent_time)
    renderer = make_renderer(ctx.json)
    builder = Builder(prepared, renderer, settings)
    subgraph = Graph({name: prepared.graph.dependencies[name] for name in prepared.selected})
    try:
        outcome = run_parallel(subgraph, args.jobs, builder.build_one)
    finally:
        renderer.close()
    for name, error in outcome.errors.items():
        raise error  # a bug, not a build failure: keep its traceback
    results = [builder.results.get(name) for name in prepared.selected]
    if args.repo and not outcome.failed:
        _write_repo(resolve_path(ctx, args.repo), [r for r in results if r is not None], store)

    summary = []
    for name in prepared.selected:
        result = builder.results.get(name)
        status = result.status if result else "skipped"
        summary.append({"name": name, "key": result.key if result else None, "status": status,
                        "outputs": [str(p) for p in result.outputs] if result else []})
    if ctx.json:
        print(json.dumps({"event": "summary", "components": summary}, sort_keys=True))
    else:
        for item in summary:
            if item["status"] in ("built", "cached", "pulled"):
                print(f"{item['name']}: {item['status']}")
                for output in item["outputs"]:
                    print(f"  {output}")
            elif item["status"] == "skipped":
                print(f"{item['name']}: skipped (a dependency failed)")
    for name in sorted(outcome.failed):
        result = builder.results[name]
        print(f"hermetic: error: {name}: {result.error}", file=sys.stderr)
        tail = failure_tail(result.log_path)
        if tail:
            print(f"--- last {len(tail)} lines of the build log of {name} ---", file=sys.stderr)
            for line in tail:
                print(line, file=sys.stderr)
        if result.log_path:
            print(f"hermetic: log: {result.log_path}", file=sys.stderr)
    return BuildError.exit_code if outcome.failed or outcome.skipped else 0


def _write_repo(repo: Path, results: list, store) -> None:
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
        raise HermeticError(f"createrepo_c {repo}: {error.stderr.strip().splitlines()[-1:]}")
