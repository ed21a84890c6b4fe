"""The command line: ``python -m driver [options] [PORT]``, as ``python -m http.server``.

It takes http.server's own forms (a positional port, ``-d/--directory``, ``-b/--bind``,
``-p/--protocol HTTP/1.1``, ``--tls-cert/--tls-key/--tls-password-file``) next to its
own (``--port``, a positional directory) and those of the servers people deploy
(uvicorn's ``--uds``, ``--fd``, ``--forwarded-allow-ips``, ``--proxy-headers`` and
``--root-path``, gunicorn's ``--certfile/--keyfile``; systemd's
``LISTEN_FDS`` is used whenever it is set for this process). Every startup mistake (a
missing directory, a port in use, an address that does not resolve, a regular file at
the socket path, a certificate that does not load, an option that does not apply) is
one line on standard error and exit code 2, never a traceback.

Longer than the project's ~400 lines: ``build_parser`` is some 270 lines of options,
each with its help text, and the help a user reads is best kept in one place.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from typing import NoReturn

from .app import App
from .budget import DEFAULT_BUDGET
from .config import DEFAULT_THREADS, MAX_THREADS, Config, cpu_count, default_backlog
from .forwarded import DEFAULT_ALLOW_IPS, DEFAULT_PROXY_HEADERS, TrustedProxies
from .listeners import DEFAULT_UDS_MODE, ListenerError, parse_mode
from .listing import MAX_LISTING_ENTRIES
from .log import setup_logging
from .origin import check_root_path
from .server import serve, tls_context

__all__ = ["build_parser", "main"]


PROG = "python -m driver"
# What bind() and listen() say when the address cannot be had.
_LISTEN_ERRORS = frozenset({errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL, errno.EPERM})


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
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


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {text}")
    return value


class _PortOrProtocol(argparse.Action):
    """``-p``: our port, or http.server's ``--protocol HTTP/1.x`` (both are accepted).

    http.server's ``-p`` picks the HTTP version it answers with; this server answers
    each client in its own version (1.0 or 1.1), so the value is only checked."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        text = str(values)
        if text.upper() in ("HTTP/1.0", "HTTP/1.1"):
            namespace.protocol = text.upper()
            return
        try:
            namespace.port = _port(text)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"argument {option_string}: {exc} (or HTTP/1.0, HTTP/1.1)")


def _mode(text: str) -> int:
    try:
        return parse_mode(text)
    except ListenerError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _descriptor(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a descriptor number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a descriptor is >= 0, got {text}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default once: not when the help already says it, and not for a default
    that says nothing (None, or False for a flag)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)


