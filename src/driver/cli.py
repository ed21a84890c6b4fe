"""The command line: ``python -m driver [DIRECTORY] [options]``."""

from __future__ import annotations

import argparse
import os
import sys

from .app import App
from .config import DEFAULT_THREADS, MAX_THREADS, Config, cpu_count, default_backlog
from .log import setup_logging
from .server import serve

__all__ = ["build_parser", "main"]


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _threads(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_THREADS}, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m driver",
        description=(
            "A fast HTTP/1.0 (and 1.1) server on one epoll loop per process. By default "
            "it serves DIRECTORY like `python -m http.server`, with sendfile, Range "
            "requests, If-Modified-Since and keep-alive."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "directory",
        nargs="?",
        default=os.curdir,
        metavar="DIRECTORY",
        help="directory to serve",
    )
    parser.add_argument(
        "-b",
        "--bind",
        default="0.0.0.0",
        metavar="ADDR",
        help="address to listen on (e.g. 127.0.0.1, ::)",
    )
    parser.add_argument(
        "-p",
        "--port",
        type=int,
        default=8000,
        help="port to listen on; 0 picks a free port (printed on start)",
    )
    apps = parser.add_mutually_exclusive_group()
    apps.add_argument(
        "--hello",
        action="store_true",
        help="answer every request with a fixed 13-byte body (benchmarks)",
    )
    apps.add_argument(
        "--wsgi", metavar="MODULE:APP", help="serve a PEP 3333 WSGI application instead of files"
    )
    parser.add_argument(
        "--threads",
        type=_threads,
        default=None,
        metavar="N",
        help=f"with --wsgi: threads that run the application (default {DEFAULT_THREADS}); "
        "0 runs it on the loop's thread, fastest for applications that never block",
    )
    parser.add_argument(
        "--workers",
        type=_count,
        default=1,
        metavar="N",
        help=f"worker processes sharing the port with SO_REUSEPORT "
        f"(this machine has {cpu_count()} usable CPUs)",
    )
    parser.add_argument(
        "--backlog",
        type=_count,
        default=default_backlog(),
        metavar="N",
        help="listen backlog (capped by net.core.somaxconn)",
    )
    parser.add_argument("--nodelay", action="store_true", help="set TCP_NODELAY on client sockets")
    parser.add_argument(
        "--cork", action="store_true", help="set TCP_CORK around each response's writes"
    )
    parser.add_argument(
        "--edge-triggered",
        action="store_true",
        help="use edge-triggered epoll (EPOLLET), draining sockets to EAGAIN",
    )
    parser.add_argument(
        "--max-connections",
        type=_count,
        default=None,
        metavar="N",
        help="connections served at once; beyond it new ones wait in the "
        "kernel backlog (default: 10000, or what RLIMIT_NOFILE allows)",
    )
    parser.add_argument(
        "--header-timeout",
        type=_positive_float,
        default=60.0,
        metavar="S",
        help="seconds to receive a whole request head (absolute, then 408)",
    )
    parser.add_argument(
        "--body-timeout",
        type=_positive_float,
        default=60.0,
        metavar="S",
        help="seconds allowed between two reads of a request body "
        "(then 408) or two writes to a stalled client (then close)",
    )
    parser.add_argument(
        "--keepalive-timeout",
        type=_positive_float,
        default=75.0,
        metavar="S",
        help="seconds an idle kept-alive connection stays open",
    )
    parser.add_argument(
        "--grace-period",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="seconds in-flight requests get after SIGTERM/SIGINT",
    )
    parser.add_argument(
        "--max-body-size",
        type=_count,
        default=16 * 1024 * 1024,
        metavar="BYTES",
        help="largest request body accepted (then 413)",
    )
    parser.add_argument(
        "--access-log",
        metavar="FILE",
        default=None,
        help="append the access log (Common Log Format) to FILE instead of standard error",
    )
    parser.add_argument("--no-access-log", action="store_true", help="do not write an access log")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="level of the error log (standard error)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads is not None and not args.wsgi:
        parser.error("--threads applies to --wsgi applications only")
    setup_logging(args.log_level)
    config = Config(
        host=args.bind,
        port=args.port,
        backlog=args.backlog,
        workers=args.workers,
        edge_triggered=args.edge_triggered,
        nodelay=args.nodelay,
        cork=args.cork,
        max_connections=args.max_connections or 0,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        keepalive_timeout=args.keepalive_timeout,
        grace_period=args.grace_period,
        max_body_size=args.max_body_size,
        access_log=not args.no_access_log,
        access_log_path=args.access_log,
        threads=DEFAULT_THREADS if args.threads is None else args.threads,
    )
    app: App
    if args.hello:
        from .hello import hello_app

        app, what = hello_app, "hello"
    elif args.wsgi:
        from .wsgi import AppLoadError, load_app, serve_wsgi

        sys.path.insert(0, os.getcwd())
        try:
            wsgi_app = load_app(args.wsgi)
        except AppLoadError as exc:
            print(f"python -m driver: {exc}", file=sys.stderr)
            return 2
        threads = f"{config.threads} threads" if config.threads else "inline on the loop"
        try:
            serve_wsgi(wsgi_app, config, what=f"WSGI app {args.wsgi} ({threads})")
        except OSError as exc:
            print(f"python -m driver: {exc}", file=sys.stderr)
            return 1
        return 0
    else:
        from .static import StaticFiles

        app, what = StaticFiles(args.directory), f"HTTP ({os.path.abspath(args.directory)})"
    try:
        serve(app, config, what=what)
    except OSError as exc:
        print(f"python -m driver: {exc}", file=sys.stderr)
        return 1
    return 0
