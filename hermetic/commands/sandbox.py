"""``hermetic sandbox run|check|profile``: the build sandbox, for debugging and scripting."""

from __future__ import annotations

import argparse
import json
import sys

from hermetic.errors import ConfigError


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("sandbox", parents=[common],
                                   help="run a command in the build sandbox (like bwrap)")
    verbs = parser.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND", required=True)

    run = verbs.add_parser("run", parents=[common], help="run CMD in a fresh sandbox",
                           description="Run CMD with no network, a read-only root and the "
                                       "build seccomp profile. Exits with CMD's status.")
    run.add_argument("--root", metavar="DIR",
                     help="read-only root tree (default: the host's /usr, /etc, ... read-only)")
    run.add_argument("--overlay-upper", metavar="DIR",
                     help="make --root the overlay lower layer and DIR the writable upper")
    run.add_argument("--bind", metavar="SRC:DST[:ro]", action="append", default=[],
                     help="bind SRC at DST, writable unless ':ro' is given (repeatable)")
    run.add_argument("--ro-bind", metavar="SRC:DST", action="append", default=[],
                     help="bind SRC at DST read-only (repeatable)")
    run.add_argument("--chdir", metavar="DIR", default="/", help="working directory inside")
    run.add_argument("--setenv", metavar="NAME=VALUE", action="append", default=[],
                     help="set a variable on top of the fixed environment (repeatable)")
    run.add_argument("--timeout", metavar="S", type=float, help="wall-clock limit in seconds")
    run.add_argument("--max-silent-time", metavar="S", type=float,
                     help="kill after S seconds without output")
    run.add_argument("--network", choices=["none"], default="none",
                     help="only 'none': a private network namespace with just lo")
    run.add_argument("--profile", choices=["default", "strict"], default="default",
                     help="seccomp profile (strict also denies inet sockets and ptrace)")
    run.add_argument("--hostname", default="hermetic")
    run.add_argument("--cpus", type=int, default=2, help="CPU count exposed to the payload")
    run.add_argument("--uid", type=int, default=0, help="uid seen inside")
    run.add_argument("--gid", type=int, default=0, help="gid seen inside")
    run.add_argument("--log", metavar="FILE", help="also write the output to FILE")
    run.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    run.set_defaults(handler=run_command)

    check = verbs.add_parser("check", parents=[common],
                             help="check that this kernel supports the sandbox")
    check.set_defaults(handler=check_command)

    show = verbs.add_parser("profile", parents=[common],
                            help="print the seccomp profile's rules and version")
    show.add_argument("name", nargs="?", default="default", choices=["default", "strict"])
    show.set_defaults(handler=profile_command)


def parse_bind(text: str, readonly_default: bool = False):
    from hermetic.sandbox import Bind
    parts = text.split(":")
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        return Bind(parts[0], parts[1], readonly=parts[2] == "ro")
    if len(parts) == 2 and parts[0] and parts[1]:
        return Bind(parts[0], parts[1], readonly=readonly_default)
    raise ConfigError(f"--bind {text!r}: expected SRC:DST or SRC:DST:ro")


def run_command(args: argparse.Namespace, ctx) -> int:
    from hermetic.sandbox import SandboxSpec, run

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ConfigError("hermetic sandbox run: no command given", "usage: ... run -- CMD")
    env = {}
    for item in args.setenv:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--setenv {item!r}: expected NAME=VALUE")
        env[name] = value
    binds = [parse_bind(b) for b in args.bind] + [parse_bind(b, True) for b in args.ro_bind]
    spec = SandboxSpec(argv=command, root=args.root, overlay_upper=args.overlay_upper,
                       binds=binds, cwd=args.chdir, env=env, hostname=args.hostname,
                       cpu_count=args.cpus, timeout=args.timeout,
                       max_silent_time=args.max_silent_time, log_path=args.log,
                       profile=args.profile, uid=args.uid, gid=args.gid, network=args.network)
    out = sys.stdout.buffer

    def stream(data: bytes) -> None:
        out.write(data)
        out.flush()
    result = run(spec, on_output=stream)
    if ctx.json:
        print(json.dumps({"exit_code": result.exit_code, "signal": result.signal,
                          "timed_out": result.timed_out, "silent_timeout": result.silent_timeout,
                          "duration": round(result.duration, 4)}), file=sys.stderr)
    if result.timed_out:
        print(f"hermetic: sandbox: killed after the {args.timeout:g} s timeout", file=sys.stderr)
        return 124
    if result.silent_timeout:
        print(f"hermetic: sandbox: killed after {args.max_silent_time:g} s without output",
              file=sys.stderr)
        return 124
    if result.signal is not None:
        return 128 + result.signal
    return result.exit_code if result.exit_code is not None else 125


def check_command(args: argparse.Namespace, ctx) -> int:
    from hermetic.sandbox import PROFILE_VERSION, SandboxSpec, check_support, run

    check_support()
    result = run(SandboxSpec(argv=["/bin/true"]))
    ok = result.ok
    if ctx.json:
        print(json.dumps({"ok": ok, "profile_version": PROFILE_VERSION}))
    else:
        print(f"sandbox: {'ok' if ok else 'FAILED'} (profile {PROFILE_VERSION})")
    return 0 if ok else 4


def profile_command(args: argparse.Namespace, ctx) -> int:
    from hermetic.sandbox.profile import PROFILE_VERSION, rules_for

    rules = rules_for(args.name)
    if ctx.json:
        print(json.dumps({"version": PROFILE_VERSION, "profile": args.name,
                          "rules": [rule.describe() for rule in rules]}, indent=2))
    else:
        print(f"# {args.name} profile, {PROFILE_VERSION}; everything else is allowed")
        for rule in rules:
            print(rule.describe())
    return 0
