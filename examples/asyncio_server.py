"""The sansio core embedded in an asyncio ``Protocol``: a small keep-alive HTTP server.

    python examples/asyncio_server.py --port 8080
    curl -v http://127.0.0.1:8080/hello

The protocol object only moves bytes: ``data_received`` feeds the core, the events it
gives back are handled in order, and whatever ``send`` returns goes to the transport.
Keep-alive and pipelining come from the core: after a response, ``start_next_cycle``
is called when both sides are DONE, and the next buffered request is read at once.
Bad input gets the status the core suggests (``status_hint``) and the connection is
closed. The application is a tiny echo: it answers with the method, target, headers
count and body size of the request it got.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

import sansio

SERVER_NAME = b"h10-asyncio-example"


def application(
    request: sansio.Request, body: bytes
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body for one request."""
    if request.target == b"/":
        text = b"hello, world\n"
    else:
        text = b"%b %b: %d headers, %d body bytes\n" % (
            request.method,
            request.target,
            len(request.headers),
            len(body),
        )
    return 200, [(b"content-type", b"text/plain; charset=utf-8")], text


class HTTPProtocol(asyncio.Protocol):
    """One connection: the transport on one side, a ``sansio.Connection`` on the other."""

    def __init__(self) -> None:
        self.conn = sansio.Connection(sansio.SERVER)
        self.transport: asyncio.Transport | None = None
        self.request: sansio.Request | None = None
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        self.handle_events()

    def eof_received(self) -> bool:
        self.conn.receive_data(b"")
        self.handle_events()
        return False  # let asyncio close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def handle_events(self) -> None:
        conn = self.conn
        while self.transport is not None:
            try:
                event = conn.next_event()
            except sansio.RemoteProtocolError as exc:
                self.send_error(exc)
                return
            if event is sansio.NEED_DATA or event is sansio.PAUSED:
                # PAUSED: a pipelined request waits while we still owe a response;
                # that cannot happen here, as every response is sent synchronously.
                return
            if type(event) is sansio.Request:
                self.request, self.body = event, []
                if conn.they_are_waiting_for_100_continue:
                    self.write(conn.send(sansio.InformationalResponse(100)))
            elif type(event) is sansio.Data:
                self.body.append(event.data)
            elif type(event) is sansio.EndOfMessage:
                self.respond()
            elif type(event) is sansio.ConnectionClosed:
                self.close()
                return

    def respond(self) -> None:
        conn = self.conn
        request = self.request
        assert request is not None
        status, headers, body = application(request, b"".join(self.body))
        headers += [(b"server", SERVER_NAME), (b"content-length", b"%d" % len(body))]
        out = conn.send(sansio.Response(status, tuple(headers)))
        if request.method != b"HEAD":
            out += conn.send(sansio.Data(body))
        out += conn.send(sansio.EndOfMessage())
        self.write(out)
        self.request, self.body = None, []
        if conn.our_state is sansio.DONE and conn.their_state is sansio.DONE:
            conn.start_next_cycle()  # kept alive: read the next (maybe pipelined) request
        elif conn.our_state is sansio.MUST_CLOSE:
            self.close()

    def send_error(self, exc: sansio.RemoteProtocolError) -> None:
        """Answer bad input with the core's status, if a response is still owed; close."""
        if self.conn.our_state is sansio.SEND_RESPONSE:
            body = b"%d %b\n" % (exc.status_hint, str(exc).encode("ascii", "replace"))
            headers = (
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"server", SERVER_NAME),
                (b"content-length", b"%d" % len(body)),
                (b"connection", b"close"),
            )
            try:
                out = self.conn.send(sansio.Response(exc.status_hint, headers))
                out += self.conn.send(sansio.Data(body)) + self.conn.send(sansio.EndOfMessage())
            except sansio.LocalProtocolError:
                out = b""  # e.g. a status_hint the request's method cannot carry
            self.write(out)
        self.close()

    def write(self, data: bytes) -> None:
        if data and self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()  # flushes what is buffered, then closes
            self.transport = None


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HTTPProtocol, host, port)
    bound = server.sockets[0].getsockname()
    print(f"listening on http://{bound[0]}:{bound[1]}/", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="h10's sansio core in an asyncio server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
