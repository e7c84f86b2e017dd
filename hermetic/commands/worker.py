"""`hermetic worker --scheduler ADDR`: self-test, then build hermetic tasks as a Dask worker."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "worker", parents=[common], help="join a Dask cluster as a build worker",
        description="Check the sandbox, the store, the cache and the signing key, then join the "
                    "Dask scheduler and build the tasks hermetic clients submit: inputs are "
                    "fetched by digest from the cache, outputs and the signed entry pushed back.")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="the scheduler (default: $HERMETIC_SCHEDULER)")
    parser.add_argument("--slots", type=int, default=1, metavar="N",
                        help="ordinary builds at once (default: 1)")
    parser.add_argument("--big-slots", type=int, default=1, metavar="N",
                        help="builds of components marked build.hints.expensive at once "
                             "(default: 1; 0 takes none)")
    parser.add_argument("--cpus", type=int, metavar="N", help="CPUs offered (advertised)")
    parser.add_argument("--mem", metavar="SIZE",
                        help="memory limit of each build, e.g. 8G (also advertised)")
    parser.add_argument("--feature", action="append", default=[], metavar="NAME",
                        help="advertise resource feature-NAME (repeatable)")
    parser.add_argument("--substituter", action="append", default=[], metavar="URL",
                        help="also fetch inputs from this cache (repeatable)")
    parser.add_argument("--push", metavar="URL",
                        help="the team cache: inputs come from it, outputs go to it")
    parser.add_argument("--secret-key", metavar="FILE", help="sign pushed entries with this key")
    parser.add_argument("--token-file", metavar="F",
                        help="cache write token (default: $HERMETIC_CACHE_TOKEN)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address the worker listens on (default: 127.0.0.1)")
    parser.add_argument("--name", help="worker name shown by the scheduler")
    parser.add_argument("--tls-ca", metavar="FILE", help="CA of the cluster (mutual TLS)")
    parser.add_argument("--tls-cert", metavar="FILE", help="this worker's certificate")
    parser.add_argument("--tls-key", metavar="FILE", help="this worker's private key")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx) -> int:
    import os
    import sys
    from pathlib import Path

    from hermetic.distributed.security import (SCHEDULER_ENV, check_address, is_loopback,
                                               tls_files)
    from hermetic.distributed.workerconfig import WorkerConfig, parse_size, self_test
    from hermetic.errors import ConfigError
    from hermetic.remote import read_token

    address = args.scheduler or os.environ.get(SCHEDULER_ENV)
    if not address:
        raise ConfigError(f"hermetic worker needs --scheduler ADDR (or ${SCHEDULER_ENV})")
    tls = tls_files(args.tls_ca, args.tls_cert, args.tls_key, cwd=ctx.cwd)
    address = check_address(address, tls)
    if not is_loopback(args.host) and tls is None:
        raise ConfigError(f"--host {args.host}: refusing to listen beyond loopback without TLS",
                          hint="give --tls-ca, --tls-cert and --tls-key")
    if args.slots < 1 or args.big_slots < 0:
        raise ConfigError("--slots must be at least 1 and --big-slots at least 0")
    cache_url = args.push or (args.substituter[0] if args.substituter else None)
    if cache_url is None:
        raise ConfigError("hermetic worker needs the team cache: --push URL",
                          hint="inputs and outputs travel only through the cache")
    memory = parse_size(args.mem) if args.mem else None
    config = WorkerConfig(
        store=ctx.store_path(None), cache_url=cache_url, substituters=list(args.substituter),
        token=read_token(args.token_file),
        secret_key=(ctx.cwd / args.secret_key) if args.secret_key else None,
        memory_max=memory)
    for line in self_test(config):
        print(f"hermetic: self-test: {line}", file=sys.stderr, flush=True)

    from hermetic.distributed.cluster import run_forever, run_worker, worker_resources
    resources = worker_resources(args.slots, args.big_slots, args.cpus, memory, args.feature)
    print(f"hermetic: worker joining {address} with {resources}", file=sys.stderr, flush=True)
    try:
        run_forever(run_worker(address, config, resources, args.slots + args.big_slots,
                               security=tls.security() if tls else None, host=args.host,
                               name=args.name))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        from hermetic.errors import HermeticError
        raise HermeticError(f"cannot join the scheduler {address}: {exc}") from None
    return 0
