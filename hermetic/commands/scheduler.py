"""`hermetic scheduler`: a Dask scheduler with hermetic's defaults (loopback, or mutual TLS)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "scheduler", parents=[common], help="run a Dask scheduler for hermetic workers",
        description="Run the Dask scheduler `hermetic build --executor dask` and `hermetic "
                    "worker` connect to. Beyond loopback it requires TLS with client "
                    "certificates: anyone who reaches a scheduler can run code on its workers.")
    parser.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8786, help="port (default: 8786; 0: any)")
    parser.add_argument("--tls-ca", metavar="FILE", help="CA that signs every peer")
    parser.add_argument("--tls-cert", metavar="FILE", help="the scheduler's certificate")
    parser.add_argument("--tls-key", metavar="FILE", help="the scheduler's private key")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx) -> int:
    import sys

    from hermetic.distributed.security import check_address, tls_files

    tls = tls_files(args.tls_ca, args.tls_cert, args.tls_key, cwd=ctx.cwd)
    scheme = "tls" if tls else "tcp"
    check_address(f"{scheme}://{args.host}:{args.port or 1}", tls)

    from hermetic.distributed.cluster import run_forever, run_scheduler

    def ready(address: str) -> None:
        print(f"hermetic: scheduler at {address}", flush=True)

    try:
        run_forever(run_scheduler(args.host, args.port,
                                  security=tls.security() if tls else None, on_ready=ready))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        from hermetic.errors import HermeticError
        raise HermeticError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    print("hermetic: scheduler stopped", file=sys.stderr)
    return 0
