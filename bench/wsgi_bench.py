"""WSGI servers side by side: h10 (its thread pool and ``--threads 0``) against waitress,
gunicorn sync and gunicorn gthread, one worker process each.

One run starts each server in turn, pinned to one CPU (``taskset``), and loads it
from another CPU with ``wrk -t1 -c50`` (HTTP/1.1 keep-alive) on two workloads:

- WSGI hello (``wsgi_bench_apps:hello``, 13 bytes), and
- a Flask JSON route (``wsgi_bench_apps:flask_app``, ``GET /json?name=bench``),

and prints requests per second, p99 latency, the server's CPU time per request (user
+ system, its whole process tree: a measure that holds up better than requests per
second when other work shares the machine) and the ratios to waitress the project
aims for (issue 9): h10 with its default pool >= 1.5x waitress on hello and >= 1.2x
on Flask; h10 inline (``--threads 0``) >= 2x waitress on both. Then the memory run:
h10 streams 200 MiB to a client that reads slower than the application writes, and
the server's RSS growth is reported (target: < 32 MiB).

Usage::

    python bench/wsgi_bench.py                 # about 1 minute: 5 s per server
    python bench/wsgi_bench.py --seconds 2     # quicker, rougher
    python bench/wsgi_bench.py --only hello    # one workload
    python bench/wsgi_bench.py --fifo          # on a machine busy with other work

Needs wrk, taskset, waitress, gunicorn and flask. Numbers are only comparable within
one run; say how loaded the machine was (the header prints the load average).
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
import time
from dataclasses import dataclass
from pathlib import Path

from servers import default_cpus, free_port, latency_ms, running, wait_until_serving

HERE = Path(__file__).resolve().parent
CONNECTIONS = 50
GTHREAD_THREADS = 4
MIB = 1024 * 1024


@dataclass(frozen=True)
class Contender:
    name: str
    command: list[str]


@dataclass
class Result:
    rps: float = 0.0
    p99_ms: float = 0.0
    cpu_us: float = 0.0
    errors: int = 0


WORKLOADS = {
    "hello": ("wsgi_bench_apps:hello", "/"),
    "flask": ("wsgi_bench_apps:flask_app", "/json?name=bench"),
}


def contenders(app: str, port: int) -> list[Contender]:
    py = sys.executable
    h10 = [py, "-m", "driver", "--wsgi", app, "-b", "127.0.0.1", "-p", str(port), "--no-access-log"]
    gunicorn = [
        py,
        "-m",
        "gunicorn",
        "-w",
        "1",
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    return [
        Contender("h10 (default threads)", h10),
        Contender("h10 --threads 0", [*h10, "--threads", "0"]),
        Contender("waitress", [py, "-m", "waitress", "--host=127.0.0.1", f"--port={port}", app]),
        Contender("gunicorn sync", [*gunicorn, app]),
        Contender(
            f"gunicorn gthread ({GTHREAD_THREADS} threads)",
            [*gunicorn, "-k", "gthread", "--threads", str(GTHREAD_THREADS), app],
        ),
    ]


NICE: list[str] = []  # ["nice", "-n", N] (--nice) or ["chrt", "-f", "10"] (--fifo)


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with (
                contextlib.suppress(OSError, IndexError, ValueError),
                open(f"/proc/{entry}/stat") as f,
            ):
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
    found = [pid]
    for candidate in found:
        found.extend(child for child, parent in parents.items() if parent == candidate)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants (gunicorn's workers)."""
    ticks = 0
    for member in _descendants(pid):
        with contextlib.suppress(OSError):
            with open(f"/proc/{member}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, seconds: int, cpus: str, server_pid: int) -> Result:
    cpu_before = tree_cpu_seconds(server_pid)
    out = subprocess.run(
        [
            *NICE,
            *("taskset", "-c", cpus, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s"),
            *("--latency", "--timeout", "5s", url),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    cpu = tree_cpu_seconds(server_pid) - cpu_before
    result = Result()
    if match := re.search(r"Requests/sec:\s+([\d.]+)", out):
        result.rps = float(match.group(1))
    if match := re.search(r"(\d+) requests in", out):
        result.cpu_us = cpu / max(1, int(match.group(1))) * 1e6
    if match := re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", out, re.MULTILINE):
        result.p99_ms = latency_ms(match.group(1), match.group(2))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        # Read errors are how wrk counts a server closing after each response
        # (gunicorn sync has no keep-alive); they are not failures.
        result.errors += int(match.group(1)) + int(match.group(3)) + int(match.group(4))
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        result.errors += int(match.group(1))
    return result


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def memory_run(extra: list[str], cpus: str) -> tuple[float, float]:
    """RSS growth (MiB) of h10 streaming 200 MiB to a slow reader, and the seconds it took."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "driver",
        "--wsgi",
        "wsgi_bench_apps:stream",
        "-b",
        "127.0.0.1",
    ]
    command += ["-p", str(port), "--no-access-log", *extra]
    with running(command, cpus, prefix=NICE) as proc:
        wait_until_serving_head(port, proc)
        before = peak = rss(proc.pid)
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            received = 0
            while chunk := sock.recv(256 * 1024):
                received += len(chunk)
                time.sleep(0.002)  # at most 128 MiB/s: slower than the application
                if received % (8 * MIB) < len(chunk):
                    peak = max(peak, rss(proc.pid))
        return (peak - before) / MIB, time.monotonic() - started


def wait_until_serving_head(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        time.sleep(0.05)
    raise RuntimeError("server did not accept in 30 s")


TARGETS = {
    ("hello", "h10 (default threads)"): 1.5,
    ("flask", "h10 (default threads)"): 1.2,
    ("hello", "h10 --threads 0"): 2.0,
    ("flask", "h10 --threads 0"): 2.0,
}


def print_table(results: dict[str, dict[str, Result]]) -> list[str]:
    lines = []
    header = (
        f"{'workload':<8} {'server':<28} {'req/s':>9} {'p99 ms':>8} {'cpu us/req':>11} "
        f"{'vs waitress':>12} {'cpu vs waitress':>16}"
    )
    lines += [header, "-" * len(header)]
    for workload, rows in results.items():
        base = rows.get("waitress")
        for name, r in rows.items():
            ratio = f"{r.rps / base.rps:.2f}x" if base and base.rps else "-"
            cpu_ratio = f"{base.cpu_us / r.cpu_us:.2f}x" if base and r.cpu_us else "-"
            errors = f"  (errors: {r.errors})" if r.errors else ""
            lines.append(
                f"{workload:<8} {name:<28} {r.rps:>9,.0f} {r.p99_ms:>8.2f} {r.cpu_us:>11.1f} "
                f"{ratio:>12} {cpu_ratio:>16}{errors}"
            )
    lines.append("")
    for (workload, name), target in TARGETS.items():
        rows = results.get(workload, {})
        if name in rows and "waitress" in rows and rows["waitress"].rps:
            value = rows[name].rps / rows["waitress"].rps
            verdict = "met" if value >= target else "MISSED"
            lines.append(
                f"Target: {workload} {name} >= {target:g}x waitress: {value:.2f}x {verdict}"
            )
    return lines


def run_all(
    seconds: int, server_cpus: str, client_cpus: str, only: list[str]
) -> dict[str, dict[str, Result]]:
    """Every workload on every contender (those matching ``only``, if given)."""
    results: dict[str, dict[str, Result]] = {}
    for workload, (app, path) in WORKLOADS.items():
        for index in range(len(contenders(app, 0))):
            port = free_port()
            contender = contenders(app, port)[index]
            if only and not any(
                w in (workload, contender.name) or w in contender.name for w in only
            ):
                continue
            with running(contender.command, server_cpus, prefix=NICE) as proc:
                wait_until_serving(port, path, proc)
                result = run_wrk(f"http://127.0.0.1:{port}{path}", seconds, client_cpus, proc.pid)
            results.setdefault(workload, {})[contender.name] = result
            print(
                f"  {workload} {contender.name}: {result.rps:,.0f} req/s, "
                f"{result.cpu_us:.1f} us CPU/request",
                flush=True,
            )
            time.sleep(0.5)  # let TIME_WAIT and the CPU settle
    return results


def main(argv: list[str] | None = None) -> int:
    server_default, client_default = default_cpus()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--server-cpus", default=server_default, help="taskset list for servers")
    parser.add_argument("--client-cpus", default=client_default, help="taskset list for wrk")
    parser.add_argument("--only", action="append", default=[], help="workloads or servers to run")
    parser.add_argument("--no-memory", action="store_true", help="skip the 200 MiB memory run")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run servers and wrk at this niceness (e.g. -10 on a shared machine, as root)",
    )
    parser.add_argument(
        "--fifo",
        action="store_true",
        help="run servers and wrk under SCHED_FIFO (chrt -f 10, as root): other work on "
        "the machine then cannot take their CPUs; the kernel still keeps 5%% for others",
    )
    args = parser.parse_args(argv)
    if args.fifo:
        NICE[:] = ["chrt", "-f", "10"]
    elif args.nice:
        NICE[:] = ["nice", "-n", str(args.nice)]
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    print(
        f"server CPUs {args.server_cpus}, client CPUs {args.client_cpus}, {args.seconds} s per "
        f"run, {CONNECTIONS} connections, {' '.join(NICE) or 'default priority'}, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results = run_all(args.seconds, args.server_cpus, args.client_cpus, args.only)
    print()
    print("\n".join(print_table(results)))
    if not args.no_memory:
        print()
        for label, extra in (("default threads", []), ("--threads 0", ["--threads", "0"])):
            growth, seconds = memory_run(extra, args.server_cpus)
            verdict = "met" if growth < 32 else "MISSED"
            print(
                f"Memory: 200 MiB streamed to a slow reader, h10 {label}: RSS grew "
                f"{growth:.1f} MiB in {seconds:.1f} s (target < 32 MiB) {verdict}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
