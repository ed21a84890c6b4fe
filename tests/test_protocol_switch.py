"""Handing a connection over to another protocol, as h11 does: Upgrade + 101, CONNECT + 2xx.

Both sides end in SWITCHED_PROTOCOL, ``next_event`` returns PAUSED from then on, and
``trailing_data`` hands the bytes after the head to the next protocol. A server that
declines (any other final response) keeps speaking HTTP.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

import sansio
from sansio import (
    Data,
    EndOfMessage,
    InformationalResponse,
    Request,
    Response,
)

from helpers import feed

# RFC 6455 §1.3 and §4.2.2: the accept value is base64(SHA-1(key + this GUID)).
WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# RFC 6455 §5.7: a single-frame masked text message "Hello" (client to server), and the
# same unmasked (server to client).
MASKED_HELLO = bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
UNMASKED_HELLO = bytes([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + WEBSOCKET_GUID).digest())


def header(headers: sansio.Headers, name: bytes) -> bytes | None:
    values = [value for field, value in headers if field.lower() == name]
    return values[0] if len(values) == 1 else None


def tokens(value: bytes | None) -> set[bytes]:
    return {item.strip().lower() for item in (value or b"").split(b",")}


def test_the_rfc_6455_example_key_gives_the_rfc_accept_value() -> None:
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_websocket_opening_handshake_in_both_roles() -> None:
    """RFC 6455 §4.1 (client) and §4.2 (server), each side checking the other's head,
    with a frame right behind each head: it must come out as trailing data."""
    key = base64.b64encode(bytes(range(16)))  # §4.1: 16 bytes, base64: the nonce
    client = sansio.Connection(sansio.CLIENT)
    server = sansio.Connection(sansio.SERVER)

    handshake = Request(
        b"GET",
        b"/chat",
        (
            (b"Host", b"server.example.com"),
            (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Key", key),
            (b"Origin", b"http://example.com"),
            (b"Sec-WebSocket-Version", b"13"),
        ),
        b"1.1",
    )
    wire = client.send(handshake) + client.send(EndOfMessage())
    assert client.our_state is sansio.MIGHT_SWITCH_PROTOCOL
    # The client may send its first frame before it has the answer.
    server.receive_data(wire + MASKED_HELLO)

    # Server: §4.2.1, the checks on the client's handshake, then §4.2.2, the answer.
    request = server.next_event()
    assert isinstance(request, Request)
    assert request.method == b"GET" and request.http_version == b"1.1"
    assert header(request.headers, b"upgrade") == b"websocket"
    assert b"upgrade" in tokens(header(request.headers, b"connection"))
    assert header(request.headers, b"sec-websocket-version") == b"13"
    client_key = header(request.headers, b"sec-websocket-key")
    assert client_key is not None and len(base64.b64decode(client_key)) == 16
    assert server.next_event() == EndOfMessage()
    assert server.their_state is sansio.MIGHT_SWITCH_PROTOCOL
    assert server.next_event() is sansio.PAUSED  # the frame is not read as HTTP
    answer = InformationalResponse(
        101,
        (
            (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Accept", accept_key(client_key)),
        ),
    )
    wire = server.send(answer)
    assert wire.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert server.our_state is server.their_state is sansio.SWITCHED_PROTOCOL
    assert server.next_event() is sansio.PAUSED
    assert server.trailing_data == (MASKED_HELLO, False)

    # Client: §4.1, the checks on the server's answer.
    client.receive_data(wire + UNMASKED_HELLO)
    response = client.next_event()
    assert isinstance(response, InformationalResponse) and response.status_code == 101
    assert header(response.headers, b"upgrade") == b"websocket"
    assert b"upgrade" in tokens(header(response.headers, b"connection"))
    assert header(response.headers, b"sec-websocket-accept") == accept_key(key)
    assert client.our_state is client.their_state is sansio.SWITCHED_PROTOCOL
    assert client.next_event() is sansio.PAUSED
    assert client.trailing_data == (UNMASKED_HELLO, False)

    # Nothing more goes through the HTTP connection.
    for conn in (client, server):
        with pytest.raises(sansio.LocalProtocolError, match="SWITCHED_PROTOCOL"):
            conn.send(Data(b"x"))
    client.receive_data(b"")
    assert client.next_event() is sansio.PAUSED
    assert client.trailing_data == (UNMASKED_HELLO, True)


def test_connect_opens_a_tunnel_in_both_roles() -> None:
    client = sansio.Connection(sansio.CLIENT)
    server = sansio.Connection(sansio.SERVER)
    tls_hello = b"\x16\x03\x01\x00\x05hello"
    wire = client.send(Request(b"CONNECT", b"example.com:443", ((b"Host", b"example.com:443"),)))
    wire += client.send(EndOfMessage())
    assert wire == b"CONNECT example.com:443 HTTP/1.0\r\nHost: example.com:443\r\n\r\n"
    assert feed(server, [wire + tls_hello]) == [
        Request(b"CONNECT", b"example.com:443", ((b"host", b"example.com:443"),)),
        EndOfMessage(),
    ]
    assert server.their_state is sansio.MIGHT_SWITCH_PROTOCOL
    with pytest.raises(sansio.LocalProtocolError, match="CONNECT cannot have Content-Length"):
        server.send(Response(200, ((b"Content-Length", b"0"),)))
    wire = server.send(Response(200, reason=b"Connection Established"))
    assert wire == b"HTTP/1.0 200 Connection Established\r\n\r\n"  # no framing, no Connection
    assert server.our_state is server.their_state is sansio.SWITCHED_PROTOCOL
    assert server.trailing_data == (tls_hello, False)

    server_hello = b"\x16\x03\x03\x00\x02hi"
    assert feed(client, [wire + server_hello]) == [
        Response(200, (), b"1.0", b"Connection Established")
    ]
    assert client.our_state is client.their_state is sansio.SWITCHED_PROTOCOL
    assert client.trailing_data == (server_hello, False)


def test_a_declined_upgrade_keeps_the_connection_http() -> None:
    client = sansio.Connection(sansio.CLIENT)
    server = sansio.Connection(sansio.SERVER)
    upgrade = Request(
        b"GET", b"/", ((b"Host", b"x"), (b"Upgrade", b"h2c"), (b"Connection", b"Upgrade")), b"1.1"
    )
    feed(server, [client.send(upgrade) + client.send(EndOfMessage())])
    assert server.their_state is sansio.MIGHT_SWITCH_PROTOCOL
    wire = server.send(Response(200, ((b"Content-Length", b"2"),), b"1.1"))
    wire += server.send(Data(b"ok")) + server.send(EndOfMessage())
    assert server.our_state is server.their_state is sansio.DONE
    events = feed(client, [wire])
    assert [type(e) for e in events] == [Response, Data, EndOfMessage]
    assert client.our_state is client.their_state is sansio.DONE
    for conn in (client, server):
        conn.start_next_cycle()
    # The next exchange is plain HTTP again, and a 101 to it is refused.
    feed(server, [client.send(Request(b"GET", b"/2", ((b"Host", b"x"),), b"1.1"))])
    feed(server, [client.send(EndOfMessage())])
    with pytest.raises(sansio.LocalProtocolError, match="only a request with Upgrade"):
        server.send(InformationalResponse(101, ((b"Upgrade", b"h2c"),)))


def test_a_declined_connect_is_an_ordinary_response() -> None:
    server = sansio.Connection(sansio.SERVER)
    feed(server, [b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"])
    wire = server.send(Response(407, ((b"Content-Length", b"0"),), b"1.1"))
    assert wire.endswith(b"Content-Length: 0\r\nConnection: keep-alive\r\n\r\n")
    server.send(EndOfMessage())
    assert server.their_state is sansio.DONE


def test_a_101_needs_an_upgrade_field_and_a_proposal() -> None:
    server = sansio.Connection(sansio.SERVER)
    feed(server, [b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"])
    with pytest.raises(sansio.LocalProtocolError, match="needs an Upgrade field"):
        server.send(InformationalResponse(101))
    # HTTP/1.0: the Upgrade field is ignored (RFC 9110 §7.8), so nothing is proposed.
    old = sansio.Connection(sansio.SERVER)
    feed(old, [b"GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n"])
    assert old.their_state is sansio.MUST_CLOSE


def test_an_unsolicited_101_or_tunnel_is_refused_by_the_client() -> None:
    client = sansio.Connection(sansio.CLIENT)
    client.send(Request(b"GET", b"/", ((b"Host", b"x"),), b"1.1"))
    client.send(EndOfMessage())
    client.receive_data(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    with pytest.raises(sansio.RemoteProtocolError, match="only a request with Upgrade"):
        client.next_event()
    assert client.their_state is sansio.ERROR


def test_a_101_may_come_before_the_request_body_is_complete() -> None:
    client = sansio.Connection(sansio.CLIENT)
    headers = ((b"Host", b"x"), (b"Upgrade", b"foo"), (b"Content-Length", b"2"))
    client.send(Request(b"POST", b"/", headers, b"1.1"))
    feed(client, [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\n\r\n"])
    assert client.their_state is sansio.SWITCHED_PROTOCOL
    assert client.our_state is sansio.SEND_BODY
    client.send(Data(b"ab"))
    client.send(EndOfMessage())
    assert client.our_state is sansio.SWITCHED_PROTOCOL


def test_a_decline_before_the_request_body_is_complete() -> None:
    server = sansio.Connection(sansio.SERVER)
    feed(server, [b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nContent-Length: 2\r\n\r\n"])
    server.send(Response(200, ((b"Content-Length", b"0"),), b"1.1"))
    server.send(EndOfMessage())
    assert feed(server, [b"ab"]) == [Data(b"ab"), EndOfMessage()]
    assert server.their_state is sansio.DONE  # declined: never MIGHT_SWITCH_PROTOCOL


def test_a_decline_that_closes_leaves_the_client_must_close() -> None:
    # The client waited in MIGHT_SWITCH_PROTOCOL; a final response that declines and
    # says Connection: close ends the connection, not just the proposal.
    client = sansio.Connection(sansio.CLIENT)
    client.send(Request(b"GET", b"/", ((b"Host", b"x"), (b"Upgrade", b"foo")), b"1.1"))
    client.send(EndOfMessage())
    assert client.our_state is sansio.MIGHT_SWITCH_PROTOCOL
    events = feed(client, [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"])
    assert [type(e) for e in events] == [Response, EndOfMessage]
    assert client.our_state is sansio.MUST_CLOSE and client.their_state is sansio.MUST_CLOSE
    assert not client.keep_alive
