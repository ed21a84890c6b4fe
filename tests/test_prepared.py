"""``PreparedResponse`` and ``send_prepared``: one call that is exactly the three sends.

The property: on two connections that read the same request, ``send_prepared(p)`` and
``send(p.response) + send(Data(p.body)) + send(EndOfMessage())`` (no Data after HEAD)
give the same bytes, leave the same states and keep-alive, or both refuse with nothing
moved. Building a ``PreparedResponse`` refuses what ``send`` would refuse.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import sansio
from sansio import Data, EndOfMessage, LocalProtocolError, PreparedResponse, Response

from helpers import feed

REQUESTS = st.sampled_from(
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD / HTTP/1.0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab",
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        b"CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    ]
)
FIELDS = st.lists(
    st.sampled_from(
        [
            (b"Content-Type", b"text/plain"),
            (b"Content-Type", b"text/html"),
            (b"Cache-Control", b"no-cache"),
            (b"Connection", b"close"),
            (b"Connection", b"keep-alive"),
            (b"Content-Length", b"5"),
        ]
    ),
    max_size=3,
).map(tuple)


def _read(request: bytes) -> sansio.Connection:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [request])
    return conn


def _three(conn: sansio.Connection, prepared: PreparedResponse, head_only: bool) -> bytes:
    out = conn.send(prepared.response)
    if conn.our_state is not sansio.SEND_BODY:  # a 2xx to CONNECT: a tunnel
        if prepared.body:
            raise LocalProtocolError("no body in a tunnel")
        return out
    if prepared.body and not head_only:
        out += conn.send(Data(prepared.body))
    return out + conn.send(EndOfMessage())


def _where(conn: sansio.Connection) -> tuple[object, ...]:
    return conn.our_state, conn.their_state, conn.keep_alive


@example(  # a 204 to CONNECT opens the tunnel: the head alone, both ways
    request=b"CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n",
    status=204,
    fields=(),
    version=b"1.1",
    body=b"",
)
@given(
    request=REQUESTS,
    status=st.sampled_from([200, 201, 204, 304, 404, 500, 101]),
    fields=FIELDS,
    version=st.sampled_from([b"1.0", b"1.1"]),
    body=st.sampled_from([b"", b"hello", b"x" * 100]),
)
def test_send_prepared_is_the_three_sends(
    request: bytes, status: int, fields: sansio.Headers, version: bytes, body: bytes
) -> None:
    try:
        prepared = PreparedResponse(Response(status, fields, version), body)
    except LocalProtocolError:
        return  # refused when built: see the tests below
    one, three = _read(request), _read(request)
    before = _where(one)
    try:
        expected = _three(three, prepared, request.startswith(b"HEAD"))
    except LocalProtocolError:
        with pytest.raises(LocalProtocolError):
            one.send_prepared(prepared)
        assert _where(one) == before  # nothing moved
        return
    assert one.send_prepared(prepared) == expected
    assert _where(one) == _where(three)


def test_a_prepared_response_is_sent_again_and_again_on_a_kept_alive_connection() -> None:
    prepared = PreparedResponse(Response(200, ((b"Content-Type", b"text/plain"),), b"1.1"), b"hi")
    conn = sansio.Connection(sansio.SERVER)
    for _ in range(3):
        feed(conn, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
        wire = conn.send_prepared(prepared)
        assert wire == (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
            b"Connection: keep-alive\r\n\r\nhi"
        )
        conn.start_next_cycle()
    feed(conn, [b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
    assert conn.send_prepared(prepared).endswith(b"Connection: close\r\n\r\n")  # no body
    assert conn.our_state is sansio.MUST_CLOSE


@pytest.mark.parametrize(
    ("response", "body", "message"),
    [
        (Response(200, ((b"Content-Length", b"3"),)), b"hello", "Content-Length is 3"),
        (Response(200, ((b"Transfer-Encoding", b"chunked"),)), b"", "no Transfer-Encoding"),
        (Response(204), b"x", "a 204 response has no body"),
        (Response(200, ((b"X", b"a\nSet-Cookie: s"),)), b"", "invalid character"),
        (Response(200, ((b"Content-Type", b"a"), (b"Content-Type", b"b"))), b"x", "content-type"),
    ],
)
def test_building_refuses_what_send_refuses(response: Response, body: bytes, message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        PreparedResponse(response, body)


def test_wrong_types_and_roles_are_refused() -> None:
    with pytest.raises(TypeError, match=r"sansio\.Response"):
        PreparedResponse(sansio.InformationalResponse(100))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="body must be bytes"):
        PreparedResponse(Response(200), "hi")  # type: ignore[arg-type]
    conn = _read(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(TypeError, match="PreparedResponse"):
        conn.send_prepared(Response(200))  # type: ignore[arg-type]
    client = sansio.Connection(sansio.CLIENT)
    client.send(sansio.Request(b"GET", b"/", ((b"Host", b"x"),), b"1.1"))
    client.send(EndOfMessage())
    with pytest.raises(LocalProtocolError, match="can't send Response"):
        client.send_prepared(PreparedResponse(Response(200)))
    assert client.their_state is sansio.SEND_RESPONSE
    assert "body=2 bytes" in repr(PreparedResponse(Response(200), b"hi"))
