"""``hermetic store verify``: re-hash the store, report and quarantine damage."""

from __future__ import annotations

import argparse


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("store", parents=[common], help="inspect and check the store")
    verbs = parser.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    verify = verbs.add_parser("verify", parents=[common],
                              help="re-hash every object, check every entry; quarantine damage")
    verify.set_defaults(handler=run)
    info = verbs.add_parser("path", parents=[common], help="print the store directory in use")
    info.set_defaults(handler=run)


def store_for(ctx):
    """The store this command acts on (``--store``, ``HERMETIC_STORE``, workspace, user cache)."""
    from hermetic.context import find_project_file
    from hermetic.store import Store

    project = find_project_file(ctx.cwd)
    return Store(ctx.store_path(project.parent if project else None))


def run(args, ctx) -> int:
    import json

    store = store_for(ctx)
    if args.store_command == "path":
        print(store.root)
        return 0

    from hermetic.errors import StoreError
    from hermetic.store.verify import verify_store

    report = verify_store(store)
    if ctx.json or getattr(args, "json", False):
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for damage in report.damage:
            print(f"damaged: {damage.line()}")
        verdict = "ok" if report.ok else f"{len(report.damage)} damaged item(s) quarantined"
        print(f"{store.root}: {report.objects} objects, {report.entries} entries, "
              f"{report.refs} refs checked: {verdict}")
    return 0 if report.ok else StoreError.exit_code