def _protocol(text: str) -> str:
    if text.upper() not in ("HTTP/1.0", "HTTP/1.1"):
        raise argparse.ArgumentTypeError(f"HTTP/1.0 or HTTP/1.1, not {text!r}")
    return text.upper()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [options] [PORT]",
        description=(
            "A fast HTTP/1.0 (and 1.1) server on one epoll loop per process. By default "
            "it serves the current directory like `python -m http.server`, with sendfile, "
            "Range requests, conditional requests and keep-alive. It takes http.server's "
            "arguments: `python -m driver 8080 -d public -b 127.0.0.1`."
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "where",
        nargs="?",
        default=None,
        metavar="PORT",
        help="port to listen on, as http.server takes it (default 8000); a directory "
        "name here is also accepted, as earlier versions took it",
    )
    parser.add_argument(
        "-d",
        "--directory",
        default=None,
        metavar="DIR",
        help="directory to serve (default: the current directory)",
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
        dest="port",
        action=_PortOrProtocol,
        metavar="PORT",
        help="port to listen on; 0 picks a free port (printed on start). "
        "http.server's `-p HTTP/1.1` is accepted too",
    )
    parser.add_argument(
        "--port",
        dest="port",
        type=_port,
        default=None,
        metavar="PORT",
        help="port to listen on (default 8000)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--uds",
        metavar="PATH",
        default=None,
        help="listen on this Unix socket path instead of TCP (for nginx's "
        "proxy_pass http://unix:PATH); a stale socket file left by a dead server is "
        "replaced, anything else there is refused",
    )
    where.add_argument(
        "--fd",
        type=_descriptor,
        default=None,
        metavar="N",
        help="serve the listening socket inherited as descriptor N instead of opening one "
        "(systemd's LISTEN_FDS is used without it whenever it is set for this process)",
    )
    parser.add_argument(
        "--uds-mode",
        type=_mode,
        default=None,
        metavar="MODE",
        help=f"file mode of the --uds socket, octal (default {DEFAULT_UDS_MODE:o}: "
        "the owner and the group may connect)",
    )
    parser.add_argument(
        "--certfile",
        "--tls-cert",
        dest="certfile",
        default=None,
        metavar="FILE",
        help="serve HTTPS with this PEM certificate chain (TLS 1.2 and later)",
    )
    parser.add_argument(
        "--keyfile",
        "--tls-key",
        dest="keyfile",
        default=None,
        metavar="FILE",
        help="the PEM private key, if it is not in the certificate file",
    )
    parser.add_argument(
        "--tls-password-file",
        default=None,
        metavar="FILE",
        help="file holding the password of an encrypted private key",
    )
    parser.add_argument(
        "--handshake-timeout",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="seconds a client has to complete the TLS handshake (absolute)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="LIST",
        help="peers trusted to say who their client is through proxy headers: "
        "comma-separated addresses, CIDR networks, unix: (peers on a Unix socket) or *; "
        "empty trusts nobody (default: $FORWARDED_ALLOW_IPS if set, else "
        f"{DEFAULT_ALLOW_IPS}, a proxy on the same machine)",
    )
    proxy = parser.add_mutually_exclusive_group()
    proxy.add_argument(
        "--proxy-headers",
        default=None,
        metavar="LIST",
        help="the headers those proxies set, which h10 reads from them only: "
        "x-forwarded-for, x-forwarded-proto, x-forwarded-host, x-forwarded-port, or "
        f"forwarded alone (default: {DEFAULT_PROXY_HEADERS}, what nginx is set up to send)",
    )
    proxy.add_argument(
        "--no-proxy-headers",
        action="store_true",
        help="read no proxy headers: every request's client and scheme are the peer's",
    )
    parser.add_argument(
        "--root-path",
        default=None,
        metavar="PREFIX",
        help="URL prefix the application is mounted under, such as /app: SCRIPT_NAME "
        "(and HTTPRequest.root_path) of each request below it",
    )
    parser.add_argument(
        "--protocol",
        type=_protocol,
        default=None,
        metavar="VERSION",
        help="accepted for http.server compatibility; each client is answered in its "
        "own HTTP version (1.0 or 1.1)",
    )
    parser.add_argument(
        "--cgi",
        action="store_true",
        help="http.server's CGI mode is not supported (an error, not ignored)",
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
        help=f"worker processes: one SO_REUSEPORT socket each on TCP, one shared socket "
        f"with --uds and --fd (this machine has {cpu_count()} usable CPUs)",
    )
    parser.add_argument(
        "--backlog",
        type=_count,
        default=default_backlog(),
        metavar="N",
        help="listen backlog (capped by net.core.somaxconn)",
    )
    parser.add_argument(
        "--nodelay",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TCP_NODELAY on client sockets (default: on, as nginx's tcp_nodelay)",
    )
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
        help="connections served at once; beyond it a new client takes the place of "
        "the kept-alive connection idle longest, or waits in the kernel backlog if none "
        "is idle (default: 10000, or what RLIMIT_NOFILE allows)",
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
        "--max-listing-entries",
        type=_count,
        default=None,
        metavar="N",
        help=f"entries one directory listing shows at most; the page says when it "
        f"stops there (default {MAX_LISTING_ENTRIES})",
    )
    parser.add_argument(
        "--connection-budget",
        type=_count,
        default=DEFAULT_BUDGET,
        metavar="BYTES",
        help="memory one connection may hold, all its buffers together; every bound "
        "derives from it, so --max-connections x this is the worst case",
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


def _fail(message: str) -> NoReturn:
    """A startup mistake: one line, exit code 2 (as argparse does for bad options)."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _resolve_where(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Sort the positional argument into a port (http.server's form) or a directory."""
    where = args.where
    if where is None:
        return
    if where.isdigit():
        if args.port is not None and args.port != int(where):
            parser.error(f"two ports given: {where} and {args.port}")
        try:
            args.port = _port(where)
        except argparse.ArgumentTypeError as exc:
            parser.error(str(exc))
    elif args.directory is not None:
        parser.error(f"two directories given: {where!r} and {args.directory!r}")
    else:
        args.directory = where


def _check_directory(path: str) -> None:
    if not os.path.exists(path):
        _fail(f"directory {path!r} does not exist")
    if not os.path.isdir(path):
        _fail(f"{path!r} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        _fail(f"directory {path!r} is not readable")


def _check_bind(host: str) -> None:
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        _fail(f"cannot listen on {host!r}: {getattr(exc, 'strerror', None) or exc}")


def _config(args: argparse.Namespace) -> Config:
    options: dict[str, object] = {}
    if args.nodelay is not None:
        options["nodelay"] = args.nodelay
    return Config(
        host=args.bind,
        port=8000 if args.port is None else args.port,
        backlog=args.backlog,
        workers=args.workers,
        edge_triggered=args.edge_triggered,
        cork=args.cork,
        max_connections=args.max_connections or 0,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        keepalive_timeout=args.keepalive_timeout,
        grace_period=args.grace_period,
        max_body_size=args.max_body_size,
        connection_budget=args.connection_budget,
        access_log=not args.no_access_log,
        access_log_path=args.access_log,
        threads=DEFAULT_THREADS if args.threads is None else args.threads,
        uds=args.uds,
        uds_mode=DEFAULT_UDS_MODE if args.uds_mode is None else args.uds_mode,
        fd=args.fd,
        certfile=args.certfile,
        keyfile=args.keyfile,
        key_password=args.key_password,
        handshake_timeout=args.handshake_timeout,
        forwarded_allow_ips=args.forwarded_allow_ips,
        proxy_headers=args.proxy_headers,
        root_path=args.root_path,
        **options,  # type: ignore[arg-type]
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _resolve_where(parser, args)
    if args.cgi:
        _fail("--cgi is not supported: serve CGI scripts with a WSGI app (--wsgi) instead")
    if args.directory is not None and (args.hello or args.wsgi):
        _fail("-d/--directory serves files; it does not apply with --hello or --wsgi")
    if args.threads is not None and not args.wsgi:
        _fail("--threads applies to --wsgi applications only")
    if args.max_listing_entries is not None and (args.hello or args.wsgi):
        _fail("--max-listing-entries applies to serving files; not with --hello or --wsgi")
    if args.uds_mode is not None and args.uds is None:
        _fail("--uds-mode applies to --uds only")
    if args.keyfile is not None and args.certfile is None:
        _fail("--keyfile/--tls-key needs --certfile/--tls-cert")
    if args.tls_password_file is not None and args.certfile is None:
        _fail("--tls-password-file needs --certfile/--tls-cert")
    args.key_password = _read_password(args.tls_password_file)
    _check_proxy_options(args)
    if args.uds is None and args.fd is None:
        _check_bind(args.bind)
    setup_logging(args.log_level)
    try:
        config = _config(args)
        if config.tls:
            tls_context(config)  # a certificate that does not load: a startup mistake
    except ValueError as exc:  # options that contradict each other (a budget too small)
        _fail(str(exc))
    app: App
    if args.hello:
        from .hello import hello_app

        app, what = hello_app, "hello"
    elif args.wsgi:
        from .app_loader import AppLoadError, load_app
        from .wsgi import serve_wsgi

        sys.path.insert(0, os.getcwd())
        try:
            wsgi_app = load_app(args.wsgi)
        except AppLoadError as exc:
            _fail(str(exc))
        threads = f"{config.threads} threads" if config.threads else "inline on the loop"
        try:
            serve_wsgi(wsgi_app, config, what=f"WSGI app {args.wsgi} ({threads})")
        except ListenerError as exc:
            _fail(str(exc))
        except OSError as exc:
            _listen_failed(exc, args.bind, config.port)
        return 0
    else:
        from .static import StaticFiles

        directory = os.curdir if args.directory is None else args.directory
        _check_directory(directory)
        listing = args.max_listing_entries or MAX_LISTING_ENTRIES
        app = StaticFiles(directory, max_listing_entries=listing)
        what = f"HTTP ({os.path.abspath(directory)})"
    try:
        serve(app, config, what=what)
    except ListenerError as exc:
        _fail(str(exc))
    except OSError as exc:
        _listen_failed(exc, args.bind, config.port)
    return 0


def _check_proxy_options(args: argparse.Namespace) -> None:
    """Settle --forwarded-allow-ips ($FORWARDED_ALLOW_IPS as the default, as uvicorn and
    gunicorn take it), --proxy-headers and --root-path; a mistake names its option."""
    if args.forwarded_allow_ips is None:
        args.forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", DEFAULT_ALLOW_IPS)
        option = "$FORWARDED_ALLOW_IPS" if "FORWARDED_ALLOW_IPS" in os.environ else None
    else:
        option = "--forwarded-allow-ips"
    if args.no_proxy_headers:
        args.proxy_headers = ""
    elif args.proxy_headers is None:
        args.proxy_headers = DEFAULT_PROXY_HEADERS
    elif not args.proxy_headers.strip(" ,"):
        _fail("--proxy-headers needs at least one header (--no-proxy-headers turns them off)")
    try:
        TrustedProxies.parse(args.forwarded_allow_ips, "")
    except ValueError as exc:
        _fail(f"{option or 'forwarded allow-ips'}: {exc}")
    try:
        TrustedProxies.parse("", args.proxy_headers)
    except ValueError as exc:
        _fail(f"--proxy-headers: {exc}")
    try:
        args.root_path = check_root_path(args.root_path or "")
    except ValueError as exc:
        _fail(f"--root-path: {exc}")


def _read_password(path: str | None) -> str | None:
    """The key's password from ``--tls-password-file`` (surrounding whitespace and the
    final newline stripped, as http.server reads it)."""
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read the TLS password file {path}: {getattr(exc, 'strerror', None) or exc}")


def _listen_failed(exc: OSError, host: str, port: int) -> None:
    """Listening failed (address in use, a privileged port, ...): a startup mistake.
    Any other error is a real failure, with its traceback."""
    if exc.errno not in _LISTEN_ERRORS:
        raise exc
    _fail(f"cannot listen on {host} port {port}: {exc.strerror or exc}")
