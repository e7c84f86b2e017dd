"""`hermetic challenge PATH --cache URL…`: compare local results with remote caches (Guix's)."""

from __future__ import annotations

import argparse

from hermetic.commands._common import add_path_arguments, open_store, resolve_path
from hermetic.context import Context


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "challenge", parents=[common], help="compare local results with remote caches",
        description="For each component with a local result, ask every cache what it serves "
                    "under the same key: match, mismatch (explained like an audit) or not "
                    "available. Nothing is built. Exit 0 unless some cache serves different "
                    "outputs (1).")
    add_path_arguments(parser)
    parser.add_argument("--cache", action="append", required=True, metavar="URL",
                        help="a cache: http(s)://, file:///DIR or azure:// (repeatable)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from hermetic.audit.check import challenge
    from hermetic.commands.verify import print_checks
    from hermetic.pipeline import prepare
    from hermetic.remote import read_token

    path = resolve_path(ctx, args.path)
    prepared = prepare(path, open_store(ctx, path), args.names)
    results = challenge(prepared, args.cache, args.names, token=read_token())
    return print_checks(results, ctx.json, "challenge")
