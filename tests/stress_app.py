"""The native application the stress scenarios serve: ``python tests/stress_app.py``.

- ``/upload``: reads the request body and throws it away, then answers 200 with the
  number of bytes it saw. With the streaming interface (``driver.is_streaming``) the
  body is consumed as it arrives; with the older whole-body interface the server
  holds it first (which is what the big-body scenario measures).
- ``/stream?BYTES``: a generated response of BYTES bytes in 64 KiB pieces, pulled by
  the server as the client drains it (an iterable body); with the older interface,
  which has no iterable bodies, it is built whole in memory.
- anything else: the files under ``--root`` (``driver.static.StaticFiles``).

The options are a subset of ``python -m driver``'s, and access logging is off;
``--simple`` serves the whole-body version even where streaming exists.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

import driver
from driver.static import StaticFiles

PIECE = 64 * 1024
_ZEROS = bytes(PIECE)


def _generate(size: int) -> Iterator[bytes]:
    while size > 0:
        piece = _ZEROS if size >= PIECE else _ZEROS[:size]
        size -= len(piece)
        yield piece


def _stream_size(target: bytes) -> int:
    _, _, query = target.partition(b"?")
    return int(query or b"0")


class WholeApp:
    """For the whole-body interface (before issue 8)."""

    def __init__(self, root: str) -> None:
        self.static = StaticFiles(root)

    def __call__(self, request: driver.HTTPRequest) -> driver.Reply:
        path = request.target.partition(b"?")[0]
        if path == b"/upload":
            return driver.Reply(200, (), b"%d" % len(request.body))
        if path == b"/stream":
            return driver.Reply(200, (), bytes(_stream_size(request.target)))
        return self.static(request)


class StreamingApp:
    """For the streaming interface (``handle_exchange``, issue 8)."""

    def __init__(self, root: str) -> None:
        self.static = StaticFiles(root)

    def handle_exchange(self, exchange: Any) -> None:
        request = exchange.request
        path = request.target.partition(b"?")[0]
        if path == b"/upload":
            seen = [0]

            def on_data(piece: bytes) -> None:
                seen[0] += len(piece)

            def on_end() -> None:
                exchange.respond(driver.Reply(200, (), b"%d" % seen[0]))

            exchange.read_body(on_data, on_end)
            return
        if path == b"/stream":
            body: Any = _generate(_stream_size(request.target))  # an iterable body (issue 8)
            exchange.respond(driver.Reply(200, (), body))
            return
        exchange.respond(self.static(request))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-b", "--bind", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=0)
    parser.add_argument("--root", default=os.curdir)
    parser.add_argument("--edge-triggered", action="store_true")
    for name in ("header", "body", "keepalive"):
        parser.add_argument(f"--{name}-timeout", type=float, default=60.0)
    parser.add_argument("--grace-period", type=float, default=10.0)
    parser.add_argument("--max-connections", type=int, default=0)
    parser.add_argument("--max-body-size", type=int, default=16 * 1024 * 1024)
    parser.add_argument(
        "--simple", action="store_true", help="a simple app (whole bodies) even if streaming exists"
    )
    args = parser.parse_args()
    config = driver.Config(
        host=args.bind,
        port=args.port,
        edge_triggered=args.edge_triggered,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        keepalive_timeout=args.keepalive_timeout,
        grace_period=args.grace_period,
        max_connections=args.max_connections,
        max_body_size=args.max_body_size,
        access_log=False,
    )
    streaming = hasattr(driver, "is_streaming") and not args.simple
    app: Any = StreamingApp(args.root) if streaming else WholeApp(args.root)
    driver.serve(app, config, what="stress app")


if __name__ == "__main__":
    main()
