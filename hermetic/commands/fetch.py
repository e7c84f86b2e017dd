"""``hermetic fetch PATH [NAMES…] [--jobs N] [--json]``: bring every input into the store.

The only command that needs the network (besides creating a buildroot). Each component's spec,
patches and sources are verified against their declared digests and stored by blake3; what the
store already holds is not downloaded again. Prints one line per component.
"""

from __future__ import annotations

import argparse


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "fetch", parents=[common],
        help="fetch and verify specs, patches and sources into the store")
    parser.add_argument("path", nargs="?", default=".", metavar="PATH",
                        help="project directory, project file or *.comp.toml (default: .)")
    parser.add_argument("names", nargs="*", metavar="NAME", help="components (default: all)")
    parser.add_argument("-j", "--jobs", type=int, default=4, metavar="N",
                        help="components fetched in parallel (default: 4)")
    parser.set_defaults(handler=run)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def run(args, ctx) -> int:
    import json

    from hermetic.fetch import fetch_workspace
    from hermetic.model.loader import load_workspace
    from hermetic.store import Store

    workspace = load_workspace(ctx.cwd / args.path)
    store = Store(ctx.store_path(workspace.root if workspace.project_file else None))
    fetched = fetch_workspace(workspace, store, args.names or None, jobs=args.jobs)

    if ctx.json or getattr(args, "json", False):
        print(json.dumps([{
            "name": item.name,
            "spec": item.spec_name,
            "files": item.files,
            "upstream_commit": item.upstream_commit,
            "downloaded_files": item.stats.downloaded_files,
            "downloaded_bytes": item.stats.downloaded_bytes,
            "reused_files": item.stats.reused_files,
            "reused_bytes": item.stats.reused_bytes,
            "local_files": item.stats.local_files,
            "local_bytes": item.stats.local_bytes,
        } for item in fetched.values()], indent=2, sort_keys=True))
        return 0
    width = max((len(name) for name in fetched), default=0)
    for name, item in fetched.items():
        stats = item.stats
        origin = f" @ {item.upstream_commit[:12]}" if item.upstream_commit else ""
        print(f"{name:<{width}}  {len(item.files)} files{origin}  "
              f"fetched {stats.downloaded_files} ({_size(stats.downloaded_bytes)}), "
              f"reused {stats.reused_files} ({_size(stats.reused_bytes)}), "
              f"local {stats.local_files} ({_size(stats.local_bytes)})")
    return 0
