"""``hermetic cache info URL``: what a remote cache says about itself."""

from __future__ import annotations

import argparse


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("cache", parents=[common], help="inspect a team binary cache")
    verbs = parser.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    info = verbs.add_parser("info", parents=[common],
                            help="reachability and details of a cache URL")
    info.add_argument("url", metavar="URL", help="http(s)://, file:///DIR or azure://…")
    info.add_argument("--token-file", metavar="F", help="token for caches that require one")
    info.set_defaults(handler=run)


def run(args, ctx) -> int:
    import json

    from hermetic.remote import open_remote, read_token

    remote = open_remote(args.url, read_token(args.token_file))
    try:
        details = remote.info()
    finally:
        remote.close()
    if ctx.json:
        print(json.dumps(details, sort_keys=True, default=str))
    else:
        for name, value in details.items():
            print(f"{name}: {value}")
    return 0 if details.get("reachable") else 7
