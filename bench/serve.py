"""Servers side by side on the workloads people bring: hello, static files (small and
1 MiB), a streamed response, an upload, WSGI hello and a Flask JSON route, and hello
and a 1 MiB file over TLS (h10 ``--certfile``, uvicorn ``--ssl-certfile``, nginx
``ssl``; certificates made by trustme for the run; wrk speaks TLS itself), and h10's
hello behind nginx (``proxy_pass``, upstream keep-alive) over TCP and over a Unix
socket (``--uds``), and over the socket with nginx setting ``X-Forwarded-For`` and
``-Proto`` for h10 to read: the two processes share the server CPU, RSS is nginx's.

One run starts each contender in turn, pinned to its own CPU, loads it from the other
CPU and prints, per workload, requests per second, p99 latency, throughput and the
server's peak memory (RSS of its process tree), then the project's targets with
"met" or "MISSED" next to each:

- a small static file, keep-alive: at least 0.8x h10's own ``--hello`` req/s, p99 at
  most 2x its p99, and at least 10x ``python -m http.server``;
- a 1 MiB file: at least 0.9x nginx's throughput;
- ``--hello`` keep-alive at least 0.5x ``bench/minimal_loop.py`` (a bare epoll loop that
  parses nothing: the ceiling for one Python process), and HTTP/1.0 ``ab`` at least 1x it;
- WSGI on its default thread pool: hello at least 1.5x waitress, Flask at least 1.2x
  waitress; inline (``--threads 0``) at least 2x waitress on both.

Loads: ``wrk -t1`` with HTTP/1.1 keep-alive (50 connections; 10 for the 1 MiB
workloads), and ``ab -c50`` (HTTP/1.0, a new connection per request) for hello and the
small file. Every server logs nothing per request.

Usage::

    python bench/serve.py                     # about 3 minutes: 3 s per server and tool
    python bench/serve.py --quick             # a smoke run: 1 s each, rough numbers
    python bench/serve.py --only static --only hello
    python bench/serve.py --server-cpus 0 --client-cpus 1

Needs wrk, ab (apache2-utils), nginx and taskset, plus ``pip install '.[bench]'``.
Numbers are only comparable within one run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from servers import default_cpus, free_port, latency_ms, running, wait_until_serving

HERE = Path(__file__).resolve().parent
SMALL = b"Hello, world!\n"  # 14 bytes
BIG_SIZE = 1 << 20
UPLOAD_SIZE = 1 << 20


@dataclass(frozen=True)
class Contender:
    workload: str
    name: str
    command: list[str]
    path: str = "/"
    connections: int = 50
    ab: bool = False
    """Also load it with ab (HTTP/1.0, a connection per request)."""
    lua: str = ""
    """A wrk script (the upload workload posts a body)."""
    tls: bool = False
    """Served over HTTPS."""
    backend: tuple[str, ...] = ()
    """A server started first, behind ``command`` (nginx proxying to it)."""


@dataclass
class Result:
    rps: float = 0.0
    p99_ms: float = 0.0
    mb_s: float = 0.0
    errors: int = 0
    note: str = ""


@dataclass
class Row:
    contender: Contender
    wrk: Result = field(default_factory=Result)
    ab: Result | None = None
    peak_rss_mib: float = 0.0


def nginx_config(tmp: Path, port: int, docroot: Path, tls: bool = False) -> Path:
    """A one-worker nginx serving ``docroot`` as nginx is usually tuned for files; over
    TLS (and with a hello at ``/hello``) if ``tls``."""
    conf = tmp / f"nginx-{port}{'-tls' if tls else ''}.conf"
    listen = f"listen 127.0.0.1:{port};"
    if tls:
        listen = (
            f"listen 127.0.0.1:{port} ssl; ssl_certificate {tmp}/cert.pem; "
            f"ssl_certificate_key {tmp}/key.pem; ssl_session_cache shared:SSL:1m; "
            'location = /hello { default_type text/plain; return 200 "Hello, world!"; }'
        )
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"""{user}worker_processes 1;
daemon off;
pid {tmp}/nginx-{port}.pid;
error_log {tmp}/nginx-{port}.err warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    types {{ text/plain txt; application/octet-stream bin; }}
    server {{ {listen} root {docroot}; }}
}}
"""
    )
    return conf


def nginx_proxy_config(
    tmp: Path, port: int, upstream: str, tag: str, forwarded: bool = False
) -> Path:
    """A one-worker nginx proxying to ``upstream`` (``127.0.0.1:PORT`` or
    ``unix:PATH``) with keep-alive connections to it, as a deployment would; with
    ``forwarded``, setting ``X-Forwarded-For`` and ``X-Forwarded-Proto`` too (which
    h10 then reads: its default trusts a Unix-socket peer)."""
    headers = (
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "            proxy_set_header X-Forwarded-Proto $scheme;"
        if forwarded
        else ""
    )
    conf = tmp / f"nginx-proxy-{port}-{tag}.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"""{user}worker_processes 1;
