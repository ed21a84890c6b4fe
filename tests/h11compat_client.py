"""A real httpx client, on the facade (``--facade``) or on h11, run as its own process.

``python tests/h11compat_client.py [--facade] URL`` runs every scenario against the
uvicorn server at URL and against a small raw server of its own (canned responses:
a 100 before the final response, a close-delimited body, a malformed head), then
prints one JSON object: for each scenario, what httpx saw. The test
(``test_h11compat_integration.py``) asserts on it. ``install()`` comes before httpx is
imported, so httpcore imports the facade as ``h11``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

FACADE = "--facade" in sys.argv
if FACADE:
    from sansio import h11compat

    h11compat.install()

import httpx  # noqa: E402  (after install(), deliberately)

CANNED = {
    b"/continue": (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    ),
    b"/eof": b"HTTP/1.1 200 OK\r\n\r\nbody until close",
    b"/malformed": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
}


def raw_server() -> int:
    """A server on a thread that answers each connection's first request from CANNED
    and closes (bounded: 32 connections, then it stops).

    It half-closes and drains before closing: closing with a request body still unread
    would reset the connection, and the client could see the reset before the answer."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(32):
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    piece = conn.recv(65536)
                    if not piece:
                        break
                    head += piece
                target = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
                conn.sendall(CANNED.get(target, b"HTTP/1.1 404 Not Found\r\n\r\n"))
                conn.shutdown(socket.SHUT_WR)
                with contextlib.suppress(OSError):
                    while conn.recv(65536):
                        pass

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1])


def seen(response: httpx.Response) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "http_version": response.http_version,
        "body": response.text,
        "headers": {k: v for k, v in response.headers.items()},
    }


def chunks() -> Iterator[bytes]:
    yield b"chunk one, "
    yield b"chunk two"


def main() -> None:
    url = next(arg for arg in sys.argv[1:] if arg.startswith("http"))
    raw = f"http://127.0.0.1:{raw_server()}"
    out: dict[str, Any] = {}
    with httpx.Client(timeout=10) as client:
        out["get"] = seen(client.get(url + "/"))
        out["head"] = seen(client.head(url + "/"))
        out["post_length"] = seen(client.post(url + "/echo", content=b"x" * 1000))
        out["post_chunked"] = seen(client.post(url + "/echo", content=chunks()))
        out["keep_alive"] = [seen(client.get(url + "/")) for _ in range(3)]
        out["expect_continue"] = seen(
            client.post(url + "/echo", content=b"body", headers={"Expect": "100-continue"})
        )
        out["upgrade_declined"] = [
            seen(client.get(url + "/", headers={"Upgrade": "foo/1", "Connection": "upgrade"})),
            seen(client.get(url + "/")),
        ]
        out["server_closes"] = [seen(client.get(url + "/close")), seen(client.get(url + "/"))]
        out["stream"] = seen(client.get(url + "/stream"))
        out["raw_continue"] = seen(client.post(raw + "/continue", content=b"x"))
        out["raw_eof"] = seen(client.get(raw + "/eof"))
        try:
            client.get(raw + "/malformed")
            out["raw_malformed"] = "accepted"
        except httpx.RemoteProtocolError as exc:
            out["raw_malformed"] = f"RemoteProtocolError: {exc}"
    out["client_h11"] = sys.modules["h11"].__name__  # httpx imports it on first use
    out["client_parser_loaded"] = "h11._readers" in sys.modules
    print(json.dumps(out))


if __name__ == "__main__":
    main()
