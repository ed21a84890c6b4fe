"""h11 against ``sansio.h11compat`` (the facade on the h10 core), side by side in one run.

1. Parse: microseconds per request through each library's h11 API, on ``parse.py``'s
   corpora and with its method (a new Connection per request; the pipelined stream is
   one connection that answers each request and starts the next cycle). Target: the
   facade at least 2.5x faster than h11 on every corpus.
2. uvicorn ``--http h11 --loop asyncio`` answering hello, on the facade
   (``python -m sansio.h11compat uvicorn ...``) and on h11: wrk, 50 keep-alive
   connections; the server pinned to one CPU, wrk to the other (``serve.py``'s way).
3. httpx: one client process making sequential GETs to ``python -m driver --hello``
   (each pinned to its own CPU), on the facade and on h11: requests per second.

    python bench/h11compat.py            # the full run (about two minutes)
    python bench/h11compat.py --quick    # a smoke run: same tables, rough numbers
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import timeit
from collections.abc import Callable
from functools import partial
from importlib.metadata import version

import h11
from parse import CORPORA, Corpus, Summary, h11_runners
from serve import run_wrk
from servers import SRC, default_cpus, free_port, running, wait_until_serving

from sansio import h11compat

TARGET = 2.5  # the facade must be at least this many times faster than h11 on every corpus
Runner = Callable[[bytes], Summary]


LIBRARIES = (("facade", h11compat), ("h11", h11))


def measure_parse(corpus: Corpus, repeat: int, seconds: float) -> dict[str, float]:
    """Microseconds per request: the best of ``repeat`` runs, interleaved."""
    timers = {}
    for name, lib in LIBRARIES:
        run = h11_runners(lib)[corpus.mode]
        got = run(corpus.data)
        if got != corpus.expected:
            raise SystemExit(f"{name} parsed {got} from {corpus.name}, expected {corpus.expected}")
        timer = timeit.Timer(partial(run, corpus.data))
        once = min(timer.repeat(repeat=3, number=1))
        timers[name] = (timer, max(1, int(seconds / max(once, 1e-7))))
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(repeat):
        for name, (timer, number) in timers.items():
            best[name] = min(best[name], timer.timeit(number) / number)
    return {name: 1e6 * t / corpus.expected[0] for name, t in best.items()}


def uvicorn_command(facade: bool, port: int) -> list[str]:
    launcher = ["-m", "sansio.h11compat", "uvicorn"] if facade else ["-m", "uvicorn"]
    return [
        sys.executable,
        *launcher,
        "hello_apps:asgi",
        *("--host", "127.0.0.1", "--port", str(port), "--http", "h11", "--loop", "asyncio"),
        *("--no-access-log", "--log-level", "warning"),
    ]


HTTPX_CLIENT = """
import sys, time
if sys.argv[1] == "facade":
    from sansio import h11compat
    h11compat.install()
import httpx
url, count = sys.argv[2], int(sys.argv[3])
with httpx.Client() as client:
    client.get(url)
    start = time.perf_counter()
    for _ in range(count):
        client.get(url).read()
    elapsed = time.perf_counter() - start
print(sys.modules["h11"].__name__, count / elapsed)
"""


def httpx_rps(kind: str, url: str, count: int, cpus: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        ["taskset", "-c", cpus, sys.executable, "-c", HTTPX_CLIENT, kind, url, str(count)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=True,
    ).stdout.split()
    expected = "sansio.h11compat" if kind == "facade" else "h11"
    if out[0] != expected:
        raise SystemExit(f"the httpx client ran on {out[0]}, not {expected}")
    return float(out[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: rough numbers")
    args = parser.parse_args(argv)
    repeat, seconds = (2, 0.02) if args.quick else (7, 0.2)
    wrk_seconds, httpx_count = (1, 200) if args.quick else (10, 5000)
    server_cpus, client_cpus = default_cpus()
    print(
        f"CPython {platform.python_version()}, h11 {version('h11')}, uvicorn "
        f"{version('uvicorn')}, httpx {version('httpx')}; load {os.getloadavg()[0]:.2f}"
    )

    print("\n1. Parse, us per request (facade = sansio.h11compat on the h10 core)")
    print(f"{'corpus':<18}{'facade':>9}{'h11':>9}{'vs h11':>9}  target")
    missed = 0
    for corpus in CORPORA:
        us = measure_parse(corpus, repeat, seconds)
        ratio = us["h11"] / us["facade"]
        verdict = "met" if ratio >= TARGET else "MISSED"
        missed += verdict == "MISSED"
        print(f"{corpus.name:<18}{us['facade']:>9.2f}{us['h11']:>9.2f}{ratio:>8.2f}x  {verdict}")
    print(f"Target: the facade at least {TARGET}x faster than h11 on every corpus")

    print(f"\n2. uvicorn --http h11 --loop asyncio, hello, wrk -c50 {wrk_seconds}s")
    print(f"   (server on CPU {server_cpus}, wrk on {client_cpus})")
    rps = {}
    for kind in ("facade", "h11"):
        port = free_port()
        with running(uvicorn_command(kind == "facade", port), server_cpus) as proc:
            wait_until_serving(port, "/", proc)
            result = run_wrk(f"http://127.0.0.1:{port}/", wrk_seconds, client_cpus, 50, "")
        rps[kind] = result.rps
        print(f"   on {kind:<7} {result.rps:>10,.0f} req/s  p99 {result.p99_ms:.2f} ms")
    print(f"   facade vs h11: {rps['facade'] / max(rps['h11'], 1e-9):.2f}x")

    print(f"\n3. httpx, {httpx_count} sequential GETs to python -m driver --hello")
    port = free_port()
    h10 = [sys.executable, "-m", "driver", "--hello", "-b", "127.0.0.1", "--port", str(port)]
    with running([*h10, "--no-access-log"], server_cpus) as proc:
        wait_until_serving(port, "/", proc)
        clients = {
            kind: httpx_rps(kind, f"http://127.0.0.1:{port}/", httpx_count, client_cpus)
            for kind in ("facade", "h11")
        }
    for kind, value in clients.items():
        print(f"   httpx on {kind:<7} {value:>10,.0f} req/s")
    print(f"   facade vs h11: {clients['facade'] / clients['h11']:.2f}x")
    return 1 if missed and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