daemon off;
pid {tmp}/nginx-proxy-{port}-{tag}.pid;
error_log {tmp}/nginx-proxy-{port}-{tag}.err warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    upstream h10 {{ server {upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://h10; proxy_http_version 1.1;
            proxy_set_header Connection ""; proxy_set_header Host $host;
            {headers}
        }}
    }}
}}
"""
    )
    return conf


def contenders(port: int, docroot: Path, tmp: Path, upload_lua: str) -> list[Contender]:
    py = sys.executable
    h10 = [py, "-m", "driver", "-b", "127.0.0.1", "--port", str(port), "--no-access-log"]
    nginx = ["nginx", "-c", str(nginx_config(tmp, port, docroot)), "-p", str(tmp)]
    http_server = [py, "-m", "http.server", "-b", "127.0.0.1", "-d", str(docroot), str(port)]
    uvicorn = [py, "-m", "uvicorn", "hello_apps:asgi", "--host", "127.0.0.1", "--port", str(port)]
    uvicorn += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    uvicorn += ["--log-level", "warning"]
    waitress = [py, "-m", "waitress", "--host=127.0.0.1", f"--port={port}"]
    gunicorn = [py, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "--log-level"]
    gunicorn += ["warning"]
    gthread = [*gunicorn, "-k", "gthread", "--threads", "4"]
    cert, key = str(tmp / "cert.pem"), str(tmp / "key.pem")
    h10_tls = [*h10, "--certfile", cert, "--keyfile", key]
    nginx_tls = ["nginx", "-c", str(nginx_config(tmp, port, docroot, tls=True)), "-p", str(tmp)]
    uvicorn_tls = [*uvicorn, "--ssl-certfile", cert, "--ssl-keyfile", key]
    out: list[Contender] = [
        Contender("hello", "h10 --hello", [*h10, "--hello"], ab=True),
        Contender(
            "hello", "minimal epoll loop", [py, str(HERE / "minimal_loop.py"), str(port)], ab=True
        ),
        Contender("hello", "uvicorn httptools+uvloop", uvicorn, ab=True),
        Contender("hello", "waitress", [*waitress, "hello_apps:wsgi"], ab=True),
    ]
    for name, command in (
        ("h10", [*h10, "-d", str(docroot)]),
        ("nginx", nginx),
        ("http.server", http_server),
    ):
        out.append(Contender("static 14 B", name, command, "/small.txt", ab=True))
    for name, command in (
        ("h10", [*h10, "-d", str(docroot)]),
        ("nginx", nginx),
        ("http.server", http_server),
    ):
        out.append(Contender("static 1 MiB", name, command, "/big.bin", connections=10))
    apps = [py, str(HERE / "h10_apps.py")]
    out.append(
        Contender("stream 1 MiB", "h10 iterable", [*apps, "stream", str(port)], connections=10)
    )
    out.append(
        Contender(
            "upload 1 MiB",
            "h10 streaming app",
            [*apps, "upload", str(port)],
            connections=10,
            lua=upload_lua,
        )
    )
    for workload, app, path in (
        ("wsgi hello", "hello_apps:wsgi", "/"),
        ("flask json", "flask_app:app", "/json"),
    ):
        out += [
            Contender(workload, "h10 --wsgi", [*h10, "--wsgi", app], path),
            Contender(
                workload, "h10 --wsgi --threads 0", [*h10, "--wsgi", app, "--threads", "0"], path
            ),
            Contender(workload, "waitress", [*waitress, app], path),
            Contender(workload, "gunicorn sync", [*gunicorn, app], path),
            Contender(workload, "gunicorn gthread", [*gthread, app], path),
        ]
    backend_port = free_port()
    uds = str(tmp / f"h10-{port}.sock")
    plain_h10 = [py, "-m", "driver", "--no-access-log", "--hello"]
    for tag, upstream, backend, forwarded in (
        ("TCP", f"127.0.0.1:{backend_port}",
         [*plain_h10, "-b", "127.0.0.1", "--port", str(backend_port)], False),
        ("uds", f"unix:{uds}", [*plain_h10, "--uds", uds], False),
        # The same with the proxy headers a deployment sets, read by h10.
        ("uds+XFF", f"unix:{uds}", [*plain_h10, "--uds", uds], True),
    ):  # fmt: skip
        name = f"h10 behind nginx, {tag}"
        conf = nginx_proxy_config(tmp, port, upstream, tag, forwarded)
        front = ["nginx", "-c", str(conf), "-p", str(tmp)]
        out.append(Contender("proxied hello", name, front, backend=tuple(backend)))
    out += [
        Contender("tls hello", "h10 --hello", [*h10_tls, "--hello"], tls=True),
        Contender("tls hello", "uvicorn httptools+uvloop", uvicorn_tls, tls=True),
        Contender("tls hello", "nginx", nginx_tls, "/hello", tls=True),
        Contender("tls 1 MiB", "h10", [*h10_tls, "-d", str(docroot)], "/big.bin", 10, tls=True),
        Contender(
            "tls 1 MiB",
            "uvicorn (from memory)",
            [*uvicorn_tls[:3], "hello_apps:asgi_big", *uvicorn_tls[4:]],
            connections=10,
            tls=True,
        ),
        Contender("tls 1 MiB", "nginx", nginx_tls, "/big.bin", 10, tls=True),
    ]
    return out


def make_certificates(tmp: Path) -> None:
    """``cert.pem`` and ``key.pem`` in ``tmp``, for 127.0.0.1, from a CA made now."""
    import trustme

    cert = trustme.CA().issue_cert("127.0.0.1", "localhost")
    (tmp / "cert.pem").write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    (tmp / "key.pem").write_bytes(cert.private_key_pem.bytes())


def tree_peak_rss_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) of ``pid`` and its descendants, in MiB."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pids.extend(int(child) for child in children)
    return total / 1024


def _megabytes(value: str, unit: str) -> float:
    return float(value) * {"B": 1e-6, "KB": 1.024e-3, "MB": 1.048576, "GB": 1073.741824}[unit]


def run_wrk(url: str, seconds: int, cpus: str, connections: int, lua: str) -> Result:
    script = ["-s", lua] if lua else []
    command = ["taskset", "-c", cpus, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    command += ["--latency", "--timeout", "5s", *script, url]
    out = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    result = Result()
    if match := re.search(r"Requests/sec:\s+([\d.]+)", out):
        result.rps = float(match.group(1))
    if match := re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", out, re.MULTILINE):
        result.p99_ms = latency_ms(match.group(1), match.group(2))
    if match := re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out):
        result.mb_s = _megabytes(match.group(1), match.group(2))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        result.errors += sum(int(n) for n in match.groups())
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        result.errors += int(match.group(1))
    return result


def run_ab(url: str, seconds: int, cpus: str, connections: int) -> Result:
    command = ["taskset", "-c", cpus, "ab", "-q", "-t", str(seconds), "-n", "10000000"]
    command += ["-c", str(connections), "-s", "10", url]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    out = proc.stdout
    result = Result()
    if match := re.search(r"Requests per second:\s+([\d.]+)", out):
        result.rps = float(match.group(1))
    if match := re.search(r"^\s+99%\s+(\d+)", out, re.MULTILINE):
        result.p99_ms = float(match.group(1))
    if match := re.search(r"Failed requests:\s+(\d+)", out):
        result.errors += int(match.group(1))
    if match := re.search(r"Non-2xx responses:\s+(\d+)", out):
        result.errors += int(match.group(1))
    if proc.returncode != 0:
        result.errors += 1
    return result


def measure(contender: Contender, port: int, seconds: int, args: argparse.Namespace) -> Row:
    row = Row(contender)
    scheme = "https" if contender.tls else "http"
    url = f"{scheme}://127.0.0.1:{port}{contender.path}"
    try:
        with contextlib.ExitStack() as stack:
            if contender.backend:
                stack.enter_context(running(contender.backend, args.server_cpus))
            proc = stack.enter_context(running(contender.command, args.server_cpus))
            wait_until_serving(port, contender.path, proc, tls=contender.tls)
            row.wrk = run_wrk(url, seconds, args.client_cpus, contender.connections, contender.lua)
            if contender.ab:
                time.sleep(0.3)
                row.ab = run_ab(url, seconds, args.client_cpus, contender.connections)
            row.peak_rss_mib = tree_peak_rss_mib(proc.pid)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        row.wrk.note = f"failed: {exc}"
    return row


def main(argv: list[str] | None = None) -> int:
    server_default, client_default = default_cpus()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 s runs: a smoke test")
    parser.add_argument("--seconds", type=int, default=3, help="length of each run (whole seconds)")
    parser.add_argument("--server-cpus", default=server_default, help="taskset list for servers")
    parser.add_argument("--client-cpus", default=client_default, help="taskset list for wrk/ab")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only contenders whose workload or name contains this (repeatable)",
    )
    args = parser.parse_args(argv)
    for tool in ("wrk", "ab", "taskset", "nginx"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    seconds = 1 if args.quick else max(1, args.seconds)
    print(
        f"server CPUs {args.server_cpus}, client CPUs {args.client_cpus}, "
        f"{seconds:g} s per run, load {os.getloadavg()[0]:.2f}"
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        docroot = tmp / "docroot"
        docroot.mkdir()
        (docroot / "small.txt").write_bytes(SMALL)
        (docroot / "big.bin").write_bytes(os.urandom(BIG_SIZE))
        make_certificates(tmp)
        upload_lua = tmp / "upload.lua"
        upload_lua.write_text(
            f'wrk.method = "POST"\nwrk.body = string.rep("x", {UPLOAD_SIZE})\n'
            'wrk.headers["Content-Type"] = "application/octet-stream"\n'
        )
        for index, template in enumerate(contenders(0, docroot, tmp, str(upload_lua))):
            label = f"{template.workload} {template.name}"
            if args.only and not any(word in label for word in args.only):
                continue
            port = free_port()
            contender = contenders(port, docroot, tmp, str(upload_lua))[index]
            row = measure(contender, port, seconds, args)
            rows.append(row)
            ab = f", ab {row.ab.rps:,.0f} req/s" if row.ab else ""
            print(
                f"  {label}: wrk {row.wrk.rps:,.0f} req/s{ab} {row.wrk.note}".rstrip(), flush=True
            )
            time.sleep(0.5)  # let TIME_WAIT and the CPU settle
    print_table(rows)
    print_targets(rows)
    return 0


def print_table(rows: list[Row]) -> None:
    print()
    header = (
        f"{'workload':<13} {'server':<25} {'wrk req/s':>10} {'p99 ms':>8} {'MB/s':>8} "
        f"{'ab req/s':>9} {'ab p99':>7} {'RSS MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        wrk, ab = row.wrk, row.ab
        if wrk.note:
            print(f"{row.contender.workload:<13} {row.contender.name:<25} {wrk.note}")
            continue
        ab_text = f"{ab.rps:>9,.0f} {ab.p99_ms:>7.0f}" if ab else f"{'-':>9} {'-':>7}"
        errors = ""
        if wrk.errors or (ab and ab.errors):
            errors = f"  (errors: wrk {wrk.errors}, ab {ab.errors if ab else 0})"
        print(
            f"{row.contender.workload:<13} {row.contender.name:<25} {wrk.rps:>10,.0f} "
            f"{wrk.p99_ms:>8.2f} {wrk.mb_s:>8.1f} {ab_text} {row.peak_rss_mib:>8.1f}{errors}"
        )


def _find(rows: list[Row], workload: str, name: str) -> Row | None:
    for row in rows:
        if row.contender.workload == workload and row.contender.name == name and not row.wrk.note:
            return row
    return None


def print_targets(rows: list[Row]) -> None:
    checks: list[tuple[str, float, float, bool]] = []  # label, value, target, higher is better

    def ratio(
        label: str, a: float | None, b: float | None, target: float, higher: bool = True
    ) -> None:
        if a is not None and b:
            checks.append((label, a / b, target, higher))

    hello = _find(rows, "hello", "h10 --hello")
    minimal = _find(rows, "hello", "minimal epoll loop")
    small = _find(rows, "static 14 B", "h10")
    http_small = _find(rows, "static 14 B", "http.server")
    big = _find(rows, "static 1 MiB", "h10")
    nginx_big = _find(rows, "static 1 MiB", "nginx")
    if small and hello:
        ratio("small file keep-alive req/s >= 0.8x h10 --hello", small.wrk.rps, hello.wrk.rps, 0.8)
        ratio(
            "small file p99 <= 2x h10 --hello p99", small.wrk.p99_ms, hello.wrk.p99_ms, 2.0, False
        )
    if small and http_small:
        ratio("small file req/s >= 10x http.server", small.wrk.rps, http_small.wrk.rps, 10.0)
    if big and nginx_big:
        ratio("1 MiB file MB/s >= 0.9x nginx", big.wrk.mb_s, nginx_big.wrk.mb_s, 0.9)
    if hello and minimal:
        ratio("--hello keep-alive >= 0.5x the minimal loop", hello.wrk.rps, minimal.wrk.rps, 0.5)
        if hello.ab and minimal.ab:
            ratio("--hello ab (HTTP/1.0) >= 1x the minimal loop", hello.ab.rps, minimal.ab.rps, 1.0)
    for workload, pooled in (("wsgi hello", 1.5), ("flask json", 1.2)):
        waitress = _find(rows, workload, "waitress")
        base = waitress.wrk.rps if waitress else None
        row = _find(rows, workload, "h10 --wsgi")
        inline = _find(rows, workload, "h10 --wsgi --threads 0")
        ratio(
            f"{workload}: default threads >= {pooled:g}x waitress",
            row.wrk.rps if row else None,
            base,
            pooled,
        )
        ratio(
            f"{workload}: --threads 0 >= 2x waitress", inline.wrk.rps if inline else None, base, 2.0
        )
    if not checks:
        return
    print()
    for label, value, target, higher in checks:
        met = value >= target if higher else value <= target
        print(f"Target: {label}: {value:.2f}x (target {target:g}x) {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    raise SystemExit(main())
