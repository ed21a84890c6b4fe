"""The WSGI applications ``wsgi_bench.py`` serves with every contender.

- ``hello``: 13 bytes with a Content-Length, the WSGI twin of ``--hello``;
- ``flask_app``: a Flask application whose ``/json`` route answers a small JSON
  document built from the query string (a typical API call);
- ``stream``: 200 MiB in 64 KiB pieces without a Content-Length (the memory run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

BODY = b"Hello, world!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "13")]
STREAM_MIB = 200


def hello(environ: dict[str, Any], start_response: Callable[..., object]) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]


def stream(environ: dict[str, Any], start_response: Callable[..., object]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def pieces() -> Iterator[bytes]:
        for _ in range(STREAM_MIB * 16):
            yield b"s" * 65536  # a new object each time, as generated data would be

    return pieces()


def _make_flask() -> Any:
    from flask import Flask, jsonify, request

    app = Flask("bench")

    @app.get("/json")
    def json_route() -> Any:
        return jsonify(hello=request.args.get("name", "world"), items=[1, 2, 3])

    return app


flask_app = _make_flask()
