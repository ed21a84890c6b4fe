"""Parse benchmark: microseconds per request for h10, h11 and httptools, side by side.

Each parser does the full work a server does to get a request: feed the bytes, take
the request (method, target, version, headers) and its body, up to the end of the
message. h10 and h11 get a new Connection per request; the pipelined stream is one
connection fed at once, where both also send a minimal response (Response +
EndOfMessage) and call ``start_next_cycle`` between requests, because h11 cannot cycle
otherwise. The keep-alive row is one connection too, but each request arrives only after
the previous response and ``start_next_cycle()``, as on a real kept-alive connection: the
server's first ``next_event()`` of each cycle finds an empty buffer. httptools gets a
new ``HttpRequestParser`` per request (one for a whole stream) with
url/header/headers-complete/body/message-complete callbacks; it needs no response to
move on.

Timing is ``timeit`` with garbage collection off, repeats interleaved across parsers so
that a noisy spell on a shared machine hits all three, and the minimum taken.

    python bench/parse.py            # the full run (about a minute)
    python bench/parse.py --quick    # a smoke run: same table, rough numbers
    python bench/parse.py --baseline /tmp/main/src   # also time another copy of the core

``--baseline SRC`` loads a second copy of ``sansio`` from ``SRC/sansio`` (say, from
``git archive main src | tar -x -C /tmp/main``) and times it as ``h10-base`` in the
same interleaved run, so that a change to the core is measured before and after under
the same load.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import h11
import httptools

import sansio

TARGET = 6.0  # h10 must be at least this many times faster than h11 on every corpus

# (requests, header fields, body bytes) that a run parsed; checked before timing.
Summary = tuple[int, int, int]
Runner = Callable[[bytes], Summary]

_COOKIE = (
    b"_ga=GA1.1.1712245839.1714121234; _ga_XYZ123ABC=GS1.1.1714121234.1.1.1714121299.0.0.0; "
    b"sessionid=8f2c9d4e7a1b3c5d6e7f8a9b0c1d2e3f; csrftoken=Zx8PqL2mN4vB6cX1zA3sD5fG7hJ9kL0q"
    b"WeRtYuIoP1aS2dF3gH4jK5lZ6xC7vB8; theme=dark; lang=en-US; tz=Europe%2FBerlin; "
    b"consent=%7B%22analytics%22%3Atrue%2C%22marketing%22%3Afalse%7D; "
    b"recently_viewed=1043%2C2981%2C3310%2C4472%2C5123; cart=eyJpdGVtcyI6W3siaWQiOjQyLCJxIjoyfV19"
)

_BROWSER_GET = (
    b"GET /static/index.html?utm_source=newsletter&utm_medium=email HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"Connection: keep-alive\r\n"
    b'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"\r\n'
    b"sec-ch-ua-mobile: ?0\r\n"
    b'sec-ch-ua-platform: "Linux"\r\n'
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/124.0.0.0 Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    b"image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
    b"Sec-Fetch-Site: none\r\n"
    b"Sec-Fetch-Mode: navigate\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
    b"Cookie: " + _COOKIE + b"\r\n"
    b"\r\n"
)

_WRK_GET = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"

_BODY = bytes(range(256)) * 4
_POST = (
    b"POST /submit HTTP/1.0\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Length: 1024\r\n"
    b"\r\n" + _BODY
)

PIPELINED = 1000
KEPT_ALIVE = 1000

Mode = Literal["one", "pipelined", "keep-alive"]


@dataclass(frozen=True)
class Corpus:
    name: str
    description: str
    data: bytes
    expected: Summary
    mode: Mode = "one"


CORPORA = (
    Corpus("get-1.0-minimal", "GET / HTTP/1.0, no headers", b"GET / HTTP/1.0\r\n\r\n", (1, 0, 0)),
    Corpus("get-1.1-wrk", "GET / HTTP/1.1 + Host, as wrk sends it", _WRK_GET, (1, 1, 0)),
    Corpus("get-1.1-browser", "13-header Chrome GET with cookies", _BROWSER_GET, (1, 13, 0)),
    Corpus("post-1.0-1KiB", "POST HTTP/1.0, Content-Length: 1024 + body", _POST, (1, 2, 1024)),
    Corpus(
        "pipelined-1000",
        f"{PIPELINED} pipelined wrk-style 1.1 GETs, one connection (per request)",
        _WRK_GET * PIPELINED,
        (PIPELINED, PIPELINED, 0),
        mode="pipelined",
    ),
    Corpus(
        "keep-alive-1000",
        f"{KEPT_ALIVE} wrk-style 1.1 GETs, one connection, each after the last response",
        _WRK_GET,
        (KEPT_ALIVE, KEPT_ALIVE, 0),
        mode="keep-alive",
    ),
)


# -- h10 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runners:
    """One parser's runner for each mode."""

    one: Runner
    pipelined: Runner
    keep_alive: Runner

    def __getitem__(self, mode: Mode) -> Runner:
        return {"one": self.one, "pipelined": self.pipelined, "keep-alive": self.keep_alive}[mode]


