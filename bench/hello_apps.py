"""The same 13-byte hello answer as ``python -m driver --hello``, for the peers that
``serve.py`` runs: an ASGI app for uvicorn and a WSGI app for waitress; and a 1 MiB
body from memory for uvicorn's TLS row (uvicorn serves no files: held in memory, the
body costs it no reads, a head start over a server that reads a file)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

BODY = b"Hello, world!"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]


async def asgi(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """ASGI hello (uvicorn)."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


BIG = bytes(1 << 20)
BIG_HEADERS = [(b"content-type", b"application/octet-stream"), (b"content-length", b"1048576")]


async def asgi_big(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """ASGI 1 MiB body (uvicorn's TLS file row)."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": BIG_HEADERS})
    await send({"type": "http.response.body", "body": BIG})


def wsgi(environ: dict[str, Any], start_response: Callable[..., object]) -> Iterable[bytes]:
    """WSGI hello (waitress)."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [BODY]
