"""``hermetic signing``: make Ed25519 key pairs and show the store's own public key."""

from __future__ import annotations

import argparse


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("signing", parents=[common], help="signing keys for entries")
    verbs = parser.add_subparsers(dest="signing_command", metavar="ACTION", required=True)
    generate = verbs.add_parser(
        "generate-key", parents=[common],
        help="write NAME.secret (mode 0600) and NAME.public (NAME:BASE64)")
    generate.add_argument("name", metavar="NAME", help="key name, e.g. cache.example.org-1")
    generate.add_argument("--dir", default=".", metavar="DIR",
                          help="directory to write the two files to (default: .)")
    generate.set_defaults(handler=run)
    local = verbs.add_parser("local-key", parents=[common],
                             help="print the store's own public key (created on first use)")
    local.set_defaults(handler=run)


def run(args, ctx) -> int:
    if args.signing_command == "local-key":
        from hermetic.commands.store import store_for
        print(store_for(ctx).local_public_key().text())
        return 0

    from pathlib import Path

    from hermetic.signing import write_key_pair
    directory = Path(args.dir)
    if not directory.is_absolute():
        directory = ctx.cwd / directory
    secret_path, public_path = write_key_pair(args.name, directory)
    print(f"wrote {secret_path} (keep it secret) and {public_path}:")
    print(public_path.read_text().strip())
    return 0
