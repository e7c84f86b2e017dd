"""``hermetic render PATH [NAMES…] [--out DIR] [--diff]``: the final spec and files, or the diff.

Writes ``DIR/<component>/`` with the rendered spec and every file the build will see (default
``./out/render``), or with ``--diff`` prints the unified diff the overlays make. Fetches what is
not in the store yet (the only network use).
"""

from __future__ import annotations

import argparse


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "render", parents=[common],
        help="apply overlays: write the final spec and files, or show their diff")
    parser.add_argument("path", nargs="?", default=".", metavar="PATH",
                        help="project directory, project file or *.comp.toml (default: .)")
    parser.add_argument("names", nargs="*", metavar="NAME", help="components (default: all)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output directory (default: ./out/render)")
    parser.add_argument("--diff", action="store_true",
                        help="print the unified diff overlays make instead of writing files")
    parser.set_defaults(handler=run)


def run(args, ctx) -> int:
    import json
    import sys
    from pathlib import Path

    from hermetic.fetch import fetch_workspace
    from hermetic.model.loader import load_workspace
    from hermetic.render import render_component, render_diff
    from hermetic.render.output import write_rendered
    from hermetic.store import Store

    workspace = load_workspace((ctx.cwd / args.path))
    store = Store(ctx.store_path(workspace.root if workspace.project_file else None))
    fetched = fetch_workspace(workspace, store, args.names or None)
    rendered = {name: render_component(workspace.components[name], item, store)
                for name, item in fetched.items()}
    as_json = ctx.json or getattr(args, "json", False)

    if args.diff:
        diffs = {name: render_diff(fetched[name], item, store) for name, item in rendered.items()}
        if as_json:
            print(json.dumps(diffs, indent=2, sort_keys=True))
        else:
            sys.stdout.write("".join(diffs[name] for name in sorted(diffs)))
        return 0

    out = Path(args.out) if args.out else ctx.cwd / "out" / "render"
    if not out.is_absolute():
        out = ctx.cwd / out
    summary = {}
    for name, item in sorted(rendered.items()):
        directory = write_rendered(item, store, out / name)
        summary[name] = {"dir": str(directory), "spec": item.spec_name,
                         "spec_digest": item.spec_digest, "changed": list(item.changed),
                         "removed": list(item.removed)}
    if as_json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        for name, info in summary.items():
            changed = ", ".join(info["changed"]) or "nothing"
            print(f"{name}: {info['dir']} (overlays changed {changed})")
    return 0
