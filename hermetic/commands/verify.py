"""`hermetic verify PATH [NAMES…]`: rebuild and compare with the stored result (Nix's --check)."""

from __future__ import annotations

import argparse
import json

from hermetic.commands._common import add_path_arguments, open_store, resolve_path
from hermetic.context import Context


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "verify", parents=[common], help="rebuild and compare with the stored result",
        description="Rebuild each component (bypassing the cache; nothing is stored) and "
                    "compare its RPMs and SRPM with the stored entry for the same key. "
                    "Components never built are built normally first. Exit 0 when all match, "
                    "1 on a mismatch, 5 when a build fails.")
    add_path_arguments(parser)
    parser.add_argument("--timeout", type=float, metavar="S",
                        help="wall-clock limit of each rebuild, in seconds")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from hermetic.audit.check import check_lines, verify
    from hermetic.pipeline import prepare

    path = resolve_path(ctx, args.path)
    prepared = prepare(path, open_store(ctx, path), args.names)
    results = verify(prepared, args.names, timeout=args.timeout)
    return print_checks(results, ctx.json, "verify")


def print_checks(results: list, as_json: bool, event: str) -> int:
    from hermetic.audit.check import check_lines
    from hermetic.errors import BuildError

    if as_json:
        print(json.dumps({"event": event, "results": [r.to_dict() for r in results]},
                         sort_keys=True, default=str))
    else:
        for result in results:
            print("\n".join(check_lines(result)))
    if any(r.status == "mismatch" for r in results):
        return 1
    if any(r.status == "failed" for r in results):
        return BuildError.exit_code
    return 0
