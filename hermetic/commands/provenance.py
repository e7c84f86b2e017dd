"""`hermetic provenance PATH [NAMES…]`: the signed in-toto / SLSA v1 provenance of stored results."""

from __future__ import annotations

import argparse
import json

from hermetic.commands._common import add_path_arguments, open_store, resolve_path
from hermetic.context import Context


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "provenance", parents=[common], help="print signed SLSA provenance of built components",
        description="Print, for each component with a stored result, an in-toto Statement v1 "
                    "with a SLSA Provenance v1 predicate in a DSSE envelope signed with the "
                    "store's key (one JSON document per line). Nothing is built.")
    add_path_arguments(parser)
    parser.add_argument("--statement", action="store_true",
                        help="print the bare statements, unsigned and indented")
    parser.add_argument("--out", metavar="DIR",
                        help="also write each envelope to DIR/<key>.intoto.json")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    from hermetic.audit.check import stored_entries
    from hermetic.audit.provenance import provenance_for, sign_statement, write_provenance
    from hermetic.errors import BuildError
    from hermetic.pipeline import prepare

    path = resolve_path(ctx, args.path)
    store = open_store(ctx, path)
    prepared = prepare(path, store, args.names)
    missing = []
    for name, key, entry in stored_entries(prepared, args.names):
        if entry is None:
            missing.append(name)
            continue
        statement = provenance_for(entry, prepared.components[name], store=store)
        if args.statement:
            print(json.dumps(statement, indent=2, sort_keys=True))
        else:
            print(json.dumps(sign_statement(statement, store.local_secret_key()),
                             sort_keys=True))
        if args.out:
            write_provenance(store, entry, resolve_path(ctx, args.out))
    for name in missing:
        print(f"hermetic: error: {name}: no stored result for its current key "
              "(run `hermetic build` first)", file=sys.stderr)
    return BuildError.exit_code if missing else 0
