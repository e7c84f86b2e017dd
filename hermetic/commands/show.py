"""`hermetic show PATH [NAMES…] [--json]`: each component with its key and plan."""

from __future__ import annotations

import argparse
import json

from hermetic.commands._common import add_path_arguments, cache_settings, open_store, resolve_path
from hermetic.context import Context


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "show", parents=[common], help="list components with their keys and plans",
        description="List each component with its key and plan (cached, pull or build). "
                    "Fetches inputs, never builds or creates a buildroot.")
    add_path_arguments(parser)
    parser.add_argument("--substituter", action="append", default=[], metavar="URL",
                        help="also look for trusted results in this team cache (plan: pull)")
    parser.add_argument("--trusted-key", action="append", default=[], metavar="NAME:BASE64",
                        help="trust cached entries signed by this public key (repeatable)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from hermetic.pipeline import plan, prepare

    path = resolve_path(ctx, args.path)
    store = open_store(ctx, path)
    prepared = prepare(path, store, args.names, ensure_buildroot=False)
    cache = cache_settings(ctx, path, substituters=args.substituter,
                           trusted_keys=args.trusted_key)
    items = plan(prepared, substituters=cache.open_substituters())
    if ctx.json:
        print(json.dumps([{"name": item.name, "key": item.key, "plan": item.plan,
                           "reason": item.reason,
                           "depends": sorted(prepared.graph.dependencies[item.name])}
                          for item in items], indent=2))
        return 0
    width = max((len(item.name) for item in items), default=4)
    for item in items:
        key = item.key[:16] if item.key else "-" * 16
        print(f"{item.name:<{width}}  {key}  {item.plan:<6}  {item.reason}")
    return 0
