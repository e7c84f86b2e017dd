"""``hermetic buildroot create|import|list``: manage content-addressed buildroots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("buildroot", parents=[common],
                                   help="create, import and list buildroots")
    actions = parser.add_subparsers(dest="buildroot_action", metavar="ACTION", required=True)

    create = actions.add_parser("create", parents=[common],
                                help="create an rpm buildroot from Debian packages (mmdebstrap)")
    create.add_argument("name")
    create.add_argument("--debian", metavar="SUITE", default="bookworm",
                        help="Debian suite (default: bookworm)")
    create.add_argument("--include", metavar="PKGS", action="append", default=[],
                        help="extra packages, comma-separated (added to the rpm build set)")
    create.add_argument("--only", action="store_true",
                        help="install only --include packages, not the default rpm build set")
    create.add_argument("--mirror", metavar="URL", default=None, help="Debian mirror URL")

    importer = actions.add_parser("import", parents=[common],
                                  help="import a root filesystem directory or tarball")
    importer.add_argument("path")
    importer.add_argument("--name", required=True)

    actions.add_parser("list", parents=[common], help="list stored buildroots")
    parser.set_defaults(handler=run)


def _describe(buildroot, meta: dict) -> dict:
    return {"name": buildroot.name, "digest": buildroot.digest, "kind": buildroot.kind,
            "path": str(buildroot.path) if buildroot.path else None,
            "impure": buildroot.impure,
            **{key: meta[key] for key in ("suite", "include", "source") if key in meta}}


def run(args: argparse.Namespace, ctx) -> int:
    from hermetic import buildroot as buildroots
    from hermetic.context import find_project_file

    project_file = find_project_file(ctx.cwd)
    store_root = ctx.store_path(project_file.parent if project_file else None)
    want_json = ctx.json or getattr(args, "json", False)

    if args.buildroot_action == "list":
        rows = [_describe(b, buildroots.read_meta(store_root, b.digest))
                for b in buildroots.list_buildroots(store_root)]
        if want_json:
            print(json.dumps(rows, indent=2))
        elif not rows:
            print(f"no buildroots in {store_root}")
        else:
            for row in rows:
                detail = row.get("suite") or row.get("source") or ""
                print(f"{row['name'] or '(unnamed)':24} {row['kind']:8} {row['digest'][:16]}  "
                      f"{detail}")
        return 0

    if args.buildroot_action == "create":
        extra = [p.strip() for chunk in args.include for p in chunk.split(",") if p.strip()]
        include = extra if args.only else sorted(set(buildroots.RPM_BUILD_SET) | set(extra))
        result = buildroots.create(store_root, args.name, args.debian, include, args.mirror)
    else:
        result = buildroots.import_tree(store_root, Path(args.path), args.name)
    row = _describe(result, buildroots.read_meta(store_root, result.digest))
    if want_json:
        print(json.dumps(row, indent=2))
    else:
        print(f"{result.name}: {result.digest} ({result.kind}) at {result.path}")
    return 0
