"""Trailer fields (RFC 9110 §6.5.1): those that describe framing, routing,
authentication, request modifiers, response controls or content format are refused,
in either role, on the way in (400) and on the way out (``LocalProtocolError``, nothing
sent). ``sansio.allowed_in_trailers`` is the rule, for servers that build trailers."""

from __future__ import annotations

import pytest

import sansio
from sansio import EndOfMessage, LocalProtocolError, RemoteProtocolError, allowed_in_trailers

from helpers import first_message

HEAD = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
REFUSED = (
    b"Content-Length",
    b"transfer-encoding",
    b"Host",
    b"Connection",
    b"TE",
    b"Trailer",
    b"Authorization",
    b"Set-Cookie",
    b"Cache-Control",
    b"Range",
    b"Location",
    b"Content-Type",
    b"Content-Encoding",
    b"If-None-Match",
    b"if-modified-since",
    b"If-Schedule-Tag-Match",
)
ALLOWED = (b"X-Checksum", b"grpc-status", b"Server-Timing", b"Digest", b"ETag", b"Expect-CT")


@pytest.mark.parametrize(
    "field",
    [b"Content-Length: 99", b"Host: evil.example.com", b"Transfer-Encoding: chunked"],
)
def test_the_issue_table_trailers_are_refused(field: bytes) -> None:
    got = first_message(HEAD + b"X-Sum: 1\r\n" + field + b"\r\n\r\n")
    assert isinstance(got, RemoteProtocolError)
    assert got.status_hint == 400
    name = field.split(b":")[0].lower().decode()
    assert f"{name!r} cannot be a trailer field (RFC 9110 §6.5.1)" in str(got)


@pytest.mark.parametrize("name", REFUSED)
def test_every_ruled_out_field_is_refused_in_both_roles(name: bytes) -> None:
    assert not allowed_in_trailers(name)
    got = first_message(HEAD + name + b": x\r\n\r\n")
    assert isinstance(got, RemoteProtocolError) and got.status_hint == 400
    response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + name + b": x\r\n\r\n"
    client = sansio.Connection(sansio.CLIENT)
    client.send(sansio.Request(b"GET", b"/", ((b"Host", b"a"),), b"1.1"))
    client.send(EndOfMessage())
    client.receive_data(response)
    with pytest.raises(RemoteProtocolError, match="cannot be a trailer field"):
        list(client.events())


@pytest.mark.parametrize("name", ALLOWED)
def test_other_fields_are_trailers(name: bytes) -> None:
    assert allowed_in_trailers(name)
    got = first_message(HEAD + name + b": x\r\n\r\n")
    assert not isinstance(got, RemoteProtocolError), got
    assert got[-1] == EndOfMessage(((name.lower(), b"x"),))


@pytest.mark.parametrize("role", [sansio.CLIENT, sansio.SERVER])
@pytest.mark.parametrize("name", REFUSED)
def test_send_refuses_them_and_sends_nothing(role: sansio.Role, name: bytes) -> None:
    conn = sansio.Connection(role)
    if role is sansio.CLIENT:
        conn.send(
            sansio.Request(
                b"POST", b"/", ((b"Host", b"a"), (b"Transfer-Encoding", b"chunked")), b"1.1"
            )
        )
    else:
        peer = sansio.Connection(sansio.CLIENT)
        conn.receive_data(peer.send(sansio.Request(b"GET", b"/", ((b"Host", b"a"),), b"1.1")))
        conn.receive_data(peer.send(EndOfMessage()))
        list(conn.events())
        conn.send(sansio.Response(200, (), b"1.1"))
    with pytest.raises(LocalProtocolError, match="cannot be a trailer field"):
        conn.send(EndOfMessage(((b"X-Ok", b"1"), (name, b"x"))))
    assert conn.our_state is sansio.SEND_BODY  # nothing was sent: a 500 can still go out
    assert conn.send(EndOfMessage(((b"X-Ok", b"1"),))) == b"0\r\nX-Ok: 1\r\n\r\n"


@pytest.mark.parametrize("byte", [0x00, 0x01, 0x1F, 0x7F])
def test_a_control_byte_in_a_trailer_line_is_refused_naming_it(byte: int) -> None:
    data = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\nX-Sum: a%cb\r\n\r\n" % byte
    )
    outcome = first_message(data)
    assert isinstance(outcome, RemoteProtocolError)
    assert f"invalid character 0x{byte:02x} in trailer line" in str(outcome)
