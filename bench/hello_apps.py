"""The same 13-byte hello answer as ``python -m driver --hello``, for the peers that
``serve.py`` runs: an ASGI app for uvicorn and a WSGI app for waitress; and a 1 MiB
body from memory for uvicorn's TLS row (uvicorn serves no files: held in memory, the
body costs it no reads, a head start over a server that reads a file)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

BODY = b"Hello, world!"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]


BIG = bytes(1 << 20)
BIG_HEADERS = [(b"content-type", b"application/octet-stream"), (b"content-length", b"1048576")]
ASGIApp = Callable[
    [
        dict[str, Any],
        Callable[[], Awaitable[dict[str, Any]]],
        Callable[[dict[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def _asgi_answer(headers: list[tuple[bytes, bytes]], body: bytes) -> ASGIApp:
    """An ASGI app (uvicorn) that answers every request with ``body``."""

    async def app(
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


asgi = _asgi_answer(HEADERS, BODY)
"""ASGI hello (uvicorn)."""
asgi_big = _asgi_answer(BIG_HEADERS, BIG)
"""ASGI 1 MiB body (uvicorn's TLS file row)."""


def wsgi(environ: dict[str, Any], start_response: Callable[..., object]) -> Iterable[bytes]:
    """WSGI hello (waitress)."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [BODY]
