"""`hermetic log NAME [PATH]`: the build log of a component's latest build."""

from __future__ import annotations

import argparse
import shutil
import sys

from hermetic.commands._common import open_store, resolve_path
from hermetic.context import Context
from hermetic.errors import HermeticError


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "log", parents=[common], help="print a component's latest build log",
        description="Print the build log of NAME's latest build: a failure's log when the "
                    "latest attempt failed, else the log stored with its latest result.")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("path", nargs="?", default=".", metavar="PATH",
                        help="project directory or component file (selects the store)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    store = open_store(ctx, resolve_path(ctx, args.path))
    failed = store.root / "failed" / args.name / "build.log"
    key = store.actions.latest(args.name)
    entry = store.actions.get(key, record_use=False) if key else None
    stored = None
    if entry is not None:
        stored = next((o for o in entry.outputs if o.kind == "log"), None)
    ref_time = store.actions.ref_path(args.name).stat().st_mtime if key else 0.0
    if failed.exists() and (stored is None or failed.stat().st_mtime > ref_time):
        source = failed
    elif stored is not None:
        source = store.objects.path(stored.digest)
    else:
        raise HermeticError(f"no build log for {args.name} in {store.root}",
                            hint="`hermetic build` it first")
    with open(source, "rb") as handle:
        shutil.copyfileobj(handle, sys.stdout.buffer)
    return 0
