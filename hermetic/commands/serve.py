"""``hermetic serve``: share a store directory as a team cache over HTTP."""

from __future__ import annotations

import argparse


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "serve", parents=[common], help="serve the store as a team binary cache over HTTP",
        description="Serve the store over HTTP in its own layout: GET/HEAD for everything, PUT "
                    "with a bearer token, POST /missing, /health and Prometheus /metrics.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080,
                        help="port (default: 8080; 0 picks a free one)")
    parser.add_argument("--token-file", metavar="F",
                        help="file holding the write token; without it the server is read-only")
    parser.add_argument("--read-token-file", metavar="F",
                        help="file holding a token required for reads too")
    parser.add_argument("--max-upload", type=int, default=None, metavar="BYTES",
                        help="largest object accepted (default: 8 GiB)")
    parser.add_argument("--access-log", action="store_true", help="log each request to stderr")
    parser.set_defaults(handler=run)


def run(args, ctx) -> int:
    import signal
    import sys

    from hermetic.commands._common import workspace_root
    from hermetic.remote.open import read_token
    from hermetic.remote.server import DEFAULT_MAX_UPLOAD, make_server

    store_root = ctx.store_path(workspace_root(ctx.cwd))
    write_token = read_token(args.token_file) if args.token_file else None
    read_only_token = read_token(args.read_token_file) if args.read_token_file else None
    try:
        server = make_server(store_root, args.host, args.port, write_token=write_token,
                             read_token=read_only_token,
                             max_upload=args.max_upload or DEFAULT_MAX_UPLOAD,
                             access_log=args.access_log)
    except OSError as exc:
        from hermetic.errors import HermeticError
        raise HermeticError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None

    def stop(signum, frame):  # SIGTERM: finish like Ctrl-C, closing the socket
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    mode = "read-write" if write_token else "read-only"
    print(f"hermetic: serving {store_root} at {server.url} ({mode})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("hermetic: server stopped", file=sys.stderr)
    return 0
