"""Servers side by side: h10 against a bare epoll loop, uvicorn, waitress, http.server.

One run starts each server in turn, pinned to its own CPUs, and loads it from the
other CPUs with

- ``wrk``: HTTP/1.1 keep-alive, 50 connections (``-t1 -c50``), and
- ``ab``: HTTP/1.0, a new connection per request (``-c50``),

then prints requests per second, p99 latency, and the ratios the project aims for:

- h10 keep-alive at least 4x uvicorn (httptools + uvloop),
- h10 keep-alive at least 40% of the minimal loop (``bench/minimal_loop.py``: a bare
  Python epoll loop that answers every ``\\r\\n\\r\\n`` with a canned response; the
  ceiling for one Python process, since it parses nothing),
- h10 under ab at least equal to the minimal loop.

Every server answers ``Hello, world!`` (13 bytes) with access logging off; the
http.server row serves a 13-byte file (it cannot do anything else).

Then the WSGI rows (``bench/wsgi_bench.py``, skipped with ``--no-wsgi``): WSGI hello
and a Flask JSON route on h10 (its default thread pool and ``--threads 0``), waitress,
gunicorn sync and gunicorn gthread, one worker process each, with wrk, the server's
CPU time per request, and issue 9's targets (h10 >= 1.5x waitress on hello and
>= 1.2x on Flask with its pool; >= 2x inline). The memory run (200 MiB streamed to a
slow reader) is ``python bench/wsgi_bench.py``'s.

Usage::

    python bench/serve.py               # about 1 minute: 3 s per server and tool
    python bench/serve.py --quick       # a smoke run: 1 s each, rough numbers
    python bench/serve.py --server-cpus 0 --client-cpus 1

Needs wrk, ab (apache2-utils) and taskset, plus ``pip install '.[bench]'`` (waitress,
gunicorn and flask for the WSGI rows). Numbers
are only comparable within one run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
CONNECTIONS = 50


@dataclass(frozen=True)
class Contender:
    name: str
    command: list[str]
    path: str = "/"


@dataclass
class Result:
    rps: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def contenders(port: int, docroot: Path) -> list[Contender]:
    py = sys.executable
    return [
        Contender(
            "h10 --hello",
            [py, "-m", "driver", "--hello", "-b", "127.0.0.1", "-p", str(port), "--no-access-log"],
        ),
        Contender("minimal epoll loop", [py, str(HERE / "minimal_loop.py"), str(port)]),
        Contender(
            "uvicorn httptools+uvloop",
            [
                py,
                "-m",
                "uvicorn",
                "hello_apps:asgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
        ),
        Contender(
            "waitress",
            [py, "-m", "waitress", "--host=127.0.0.1", f"--port={port}", "hello_apps:wsgi"],
        ),
        Contender(
            "python -m http.server",
            [py, "-m", "http.server", "-b", "127.0.0.1", "-d", str(docroot), str(port)],
            path="/hello.txt",
        ),
    ]


def wait_until_serving(port: int, path: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    request = f"GET {path} HTTP/1.0\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(request)
                data = b""
                while chunk := sock.recv(4096):
                    data += chunk
                if data.endswith(b"Hello, world!"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not answer in 20 s")


@contextlib.contextmanager
def running(contender: Contender, cpus: str) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        ["taskset", "-c", cpus, *contender.command],
        cwd=HERE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _latency_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, seconds: int, cpus: str) -> Result:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            cpus,
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "5s",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    result = Result()
    if match := re.search(r"Requests/sec:\s+([\d.]+)", out):
        result.rps = float(match.group(1))
    if match := re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", out, re.MULTILINE):
        result.p99_ms = _latency_ms(match.group(1), match.group(2))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        result.errors += sum(int(n) for n in match.groups())
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        result.errors += int(match.group(1))
    return result


def run_ab(url: str, seconds: int, cpus: str) -> Result:
    proc = subprocess.run(
        [
            "taskset",
            "-c",
            cpus,
            "ab",
            "-q",
            "-t",
            str(seconds),
            "-n",
            "10000000",
            "-c",
            str(CONNECTIONS),
            "-s",
            "10",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
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


def default_cpus() -> tuple[str, str]:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return str(cpus[0]), str(cpus[0])
    half = max(1, len(cpus) // 2)
    # The server gets one CPU (every contender is one process); the clients the rest.
    return str(cpus[0]), ",".join(str(c) for c in cpus[half:]) or str(cpus[-1])


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
        help="run only contenders whose name contains this (repeatable)",
    )
    parser.add_argument("--no-wsgi", action="store_true", help="skip the WSGI rows")
    args = parser.parse_args(argv)
    for tool in ("wrk", "ab", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    seconds = 1 if args.quick else max(1, args.seconds)
    print(
        f"server CPUs {args.server_cpus}, client CPUs {args.client_cpus}, "
        f"{seconds:g} s per run, {CONNECTIONS} connections, load "
        f"{os.getloadavg()[0]:.2f}"
    )
    results: dict[str, tuple[Result, Result]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        docroot = Path(tmp)
        (docroot / "hello.txt").write_bytes(b"Hello, world!")
        for name in [c.name for c in contenders(0, docroot)]:
            if args.only and not any(word in name for word in args.only):
                continue
            port = free_port()
            contender = next(c for c in contenders(port, docroot) if c.name == name)
            url = f"http://127.0.0.1:{port}{contender.path}"
            with running(contender, args.server_cpus) as proc:
                wait_until_serving(port, contender.path, proc)
                keepalive = run_wrk(url, seconds, args.client_cpus)
                time.sleep(0.3)
                per_connection = run_ab(url, seconds, args.client_cpus)
            results[contender.name] = (keepalive, per_connection)
            print(
                f"  {contender.name}: wrk {keepalive.rps:,.0f} req/s, "
                f"ab {per_connection.rps:,.0f} req/s",
                flush=True,
            )
            time.sleep(0.5)  # let TIME_WAIT and the CPU settle
    print_table(results)
    if not args.no_wsgi:
        import wsgi_bench

        print()
        print("WSGI, wrk keep-alive (bench/wsgi_bench.py):", flush=True)
        rows = wsgi_bench.run_all(seconds, args.server_cpus, args.client_cpus, args.only)
        print()
        print("\n".join(wsgi_bench.print_table(rows)))
    return 0


def ratio(value: float, base: tuple[Result, Result] | None, index: int) -> str:
    """``value`` over the ``index``-th (0: wrk, 1: ab) rate of ``base``."""
    reference = base[index].rps if base else 0.0
    return f"{value / reference:.2f}x" if reference else "-"


def print_table(results: dict[str, tuple[Result, Result]]) -> None:
    minimal = results.get("minimal epoll loop")
    uvicorn = results.get("uvicorn httptools+uvloop")
    print()
    header = (
        f"{'server':<26} {'wrk 1.1 ka req/s':>17} {'p99 ms':>8} {'vs minimal':>11} "
        f"{'vs uvicorn':>11} {'ab 1.0 req/s':>13} {'p99 ms':>7} {'vs minimal':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, (wrk, ab) in results.items():
        errors = ""
        if wrk.errors or ab.errors:
            errors = f"  (errors: wrk {wrk.errors}, ab {ab.errors})"
        print(
            f"{name:<26} {wrk.rps:>17,.0f} {wrk.p99_ms:>8.2f} {ratio(wrk.rps, minimal, 0):>11} "
            f"{ratio(wrk.rps, uvicorn, 0):>11} {ab.rps:>13,.0f} {ab.p99_ms:>7.0f} "
            f"{ratio(ab.rps, minimal, 1):>11}{errors}"
        )
    h10 = results.get("h10 --hello")
    if h10 is None:
        return
    print()
    checks = []
    if uvicorn:
        checks.append(("h10 keep-alive >= 4x uvicorn", h10[0].rps / uvicorn[0].rps, 4.0))
    if minimal:
        checks.append(
            ("h10 keep-alive >= 40% of the minimal loop", h10[0].rps / minimal[0].rps, 0.40)
        )
        checks.append(("h10 ab >= the minimal loop", h10[1].rps / minimal[1].rps, 1.0))
    for label, value, target in checks:
        verdict = "met" if value >= target else "MISSED"
        print(f"Target: {label}: {value:.2f} (target {target:g}) {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
