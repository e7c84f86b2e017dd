"""`hermetic explain PATH [NAMES…]`: why each component will (or will not) rebuild."""

from __future__ import annotations

import argparse
import json

from hermetic.commands._common import add_path_arguments, open_store, resolve_path
from hermetic.context import Context


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "explain", parents=[common], help="why each component will rebuild",
        description="Compare each component's input manifest with the one stored with its "
                    "latest result, one line per input that differs.")
    add_path_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from hermetic.pipeline import explain, prepare

    path = resolve_path(ctx, args.path)
    prepared = prepare(path, open_store(ctx, path), args.names, ensure_buildroot=False)
    explanations = explain(prepared)
    if ctx.json:
        print(json.dumps([e.__dict__ for e in explanations], indent=2))
        return 0
    for item in explanations:
        print(f"{item.name}: {item.verdict}")
        for change in item.changes:
            print(f"  {change}")
    return 0
