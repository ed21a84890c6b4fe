"""An application takes the connection over after a protocol switch: a real WebSocket
opening handshake (RFC 6455 §4) and echo, a CONNECT tunnel, and the refusals.

The server is the real loop on a thread; the client is a raw socket on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket

import driver
from driver.interfaces import Transport

from server_helpers import read_until_close, threaded_server, trigger  # noqa: F401

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def masked_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client-to-server frame (RFC 6455 §5.2: masked, FIN set, short payload)."""
    mask = os.urandom(4)
    body = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


class WebSocketEcho:
    """A minimal RFC 6455 server protocol: echoes text frames, answers a close."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Transport | None = None
        self.lost = False

    def connection_made(self, transport: Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while len(self.buffer) >= 6:
            opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            if len(self.buffer) < 6 + length:
                return
            mask, payload = self.buffer[2:6], self.buffer[6 : 6 + length]
            self.buffer = self.buffer[6 + length :]
            text = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
            if opcode == 0x8:
                self.transport.write(bytes([0x88, 0]))
                self.transport.close()
                return
            self.transport.write(bytes([0x81, len(text)]) + text)

    def eof_received(self) -> None:
        assert self.transport is not None
        self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = True


class Upper:
    """A tunnel's far end: answers every piece upper-cased."""

    def connection_made(self, transport: Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data.upper())

    def eof_received(self) -> None:
        self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        pass


class Switcher:
    """Upgrades /chat to WebSocket, tunnels CONNECT, switches /wrong without being
    asked, and answers everything else with a plain 200."""

    def __init__(self) -> None:
        self.protocols: list[WebSocketEcho] = []

    def handle_exchange(self, exchange: driver.Exchange) -> None:
        request = exchange.request
        if request.method == b"CONNECT":
            exchange.switch_protocol(Upper())
        elif request.target in (b"/chat", b"/wrong"):
            key = request.header(b"sec-websocket-key", b"")
            assert key is not None
            protocol = WebSocketEcho()
            self.protocols.append(protocol)
            exchange.switch_protocol(
                protocol,
                (
                    (b"Upgrade", b"websocket"),
                    (b"Connection", b"Upgrade"),
                    (b"Sec-WebSocket-Accept", accept_key(key)),
                ),
            )
        else:
            exchange.respond(driver.Reply(200, (), b"plain " + request.target))


def handshake(target: bytes = b"/chat", key: bytes = b"dGhlIHNhbXBsZSBub25jZQ==") -> bytes:
    return (
        b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def test_websocket_handshake_then_echo(trigger: list[str]) -> None:  # noqa: F811
    app = Switcher()
    with threaded_server(app, trigger) as server, server.connect() as sock:
        # A frame right behind the head: it must reach the new protocol, not HTTP.
        sock.sendall(handshake() + masked_frame(b"Hello"))
        head = read_head(sock)
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        # RFC 6455 §1.3's example key and its accept value.
        assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
        assert b"content-length" not in head.lower()
        assert read_exactly(sock, 7) == b"\x81\x05Hello"
        sock.sendall(masked_frame(b"again"))
        assert read_exactly(sock, 7) == b"\x81\x05again"
        sock.sendall(masked_frame(b"", opcode=0x8))
        assert read_until_close(sock) == b"\x88\x00"
    assert app.protocols[0].lost


def test_connect_opens_a_tunnel(trigger: list[str]) -> None:  # noqa: F811
    with threaded_server(Switcher(), trigger) as server, server.connect() as sock:
        sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nhello")
        head = read_head(sock)
        assert head.startswith(b"HTTP/1.1 200 Connection Established\r\n"), head
        assert read_exactly(sock, 5) == b"HELLO"
        sock.sendall(b"tunnel")
        assert read_exactly(sock, 6) == b"TUNNEL"
        sock.shutdown(socket.SHUT_WR)
        assert read_until_close(sock) == b""


def test_a_switch_the_request_did_not_ask_for_is_a_500(trigger: list[str]) -> None:  # noqa: F811
    request = b"GET /wrong HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: a2V5\r\n\r\n"
    with threaded_server(Switcher(), trigger) as server, server.connect() as sock:
        sock.sendall(request)
        assert read_head(sock).startswith(b"HTTP/1.1 500 ")


def test_an_upgrade_the_app_declines_keeps_speaking_http(trigger: list[str]) -> None:  # noqa: F811
    with threaded_server(Switcher(), trigger) as server, server.connect() as sock:
        sock.sendall(handshake(b"/declined"))
        head = read_head(sock)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert read_exactly(sock, len(b"plain /declined")) == b"plain /declined"
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_head(sock).startswith(b"HTTP/1.1 200 OK\r\n")
        assert read_exactly(sock, len(b"plain /next")) == b"plain /next"


def test_the_request_body_is_not_the_new_protocols(trigger: list[str]) -> None:  # noqa: F811
    request = handshake().replace(b"\r\n\r\n", b"\r\nContent-Length: 3\r\n\r\nabc")
    with threaded_server(Switcher(), trigger) as server, server.connect() as sock:
        sock.sendall(request + masked_frame(b"after"))
        assert read_head(sock).startswith(b"HTTP/1.1 101 ")
        assert read_exactly(sock, 7) == b"\x81\x05after"
