"""The framing facts the core exports for a server around it: each agrees with what the
core itself reads and writes, so a driver that asks them cannot drift from the core.

``response_has_body(method, status)``: RFC 9112 §6.3 rules 1 and 2. ``HOP_BY_HOP_FIELDS``:
RFC 9110 §7.6.1's connection-specific names. ``allowed_in_trailers``: RFC 9110 §6.5.1
(its own tests are in ``test_trailers.py``). ``request_has_body(headers)``: RFC 9112 §6.3
rules 4 to 6, for a request the core has read. ``field_error(name, value)``: the field
grammar ``send`` applies (RFC 9110 §5.5, §5.6.2).
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

import sansio
from sansio import strategies as hs

from helpers import feed

METHODS = (b"GET", b"HEAD", b"POST", b"CONNECT", b"OPTIONS", b"DELETE")


def test_no_body_after_head_or_with_1xx_204_304_or_a_tunnel() -> None:
    has = sansio.response_has_body
    assert has(b"GET", 200) and has(b"POST", 404) and has(None, 200) and has(b"HEAD", 0) is False
    assert not has(b"HEAD", 200) and not has(b"HEAD", 500)
    assert not any(has(b"GET", status) for status in (100, 101, 103, 204, 304))
    assert not has(b"CONNECT", 200) and not has(b"CONNECT", 299)
    assert has(b"CONNECT", 407) and has(b"CONNECT", 300)
    assert has(b"get", 200)  # methods are case-sensitive: b"get" is not HEAD


def _target(method: bytes) -> bytes:
    return b"x:1" if method == b"CONNECT" else b"/"


def _after_request(method: bytes) -> sansio.Connection:
    client = sansio.Connection(sansio.CLIENT)
    host = b"x:1" if method == b"CONNECT" else b"x"
    client.send(sansio.Request(method, _target(method), ((b"Host", host),), b"1.1"))
    client.send(sansio.EndOfMessage())
    return client


@given(method=st.sampled_from(METHODS), status=st.integers(200, 599))
def test_the_reader_reads_a_body_exactly_when_the_rule_says(method: bytes, status: int) -> None:
    client = _after_request(method)
    events = feed(client, [b"HTTP/1.1 %d X\r\nContent-Length: 1\r\n\r\nz" % status])
    # A tunnel's byte after the head is the next protocol's: no Data either.
    assert (sansio.Data(b"z") in events) is sansio.response_has_body(method, status)


@given(method=st.sampled_from(METHODS), status=st.integers(200, 599))
def test_the_writer_takes_a_body_exactly_when_the_rule_says(method: bytes, status: int) -> None:
    server = sansio.Connection(sansio.SERVER)
    host = b"x:1" if method == b"CONNECT" else b"x"
    head = b"%b %b HTTP/1.1\r\nHost: %b\r\n\r\n" % (method, _target(method), host)
    feed(server, [head])
    server.send(sansio.Response(status, (), b"1.1"))
    if server.our_state is sansio.SWITCHED_PROTOCOL:
        assert not sansio.response_has_body(method, status)
        return
    try:
        server.send(sansio.Data(b"z"))
    except sansio.LocalProtocolError:
        assert not sansio.response_has_body(method, status)
    else:
        assert sansio.response_has_body(method, status)


def test_hop_by_hop_names_are_rfc_9110_7_6_1s_and_never_trailers() -> None:
    assert (
        frozenset(
            {b"connection", b"proxy-connection", b"keep-alive", b"te", b"transfer-encoding"}
            | {b"upgrade"}
        )
        == sansio.HOP_BY_HOP_FIELDS
    )
    for name in sansio.HOP_BY_HOP_FIELDS:
        assert name == name.lower()
        assert not sansio.allowed_in_trailers(name)
        assert not sansio.allowed_in_trailers(name.upper())


def test_the_core_writes_its_own_connection_field_in_place_of_the_callers() -> None:
    # Connection is hop-by-hop: what the caller gave is replaced, never repeated.
    server = sansio.Connection(sansio.SERVER)
    feed(server, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    wire = server.send(
        sansio.Response(200, ((b"Connection", b"close"), (b"Content-Length", b"0")), b"1.1")
    )
    assert wire.lower().count(b"connection:") == 1 and b"Connection: close\r\n" in wire


@given(request=hs.requests())
def test_a_request_has_a_body_exactly_when_the_core_reads_one(request: hs.GeneratedRequest) -> None:
    server = sansio.Connection(sansio.SERVER)
    events = feed(server, [request.wire])
    head = events[0]
    assert isinstance(head, sansio.Request)
    body = sum(len(e.data) for e in events if isinstance(e, sansio.Data))
    chunked = b"transfer-encoding" in dict(head.headers)
    # A chunked body of no chunks still has content framing; a length has bytes.
    assert sansio.request_has_body(head.headers) == (chunked or body > 0)


def test_a_length_of_zero_however_written_is_no_body() -> None:
    for zero in (b"0", b"00", b"0, 0"):
        assert not sansio.request_has_body(((b"content-length", zero),))
    assert sansio.request_has_body(((b"content-length", b"01"),))
    assert not sansio.request_has_body(((b"host", b"x"),))


@example(fields=((b"X-A", b"a\nSet-Cookie: s=1"),))
@example(fields=((b"X A", b"a"),))
@example(fields=((b"X-A", b" a"),))
@given(fields=hs.hostile_fields())
def test_field_error_names_exactly_the_fields_send_refuses(fields: sansio.Headers) -> None:
    for name, value in fields:
        server = sansio.Connection(sansio.SERVER)
        feed(server, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
        error = sansio.field_error(name, value)
        try:
            server.send(sansio.Response(200, ((name, value), (b"Content-Length", b"0"))))
        except sansio.LocalProtocolError as refusal:
            assert error is not None and str(refusal) == error, (name, value)
        else:
            assert error is None, (name, value, error)