def event_runners(lib: Any, response: object, label: str) -> Runners:
    """The runners for a library with h11's event API (``sansio``, a ``--baseline`` copy
    of it, ``h11``, ``sansio.h11compat``); ``response`` is its 200 with an empty body.
    One body for all, so each is measured by the same loop."""
    connection, server = lib.Connection, lib.SERVER
    request_type, data_type, end_type = lib.Request, lib.Data, lib.EndOfMessage
    need_data = lib.NEED_DATA
    end = lib.EndOfMessage()

    def one(data: bytes) -> Summary:
        conn = connection(server)
        conn.receive_data(data)
        headers = body = 0
        while True:
            event = conn.next_event()
            if type(event) is request_type:
                headers += len(event.headers)
            elif type(event) is data_type:
                body += len(event.data)
            elif type(event) is end_type:
                return 1, headers, body
            else:
                raise AssertionError(f"{label}: unexpected {event!r}")

    def pipelined(data: bytes) -> Summary:
        conn = connection(server)
        conn.receive_data(data)
        requests = headers = body = 0
        while True:
            event = conn.next_event()
            if type(event) is request_type:
                requests += 1
                headers += len(event.headers)
            elif type(event) is data_type:
                body += len(event.data)
            elif type(event) is end_type:
                conn.send(response)
                conn.send(end)
                conn.start_next_cycle()
            elif event is need_data:
                return requests, headers, body
            else:
                raise AssertionError(f"{label}: unexpected {event!r}")

    def keep_alive(data: bytes) -> Summary:
        conn = connection(server)
        requests = headers = body = 0
        for _ in range(KEPT_ALIVE):
            event = conn.next_event()  # the buffer is empty: a server asks, then waits
            if event is not need_data:
                raise AssertionError(f"{label}: unexpected {event!r}")
            conn.receive_data(data)
            while True:
                event = conn.next_event()
                if type(event) is request_type:
                    requests += 1
                    headers += len(event.headers)
                elif type(event) is data_type:
                    body += len(event.data)
                elif type(event) is end_type:
                    conn.send(response)
                    conn.send(end)
                    conn.start_next_cycle()
                    break
                else:
                    raise AssertionError(f"{label}: unexpected {event!r}")
        return requests, headers, body

    return Runners(one, pipelined, keep_alive)


def h10_runners(core: ModuleType) -> Runners:
    """The h10 runners over ``core``: ``sansio`` itself, or a ``--baseline`` copy."""
    return event_runners(core, core.Response(200, ((b"content-length", b"0"),)), "h10")


