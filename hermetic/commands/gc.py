"""``hermetic gc``: keep the roots, evict the least recently used rest down to a size."""

from __future__ import annotations

import argparse


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "gc", parents=[common],
        help="evict store entries and objects by last use (roots are kept)",
        description="Keeps the latest entry of every component and all it references; evicts "
                    "other entries, unreferenced objects and buildroots, least recently used "
                    "first, until the store is under --max-size (without it: everything "
                    "that is not a root). Removes stale files from tmp/.")
    parser.add_argument("--max-size", metavar="SIZE",
                        help="size target, e.g. 20G or 500M (binary units)")
    parser.add_argument("--dry-run", action="store_true", help="say what would go; remove nothing")
    parser.add_argument("--grace", metavar="SECONDS", type=int, default=None,
                        help="never evict what was used this recently (default: 3600)")
    parser.set_defaults(handler=run)


def _human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def run(args, ctx) -> int:
    import json

    from hermetic.commands.store import store_for
    from hermetic.store.gc import DEFAULT_GRACE_SECONDS, collect_garbage, parse_size

    store = store_for(ctx)
    max_size = parse_size(args.max_size) if args.max_size else None
    grace = DEFAULT_GRACE_SECONDS if args.grace is None else args.grace
    report = collect_garbage(store, max_size=max_size, dry_run=args.dry_run,
                             grace_seconds=grace)
    if ctx.json or getattr(args, "json", False):
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    verb = "would evict" if args.dry_run else "evicted"
    for item in report.evicted:
        print(f"{verb} {item.kind} {item.name} ({_human(item.size)})")
    print(f"{store.root}: {_human(report.size_before)} → {_human(report.size_after)}, "
          f"{len(report.evicted)} item(s) {verb}, {report.roots} root entr(y/ies) kept")
    return 0
