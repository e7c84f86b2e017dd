"""Command-line entry point: global options, then one verb per module in ``hermetic.commands``.

Each command module exposes ``register(subparsers, common)`` which adds its parser and sets
``handler`` to a function ``(args, ctx) -> int``. Command modules import their heavy
dependencies inside the handler so that ``hermetic --help`` and cache hits start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from hermetic import __version__
from hermetic.context import Context
from hermetic.errors import HermeticError

# Order here is the order shown in --help.
COMMAND_MODULES = (
    "build",
    "show",
    "fetch",
    "render",
    "explain",
    "log",
    "config",
    "buildroot",
    "store",
    "gc",
    "sandbox",
    "signing",
    "serve", "push", "pull", "cache",
    "audit", "verify", "challenge", "provenance",
    "worker", "scheduler",
)


def _common_options() -> argparse.ArgumentParser:
    """Options accepted after any verb as well as before it."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output (JSON)")
    common.add_argument("--store", metavar="DIR", default=argparse.SUPPRESS,
                        help="store directory (default: $HERMETIC_STORE, the workspace's store/, "
                             "else the user cache)")
    return common


# Global options that take a value: the verb is the first other word.
_GLOBAL_VALUE_OPTIONS = frozenset({"-C", "--store"})


def requested_verb(argv: list[str]) -> str | None:
    """The verb ``argv`` names, if it is one of ours; found without importing any command."""
    words = iter(argv)
    for word in words:
        if word in _GLOBAL_VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMAND_MODULES else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every verb, or with just ``only``: the one being run need not pay for
    importing the others (start-up matters on the cache-hit path)."""
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="hermetic",
        description="Build RPM packages hermetically, reproducibly and only once.",
    )
    parser.add_argument("--version", action="version", version=f"hermetic {__version__}")
    parser.add_argument("-C", dest="directory", metavar="DIR",
                        help="run as if started in DIR")
    parser.add_argument("--json", action="store_true", default=False,
                        help="machine-readable output (JSON)")
    parser.add_argument("--store", metavar="DIR", default=None,
                        help="store directory (default: $HERMETIC_STORE, the workspace's store/, "
                             "else the user cache)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only else COMMAND_MODULES:
        try:
            module = importlib.import_module(f"hermetic.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"hermetic.commands.{name}":
                raise
            continue  # a verb not shipped in this build
        module.register(subparsers, common)
    return parser


def _print_error(error: HermeticError) -> None:
    print(f"hermetic: error: {error}", file=sys.stderr)
    if error.hint:
        print(f"hermetic: hint: {error.hint}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(requested_verb(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    if args.directory:
        try:
            os.chdir(args.directory)
        except OSError as exc:
            _print_error(HermeticError(f"-C {args.directory}: {exc.strerror}"))
            return 2
    ctx = Context(cwd=Path.cwd(), store_option=args.store, json=args.json)
    try:
        return int(args.handler(args, ctx) or 0)
    except HermeticError as error:
        _print_error(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("hermetic: interrupted", file=sys.stderr)
        return 130
