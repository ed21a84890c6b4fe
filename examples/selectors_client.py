"""The sansio core in the CLIENT role, driven by a ``selectors`` loop: fetch one URL.

    python examples/selectors_client.py http://127.0.0.1:8080/hello
    python examples/selectors_client.py --data 'some body' http://127.0.0.1:8080/echo

Prints the status line, the response headers, an empty line and the body, as received.
The socket is non-blocking: the request goes out as the socket accepts it, and every
read is handed to the core until the response has ended. HTTP/1.0 without keep-alive,
so the server may also end the body by closing. Exits 1 on any error or timeout.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import sys
import time
from urllib.parse import urlsplit

import sansio

USER_AGENT = b"h10-selectors-example"


def fetch(
    url: str, *, data: bytes | None = None, timeout: float = 10.0
) -> tuple[sansio.Response, bytes]:
    """GET (or POST ``data`` to) ``url``; return the response head and the whole body."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only http://host[:port]/path URLs are supported, not {url!r}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [(b"host", parts.netloc.encode("ascii")), (b"user-agent", USER_AGENT)]
    if data is not None:
        headers.append((b"content-length", b"%d" % len(data)))
    conn = sansio.Connection(sansio.CLIENT)
    method = b"GET" if data is None else b"POST"
    outgoing = conn.send(sansio.Request(method, target.encode("ascii"), tuple(headers)))
    if data:
        outgoing += conn.send(sansio.Data(data))
    outgoing += conn.send(sansio.EndOfMessage())

    deadline = time.monotonic() + timeout
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
    sock.setblocking(False)
    response: sansio.Response | None = None
    body: list[bytes] = []
    with sock, selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        pending = memoryview(outgoing)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise TimeoutError(f"no complete response from {url} within {timeout} s")
            if pending:
                try:
                    sent = sock.send(pending)
                except BlockingIOError:
                    continue
                pending = pending[sent:]
                if not pending:
                    selector.modify(sock, selectors.EVENT_READ)
                continue
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            conn.receive_data(chunk)  # b"" tells the core the server closed
            while True:
                event = conn.next_event()
                if event is sansio.NEED_DATA:
                    break
                if type(event) is sansio.Response:
                    response = event
                elif type(event) is sansio.Data:
                    body.append(event.data)
                elif type(event) is sansio.EndOfMessage:
                    assert response is not None
                    return response, b"".join(body)
                elif type(event) is sansio.ConnectionClosed:
                    raise ConnectionError("the server closed the connection before responding")
                # InformationalResponse (1xx): nothing to do but read on


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch a URL with h10's sansio core")
    parser.add_argument("url", help="http://host[:port]/path")
    parser.add_argument("--data", help="POST this (UTF-8) as the body instead of a GET")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    args = parser.parse_args(argv)
    data = None if args.data is None else args.data.encode("utf-8")
    try:
        response, body = fetch(args.url, data=data, timeout=args.timeout)
    except (OSError, ValueError, sansio.ProtocolError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    reason = b" " + response.reason if response.reason else b""
    out.write(b"HTTP/%b %d%b\n" % (response.http_version, response.status_code, reason))
    for name, value in response.headers:
        out.write(b"%b: %b\n" % (name, value))
    out.write(b"\n" + body)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
