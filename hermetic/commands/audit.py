"""`hermetic audit PATH [NAMES…]`: rebuild under varied conditions; explain every difference."""

from __future__ import annotations

import argparse
import json

from hermetic.commands._common import add_path_arguments, open_store, resolve_path
from hermetic.context import Context

EXIT_UNREPRODUCIBLE = 1


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from hermetic.audit.variations import VARIATIONS

    parser = subparsers.add_parser(
        "audit", parents=[common], help="prove components reproducible (or show why not)",
        description="Build each component N times, bypassing the cache, with the conditions "
                    "below varied between rounds, and compare the outputs byte for byte: "
                    "RPMs, then header tags, then payload files. Exit 0 only when every output "
                    "is identical; 1 when some differ; 5 when a build fails.",
        epilog="variations: " + "; ".join(f"{k}: {v}" for k, v in VARIATIONS.items()))
    add_path_arguments(parser)
    parser.add_argument("--rounds", type=int, default=2, metavar="N",
                        help="builds per component (default: 2; round 0 is the baseline)")
    parser.add_argument("--vary", metavar="LIST",
                        help="comma list of variations, 'all' (default) or 'all,-NAME'")
    parser.add_argument("--report", metavar="DIR",
                        help="write audit.md, audit.html, audit.json, logs and differing RPMs")
    parser.add_argument("--timeout", type=float, metavar="S",
                        help="wall-clock limit of each build, in seconds")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from hermetic.audit import audit, parse_vary
    from hermetic.audit.report import terminal_text, write_report
    from hermetic.errors import BuildError
    from hermetic.events import make_renderer
    from hermetic.pipeline import prepare

    vary = parse_vary(args.vary)
    path = resolve_path(ctx, args.path)
    store = open_store(ctx, path)
    prepared = prepare(path, store, args.names)
    report_dir = resolve_path(ctx, args.report) if args.report else None
    renderer = make_renderer(True) if ctx.json else None
    report = audit(prepared, args.names, rounds=args.rounds, vary=vary, report_dir=report_dir,
                   renderer=renderer, timeout=args.timeout)
    if report_dir is not None:
        write_report(report, report_dir)
    if ctx.json:
        print(json.dumps({"event": "audit", **report.to_dict()}, sort_keys=True, default=str))
    else:
        print(terminal_text(report), end="")
    if any(c.status == "failed" for c in report.components):
        return BuildError.exit_code
    return 0 if report.ok else EXIT_UNREPRODUCIBLE
