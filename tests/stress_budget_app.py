"""The applications of the budget scenarios (``tests/stress_budget.py``), native and WSGI.

Native: ``python tests/stress_budget_app.py [--port P]`` serves a simple application;
WSGI: ``python -m driver --wsgi stress_budget_app:wsgi`` (from ``tests/``).

- ``/items?COUNT&SIZE``: COUNT items of SIZE bytes, as an iterable body (native) or the
  WSGI iterable (``/write-items``: through the ``write()`` callable instead);
- ``/report.csv?ROWS``: the README's example, ROWS rows of ``i,i*i`` (``report_rows``);
- ``/upload``: the length and SHA-256 of the request body (the simple app gets it whole);
- ``/close``: a reply that asks for ``Connection: close``;
- ``/events?COUNT&GAP``: COUNT small events, GAP seconds apart (a slow producer);
- ``/mixed?COUNT``: WSGI only, an iterable that also calls ``write()`` as it goes.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import driver

TEXT = ((b"content-type", b"text/plain"),)


def report_rows(rows: int) -> Iterator[bytes]:
    """The README's ``/report.csv`` generator."""
    return (b"%d,%d\n" % (i, i * i) for i in range(rows))


def items(count: int, size: int) -> Iterator[bytes]:
    return itertools.repeat(b"x" * size, count)


def events(count: int, gap: float) -> Iterator[bytes]:
    for i in range(count):
        if i:
            time.sleep(gap)
        yield b"data: %d %.6f\n\n" % (i, time.time())


def mixed(write: Callable[[bytes], None], count: int) -> Iterator[bytes]:
    for i in range(count):
        write(b"w%d\n" % i)
        yield b"y%d\n" % i


def _numbers(target: bytes, defaults: tuple[float, ...]) -> list[float]:
    query = target.partition(b"?")[2]
    given = [float(part) for part in query.split(b"&") if part] if query else []
    return given + list(defaults[len(given) :])


def app(request: driver.HTTPRequest) -> driver.Reply:
    path = request.target.partition(b"?")[0]
    if path == b"/items":
        count, size = _numbers(request.target, (1_000_000, 1))
        return driver.Reply(200, TEXT, items(int(count), int(size)))
    if path == b"/report.csv":
        (rows,) = _numbers(request.target, (1_000_000,))
        return driver.Reply(200, ((b"content-type", b"text/csv"),), report_rows(int(rows)))
    if path == b"/upload":
        body = b"%d %s" % (len(request.body), hashlib.sha256(request.body).hexdigest().encode())
        return driver.Reply(200, TEXT, body)
    if path == b"/close":
        return driver.Reply(200, ((b"connection", b"close"), *TEXT), b"closing")
    return driver.Reply(200, TEXT, b"ok")


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    target = (path + "?" + environ["QUERY_STRING"]).encode()
    if path in ("/items", "/write-items"):
        count, size = _numbers(target, (1_000_000, 1))
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        if path == "/items":
            return items(int(count), int(size))
        for item in items(int(count), int(size)):
            write(item)
        return []
    if path == "/report.csv":
        (rows,) = _numbers(target, (1_000_000,))
        start_response("200 OK", [("Content-Type", "text/csv")])
        return report_rows(int(rows))
    if path == "/events":
        count, gap = _numbers(target, (3, 1.0))
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return events(int(count), gap)
    if path == "/mixed":
        (count,) = _numbers(target, (1000,))
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        return mixed(write, int(count))
    if path == "/close":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
        return [b"closing"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-b", "--bind", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=0)
    parser.add_argument("--edge-triggered", action="store_true")
    args = parser.parse_args()
    config = driver.Config(
        host=args.bind, port=args.port, edge_triggered=args.edge_triggered, access_log=False
    )
    driver.serve(app, config, what="budget app")


if __name__ == "__main__":
    main()