def load_baseline(src: Path) -> ModuleType:
    """A second copy of the core, from ``src/sansio``, imported as ``sansio_baseline``."""
    init = src / "sansio" / "__init__.py"
    if not init.is_file():
        raise SystemExit(f"--baseline: no {init}")
    spec = importlib.util.spec_from_file_location(
        "sansio_baseline", init, submodule_search_locations=[str(init.parent)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # before running it: its relative imports need it
    spec.loader.exec_module(module)
    return module


# -- h11 ------------------------------------------------------------------------------


def h11_runners(lib: ModuleType = h11) -> Runners:
    """The runners over ``h11``, or anything with its API (``sansio.h11compat``)."""
    response = lib.Response(status_code=200, headers=[(b"content-length", b"0")])
    return event_runners(lib, response, lib.__name__)


# -- httptools ------------------------------------------------------------------------


class _Sink:
    """What a server (uvicorn's httptools protocol, say) collects from the callbacks."""

    __slots__ = ("body", "headers", "method", "parser", "requests", "url", "version")
    parser: httptools.HttpRequestParser  # set right after construction

    def __init__(self) -> None:
        self.requests = 0
        self.url = b""
        self.method = b""
        self.version = ""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.method = self.parser.get_method()
        self.version = self.parser.get_http_version()

    def on_body(self, body: bytes) -> None:
        self.body += len(body)

    def on_message_complete(self) -> None:
        self.requests += 1


def httptools_parse(data: bytes) -> Summary:
    sink = _Sink()
    sink.parser = parser = httptools.HttpRequestParser(sink)
    parser.feed_data(data)
    return sink.requests, len(sink.headers), sink.body


def httptools_keep_alive(data: bytes) -> Summary:
    sink = _Sink()
    sink.parser = parser = httptools.HttpRequestParser(sink)
    for _ in range(KEPT_ALIVE):
        parser.feed_data(data)
    return sink.requests, len(sink.headers), sink.body


PARSERS: dict[str, Runners] = {
    "h10": h10_runners(sansio),
    "h11": h11_runners(),
    "httptools": Runners(httptools_parse, httptools_parse, httptools_keep_alive),
}


# -- measuring ------------------------------------------------------------------------


def measure(
    corpus: Corpus, repeat: int, seconds: float, parsers: dict[str, Runners]
) -> dict[str, float]:
    """Microseconds per request for each parser: the best of ``repeat`` interleaved runs."""
    timers = {}
    for name, runners in parsers.items():
        run = runners[corpus.mode]
        got = run(corpus.data)
        if got != corpus.expected:
            raise SystemExit(f"{name} parsed {got} from {corpus.name}, expected {corpus.expected}")
        timer = timeit.Timer(partial(run, corpus.data))
        once = min(timer.repeat(repeat=3, number=1))
        number = max(1, int(seconds / max(once, 1e-7)))
        timers[name] = (timer, number)
    best = dict.fromkeys(timers, float("inf"))
    order = list(timers.items())
    for _ in range(repeat):
        for name, (timer, number) in order:
            best[name] = min(best[name], timer.timeit(number) / number)
        order.append(order.pop(0))  # each parser in each position in turn: no place is favoured
    requests = corpus.expected[0]
    return {name: 1e6 * t / requests for name, t in best.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (rough numbers)")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per parser (min wins)")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="SRC",
        help="also time the copy of the core in SRC/sansio, as h10-base",
    )
    args = parser.parse_args(argv)
    parsers = dict(PARSERS)
    if args.baseline is not None:
        parsers = {"h10": PARSERS["h10"], "h10-base": h10_runners(load_baseline(args.baseline))}
        parsers.update(PARSERS)
    repeat = args.repeat or (2 if args.quick else 9)
    seconds = 0.005 if args.quick else 0.2

    print(
        f"h10 parse benchmark: {platform.python_implementation()} {platform.python_version()}, "
        f"h10 {version('h10')}, h11 {version('h11')}, httptools {version('httptools')}"
    )
    print(
        f"microseconds per request, min of {repeat} interleaved repeats"
        f" of ~{seconds * 1000:.0f} ms each{' (--quick: rough)' if args.quick else ''}"
    )
    print()
    base = "h10-base" in parsers
    header = (
        f"{'corpus':<17} {'h10 us':>8} {'h11 us':>8} {'httptools us':>13} "
        f"{'h11/h10':>8} {'h10/httptools':>14}  target"
        + (f" {'h10-base us':>12} {'h10/base':>9}" if base else "")
    )
    print(header)
    print("-" * len(header))
    misses = []
    for corpus in CORPORA:
        us = measure(corpus, repeat, seconds, parsers)
        speedup = us["h11"] / us["h10"]
        met = speedup >= TARGET
        if not met:
            misses.append(corpus.name)
        print(
            f"{corpus.name:<17} {us['h10']:>8.2f} {us['h11']:>8.2f} {us['httptools']:>13.2f} "
            f"{speedup:>7.1f}x {us['h10'] / us['httptools']:>13.1f}x  "
            f"{'met   ' if met else 'MISSED'}"
            + (f" {us['h10-base']:>12.2f} {us['h10'] / us['h10-base']:>8.3f}x" if base else ""),
            flush=True,
        )
    print()
    for corpus in CORPORA:
        print(f"  {corpus.name:<17} {corpus.description} ({len(corpus.data)} bytes)")
    print()
    print(
        "  h10 and h11: a new Connection per request; on pipelined-1000 one Connection,\n"
        "  and both send a minimal Response + EndOfMessage and call start_next_cycle()\n"
        "  between requests (h11 cannot cycle otherwise), so that row includes that\n"
        "  send work; keep-alive-1000 likewise, each request fed only after the previous\n"
        "  response and start_next_cycle(). httptools: HttpRequestParser with on_url/on_header/\n"
        "  on_headers_complete (get_method, get_http_version)/on_body/on_message_complete."
    )
    print()
    verdict = "met on every corpus" if not misses else f"MISSED on {', '.join(misses)}"
    print(f"Target: h10 at least {TARGET:.0f}x faster than h11 on every corpus: {verdict}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
