"""The ASGI application the h11compat integration tests serve with uvicorn ``--http h11``.

Every response says which ``h11`` the server process runs on (``x-h11``: the module's
name; ``x-h11-parser``: whether h11's own parser was ever imported) and which client
connection carried it (``x-client-port``), so a test can tell the facade from the real
h11 and a reused connection from a new one. Routes: ``/`` hello, ``/echo`` the request
body back (``x-chunked`` says whether it came chunked), ``/close`` hello with
``Connection: close``, ``/stream`` a body of unknown length (chunked on the wire).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    request_headers = dict(scope["headers"])
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    h11 = sys.modules.get("h11")
    headers = [
        (b"x-h11", getattr(h11, "__name__", "none").encode()),
        (b"x-h11-parser", b"yes" if "h11._readers" in sys.modules else b"no"),
        (b"x-client-port", str(scope["client"][1]).encode()),
        (b"x-chunked", b"yes" if b"transfer-encoding" in request_headers else b"no"),
    ]
    if path == "/echo":
        payload = body
    elif path == "/close":
        payload = b"hello"
        headers.append((b"connection", b"close"))
    else:
        payload = b"hello"
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hel", "more_body": True})
        await send({"type": "http.response.body", "body": b"lo"})
        return
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
