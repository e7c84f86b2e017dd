"""``hermetic push URL [PATH [NAMES…]]``: upload stored results (and buildroots) to a cache."""

from __future__ import annotations

import argparse


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "push", parents=[common], help="upload results to a team binary cache",
        description="Upload the latest stored result of each component of PATH (or, without "
                    "PATH, every entry in the store) to URL: missing objects first, then the "
                    "entries.")
    parser.add_argument("url", metavar="URL", help="http(s)://, file:///DIR or azure://…")
    parser.add_argument("path", nargs="?", default=None, metavar="PATH",
                        help="project directory or component file (default: the whole store)")
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these components")
    parser.add_argument("--token-file", metavar="F",
                        help="write token (default: [cache] token-file, $HERMETIC_CACHE_TOKEN)")
    parser.add_argument("--secret-key", metavar="FILE",
                        help="also sign the entries with this key (NAME.secret)")
    parser.add_argument("--force", action="store_true",
                        help="push results built on an impure (host) buildroot too")
    parser.add_argument("--buildroot", metavar="NAME|DIGEST",
                        help="push this stored buildroot instead of results")
    parser.set_defaults(handler=run)


def run(args, ctx) -> int:
    import sys

    from hermetic.commands._common import resolve_path, workspace_root
    from hermetic.context import find_project_file
    from hermetic.remote import RemoteError, Uploader, open_remote, read_token
    from hermetic.remote.config import apply_flags, load_cache_config
    from hermetic.store import Store

    path = resolve_path(ctx, args.path) if args.path else None
    project_root = workspace_root(path) if path else workspace_root(ctx.cwd)
    project_file = find_project_file(project_root) if project_root else None
    settings = apply_flags(load_cache_config(project_file), secret_key=args.secret_key,
                           token_file=args.token_file, cwd=ctx.cwd)
    store = Store(ctx.store_path(project_root))
    token = read_token(settings.token_file)

    if args.buildroot:
        return _push_buildroot(args, store, open_remote(args.url, token))

    if path is None:
        keys = list(store.actions.keys())
    else:
        from hermetic.model import load_workspace
        workspace = load_workspace(path)
        names = args.names or list(workspace.selected or workspace.components)
        keys = []
        for name in names:
            key = store.latest(name)
            if key is None:
                print(f"hermetic: warning: {name}: nothing stored yet; build it first",
                      file=sys.stderr)
            else:
                keys.append(key)
    from hermetic.signing import load_secret_key
    secret = load_secret_key(settings.secret_key) if settings.secret_key else None
    uploader = Uploader([open_remote(args.url, token)], secret_key=secret, force=args.force,
                        workers=4)
    for key in keys:
        uploader.submit(store, key)
    failures = uploader.close()
    for line in uploader.skipped:
        print(f"hermetic: skipped {line}", file=sys.stderr)
    for line in failures:
        print(f"hermetic: error: {line}", file=sys.stderr)
    print(f"pushed {len(uploader.pushed)} of {len(keys)} entries "
          f"({uploader.objects_uploaded} objects uploaded) to {args.url}")
    return RemoteError.exit_code if failures else 0


def _push_buildroot(args, store, remote) -> int:
    import re

    from hermetic.buildroot import lookup
    from hermetic.errors import ConfigError
    from hermetic.remote import push_buildroot

    name = None
    if re.fullmatch(r"[0-9a-f]{64}", args.buildroot):
        digest = args.buildroot
    else:
        found = lookup(store.root, args.buildroot)
        if found is None:
            raise ConfigError(f"no buildroot named {args.buildroot!r} in {store.root}",
                              hint="`hermetic buildroot list` shows the stored buildroots")
        digest, name = found.digest, found.name
    try:
        record = push_buildroot(store.root, digest, [remote], name=name)
    finally:
        remote.close()
    print(f"pushed buildroot {digest} ({record.size} bytes as tarball {record.tarball[:16]}…) "
          f"to {args.url}")
    return 0
