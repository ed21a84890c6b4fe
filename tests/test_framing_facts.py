"""The framing facts the core exports for a server around it: each agrees with what the
core itself reads and writes, so a driver that asks them cannot drift from the core.

``response_has_body(method, status)``: RFC 9112 §6.3 rules 1 and 2. ``HOP_BY_HOP_FIELDS``:
RFC 9110 §7.6.1's connection-specific names. ``allowed_in_trailers``: RFC 9110 §6.5.1
(its own tests are in ``test_trailers.py``).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import sansio

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
