"""``hermetic pull URL PATH [NAMES…]``: fetch trusted results for PATH's components."""

from __future__ import annotations

import argparse


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "pull", parents=[common], help="fetch results from a team binary cache",
        description="Compute the key of each component of PATH and fetch its result from URL "
                    "when a trusted, intact one exists there. Nothing is built.")
    parser.add_argument("url", metavar="URL", help="http(s)://, file:///DIR or azure://…")
    parser.add_argument("path", nargs="?", default=".", metavar="PATH",
                        help="project directory or component file (default: .)")
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these components")
    parser.add_argument("--trusted-key", action="append", default=[], metavar="NAME:BASE64",
                        help="trust entries signed by this public key (repeatable; adds to "
                             "[cache] trusted-keys)")
    parser.add_argument("--token-file", metavar="F", help="token for caches that require one")
    parser.add_argument("--buildroot", metavar="DIGEST",
                        help="pull this buildroot (by tree digest) instead of results")
    parser.add_argument("--name", metavar="NAME",
                        help="with --buildroot: the local name to give it (default: the "
                             "pusher's name)")
    parser.set_defaults(handler=run)


def run(args, ctx) -> int:
    import json
    import sys

    from hermetic.commands._common import resolve_path, workspace_root
    from hermetic.context import find_project_file
    from hermetic.errors import ConfigError, HermeticError
    from hermetic.remote import Substituters, open_remote, read_token
    from hermetic.remote.config import apply_flags, load_cache_config
    from hermetic.store import Store

    path = resolve_path(ctx, args.path)
    project_root = workspace_root(path)
    project_file = find_project_file(project_root) if project_root else None
    settings = apply_flags(load_cache_config(project_file), trusted_keys=args.trusted_key,
                           token_file=args.token_file, cwd=ctx.cwd)
    store = Store(ctx.store_path(project_root))
    remote = open_remote(args.url, read_token(settings.token_file))

    if args.buildroot:
        from hermetic.remote import pull_buildroot
        try:
            buildroot = pull_buildroot(store.root, args.buildroot, remote, args.name)
        finally:
            remote.close()
        if buildroot is None:
            raise HermeticError(f"{args.url} has no buildroot {args.buildroot}")
        print(f"pulled buildroot {buildroot.digest} as {buildroot.name!r}")
        return 0

    if not settings.trusted_keys:
        print("hermetic: warning: no trusted keys (--trusted-key or [cache] trusted-keys): "
              "every entry will be rejected", file=sys.stderr)
    from hermetic.keys import compute_key
    from hermetic.pipeline import manifest_for, prepare

    prepared = prepare(path, store, args.names, ensure_buildroot=False)
    if prepared.buildroot is None:
        raise ConfigError(f"buildroot {prepared.workspace.buildroot.name!r} is not in the store, "
                          "so no key can be computed",
                          hint="pull it first: hermetic pull URL --buildroot DIGEST --name NAME")
    substituters = Substituters([(remote, 0)], settings.trusted_keys)
    entries: dict = {}
    statuses: dict[str, str] = {}
    for name in prepared.selected:
        deps = prepared.graph.dependencies[name]
        if any(dep not in entries for dep in deps):
            statuses[name] = "unknown (a dependency is missing)"
            continue
        key = compute_key(manifest_for(prepared, name, entries))
        entry = store.actions.get(key)
        if entry is not None:
            statuses[name] = "cached"
        else:
            entry = substituters.pull(store, key)
            statuses[name] = "pulled" if entry is not None else "missing"
        if entry is not None:
            entries[name] = entry
    substituters.close()
    if ctx.json:
        print(json.dumps({"components": statuses}, sort_keys=True))
    else:
        for name, status in statuses.items():
            print(f"{name}: {status}")
    return 0 if all(s in ("cached", "pulled") for s in statuses.values()) else 7
