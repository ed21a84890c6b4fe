"""What ``send`` writes, and the misuse it refuses with LocalProtocolError."""

from __future__ import annotations

import pytest
from hypothesis import given

import sansio
from sansio import Data, EndOfMessage, InformationalResponse, Request, Response
from sansio import strategies as hs

from helpers import feed


def server_after(request: bytes) -> sansio.Connection:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [request])
    return conn


GET10 = b"GET / HTTP/1.0\r\n\r\n"
GET11 = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
HEAD11 = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_response_defaults_to_http10_with_standard_reason() -> None:
    conn = server_after(GET11)
    wire = conn.send(Response(404, ((b"Content-Length", b"0"),)))
    assert wire == b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"


def test_custom_reason_and_unknown_status() -> None:
    conn = server_after(GET10)
    assert conn.send(Response(299, reason=b"Fine Thanks")).startswith(
        b"HTTP/1.0 299 Fine Thanks\r\n"
    )
    conn = server_after(GET10)
    assert conn.send(Response(599)).startswith(b"HTTP/1.0 599 \r\n")


def test_body_longer_than_content_length_is_refused_and_nothing_changes() -> None:
    conn = server_after(GET10)
    conn.send(Response(200, ((b"Content-Length", b"3"),)))
    with pytest.raises(sansio.LocalProtocolError, match="longer than Content-Length"):
        conn.send(Data(b"four"))
    assert conn.our_state is sansio.SEND_BODY
    assert conn.send(Data(b"abc")) == b"abc"
    conn.send(EndOfMessage())


def test_body_shorter_than_content_length_is_refused() -> None:
    conn = server_after(GET10)
    conn.send(Response(200, ((b"Content-Length", b"3"),)))
    conn.send(Data(b"ab"))
    with pytest.raises(sansio.LocalProtocolError, match="1 bytes missing"):
        conn.send(EndOfMessage())


@pytest.mark.parametrize(("request_bytes", "status"), [(HEAD11, 200), (GET11, 204), (GET11, 304)])
def test_no_body_after_head_204_304(request_bytes: bytes, status: int) -> None:
    conn = server_after(request_bytes)
    headers = () if status == 204 else ((b"Content-Length", b"10"),)
    wire = conn.send(Response(status, headers))
    assert b"Transfer-Encoding" not in wire
    with pytest.raises(sansio.LocalProtocolError, match="no body"):
        conn.send(Data(b"x"))
    assert conn.send(Data(b"")) == b""
    assert conn.send(EndOfMessage()) == b""
    assert conn.keep_alive


def test_204_with_content_length_is_refused() -> None:
    with pytest.raises(sansio.LocalProtocolError, match="204"):
        server_after(GET11).send(Response(204, ((b"Content-Length", b"0"),)))


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (((b"X", b"a\r\nInjected: yes"),), "invalid character in the value"),
        (((b"X", b"a\x00"),), "invalid character in the value"),
        (((b"Bad Name", b"v"),), "invalid header name"),
        (((b"", b"v"),), "invalid header name"),
        (((b"X", b" padded"),), "surrounding whitespace"),
        (((b"Content-Length", b"1"), (b"Transfer-Encoding", b"chunked")), "both"),
        (((b"Content-Length", b"-1"),), "invalid Content-Length"),
        (((b"Content-Length", b"1"), (b"Content-Length", b"2")), "differing"),
        (((b"Transfer-Encoding", b"gzip"),), "must be chunked"),
    ],
)
def test_bad_response_heads_are_refused(
    headers: tuple[tuple[bytes, bytes], ...], message: str
) -> None:
    conn = server_after(GET11)
    with pytest.raises(sansio.LocalProtocolError, match=message):
        conn.send(Response(200, headers))
    assert conn.our_state is sansio.SEND_RESPONSE  # nothing was sent: try again
    conn.send(Response(500, ((b"Content-Length", b"0"),)))


@pytest.mark.parametrize("status", [99, 100, 199, 1000, -1])
def test_bad_status_codes_are_refused(status: object) -> None:
    with pytest.raises(sansio.LocalProtocolError, match="status code"):
        server_after(GET11).send(Response(status))  # type: ignore[arg-type]


def test_bad_reason_and_version_are_refused() -> None:
    with pytest.raises(sansio.LocalProtocolError, match="reason"):
        server_after(GET11).send(Response(200, reason=b"a\r\nb"))
    with pytest.raises(sansio.LocalProtocolError, match=r"HTTP/1\.0 or HTTP/1\.1"):
        server_after(GET11).send(Response(200, http_version=b"2.0"))


def test_informational_responses() -> None:
    conn = server_after(GET11)
    assert conn.send(InformationalResponse(103, ((b"Link", b"</a>"),))) == (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    )
    with pytest.raises(sansio.LocalProtocolError, match="1xx status"):
        conn.send(InformationalResponse(200))
    with pytest.raises(sansio.LocalProtocolError, match="only a request with Upgrade"):
        conn.send(InformationalResponse(101, ((b"Upgrade", b"websocket"),)))
    conn.send(Response(200, ((b"Content-Length", b"0"),)))
    with pytest.raises(sansio.LocalProtocolError, match="can't send InformationalResponse"):
        conn.send(InformationalResponse(100))


def test_chunked_response_with_trailers() -> None:
    conn = server_after(GET11)
    wire = conn.send(Response(200, ((b"Transfer-Encoding", b"chunked"),), b"1.1"))
    wire += (
        conn.send(Data(b"hello"))
        + conn.send(Data(b""))
        + conn.send(EndOfMessage(((b"X-Sum", b"1"),)))
    )
    assert wire.endswith(b"\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n")


def test_trailers_need_a_chunked_body() -> None:
    conn = server_after(GET10)
    conn.send(Response(200, ((b"Content-Length", b"0"),)))
    with pytest.raises(sansio.LocalProtocolError, match="trailers need a chunked body"):
        conn.send(EndOfMessage(((b"x", b"y"),)))
    conn = server_after(GET10)
    conn.send(Response(200))
    with pytest.raises(sansio.LocalProtocolError, match="trailers need a chunked body"):
        conn.send(EndOfMessage(((b"x", b"y"),)))


def test_events_out_of_order_are_refused() -> None:
    conn = sansio.Connection(sansio.SERVER)
    with pytest.raises(sansio.LocalProtocolError, match="can't send Response"):
        conn.send(Response(200))
    conn = server_after(GET10)
    with pytest.raises(sansio.LocalProtocolError, match="can't send Data"):
        conn.send(Data(b"x"))
    conn.send(Response(200, ((b"Content-Length", b"0"),)))
    conn.send(EndOfMessage())
    with pytest.raises(sansio.LocalProtocolError, match="can't send Data"):
        conn.send(Data(b"x"))
    with pytest.raises(sansio.LocalProtocolError, match="can't send str"):
        conn.send("nonsense")  # type: ignore[arg-type]


def test_request_serialisation() -> None:
    conn = sansio.Connection(sansio.CLIENT)
    wire = conn.send(
        Request(b"POST", b"/u?x=1", ((b"Host", b"h"), (b"Content-Length", b"2")), b"1.1")
    )
    assert wire == b"POST /u?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"
    assert conn.send(Data(b"ok")) == b"ok"
    conn.send(EndOfMessage())
    assert conn.our_state is sansio.DONE


@pytest.mark.parametrize(
    ("request_event", "message"),
    [
        (Request(b"GET", b"/", (), b"1.1"), "needs it"),
        (Request(b"GET", b"/", ((b"Host", b"a"), (b"host", b"b"))), "at most one Host"),
        (Request(b"POST", b"/"), "HTTP/1.0 POST request without Content-Length"),
        (Request(b"PUT", b"/", ((b"Connection", b"keep-alive"),)), "without Content-Length"),
        (Request(b"G T", b"/"), "invalid method"),
        (Request(b"GET", b"/a b"), "invalid request target"),
        (Request(b"GET", b""), "invalid request target"),
        (Request(b"GET", b"/", (), b"2.0"), "HTTP/1.0 or HTTP/1.1"),
        (Request(b"POST", b"/", ((b"Transfer-Encoding", b"chunked"),)), "HTTP/1.0 request"),
        (
            Request(b"POST", b"/", ((b"Host", b"h"), (b"Transfer-Encoding", b"gzip")), b"1.1"),
            "final transfer coding is not chunked",
        ),
        (
            Request(
                b"POST",
                b"/",
                ((b"Host", b"h"), (b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"1")),
                b"1.1",
            ),
            "both",
        ),
    ],
)
def test_bad_requests_are_refused(request_event: Request, message: str) -> None:
    with pytest.raises(sansio.LocalProtocolError, match=message):
        sansio.Connection(sansio.CLIENT).send(request_event)


def test_data_may_be_any_bytes_like_object() -> None:
    conn = server_after(GET11)
    conn.send(Response(200, http_version=b"1.1"))
    assert conn.send(Data(bytearray(b"ok"))) == b"2\r\nok\r\n"
    assert conn.send(Data(memoryview(b"ok"))) == b"2\r\nok\r\n"


def test_request_body_needs_framing() -> None:
    conn = sansio.Connection(sansio.CLIENT)
    conn.send(Request(b"POST", b"/", ((b"Host", b"h"),), b"1.1"))
    with pytest.raises(sansio.LocalProtocolError, match="without Content-Length"):
        conn.send(Data(b"x"))


def test_chunked_request() -> None:
    conn = sansio.Connection(sansio.CLIENT)
    conn.send(Request(b"POST", b"/", ((b"Host", b"h"), (b"Transfer-Encoding", b"chunked")), b"1.1"))
    assert conn.send(Data(b"abc")) == b"3\r\nabc\r\n"
    assert conn.send(EndOfMessage()) == b"0\r\n\r\n"


def test_no_request_once_the_server_has_closed() -> None:
    conn = sansio.Connection(sansio.CLIENT)
    conn.receive_data(b"")
    assert conn.next_event() == sansio.ConnectionClosed()
    with pytest.raises(sansio.LocalProtocolError, match="the server is CLOSED"):
        conn.send(Request(b"GET", b"/"))
    assert conn.our_state is sansio.IDLE


def test_sending_connection_closed() -> None:
    conn = sansio.Connection(sansio.CLIENT)
    assert conn.send(sansio.ConnectionClosed()) == b""
    assert conn.our_state is sansio.CLOSED
    assert not conn.keep_alive


def test_repr_and_trailing_data() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET / HTTP/1.0\r\n")
    assert "SERVER" in repr(conn) and "IDLE" in repr(conn)
    assert conn.trailing_data == (b"GET / HTTP/1.0\r\n", False)
    with pytest.raises(RuntimeError, match="after the peer closed"):
        conn.receive_data(b"")
        conn.receive_data(b"more")


def test_repeated_response_heads_are_identical_whatever_was_sent_before() -> None:
    # The writer keeps checked heads keyed by their headers tuple; what differs per
    # request (status, version, keep-alive, HEAD) must still come out right.
    headers = ((b"Content-Type", b"text/plain"), (b"Content-Length", b"2"))
    first = server_after(GET11)
    assert first.send(Response(200, headers)) == (
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
        b"Connection: keep-alive\r\n\r\n"
    )
    again = server_after(GET10)
    assert again.send(Response(404, headers)) == (
        b"HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\n"
    )
    with pytest.raises(sansio.LocalProtocolError, match="longer than Content-Length"):
        again.send(Data(b"abc"))
    head = server_after(HEAD11)
    head.send(Response(200, headers))
    with pytest.raises(sansio.LocalProtocolError, match="no body"):
        head.send(Data(b"ok"))
    v11 = server_after(GET11)
    assert v11.send(Response(200, headers, b"1.1")).startswith(b"HTTP/1.1 200 OK\r\n")
    closing = ((b"Content-Length", b"0"), (b"Connection", b"close"))
    for _ in range(2):
        conn = server_after(GET11)
        assert conn.send(Response(200, closing)).endswith(b"Connection: close\r\n\r\n")
        assert not conn.keep_alive


def test_send_body_framing_counts_bytes_sent_out_of_band() -> None:
    conn = server_after(GET10)
    conn.send(Response(200, ((b"Content-Length", b"10"),)))
    assert conn.send_body_framing(6) == (b"", b"")
    with pytest.raises(sansio.LocalProtocolError, match="longer than Content-Length"):
        conn.send_body_framing(5)
    assert conn.send_body_framing(4) == (b"", b"")
    assert conn.send(EndOfMessage()) == b""

    chunked = server_after(GET11)
    chunked.send(Response(200, http_version=b"1.1"))
    assert chunked.send_body_framing(300) == (b"12c\r\n", b"\r\n")
    assert chunked.send_body_framing(0) == (b"", b"")

    closing = server_after(GET10)
    closing.send(Response(200))
    assert closing.send_body_framing(1 << 40) == (b"", b"")

    head = server_after(HEAD11)
    head.send(Response(200, ((b"Content-Length", b"10"),)))
    with pytest.raises(sansio.LocalProtocolError, match="no body"):
        head.send_body_framing(10)
    with pytest.raises(sansio.LocalProtocolError, match="non-negative int"):
        head.send_body_framing(-1)
    idle = sansio.Connection(sansio.SERVER)
    with pytest.raises(sansio.LocalProtocolError, match="can't send Data"):
        idle.send_body_framing(1)


# -- issue 7: no byte that ends a field or a head gets out ------------------------------

# Every control byte (HTAB is allowed, but only inside a value) and every injection
# shape: each must be refused wherever it appears, in both roles.
_CONTROLS = [bytes([b]) for b in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)]
_INJECTIONS = [b"\n", b"\r\n", b"\r", b"\x00", b"\nSet-Cookie: s=1", b"\n\nbody"]


def test_bare_lf_in_a_response_header_value_is_refused() -> None:
    # The repro: the LF used to pass and split the response.
    conn = server_after(GET11)
    with pytest.raises(sansio.LocalProtocolError, match=r"value of header b'x-a' \(0x0a\)"):
        conn.send(Response(200, ((b"x-a", b"a\nSet-Cookie: s=1"), (b"content-length", b"0"))))
    assert conn.our_state is sansio.SEND_RESPONSE  # nothing was sent: try again
    assert conn.send(Response(500, ((b"content-length", b"0"),))).startswith(b"HTTP/1.0 500 ")


def test_bare_lf_in_a_request_header_value_is_refused() -> None:
    # The client twin: this was request smuggling from our own client.
    conn = sansio.Connection(sansio.CLIENT)
    with pytest.raises(sansio.LocalProtocolError, match=r"value of header b'x-a' \(0x0a\)"):
        conn.send(Request(b"GET", b"/", ((b"x-a", b"a\nContent-Length: 5"),)))
    assert conn.our_state is sansio.IDLE


@pytest.mark.parametrize("bad", _CONTROLS + _INJECTIONS)
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_control_bytes_in_field_values_are_refused_in_both_roles(bad: bytes, where: str) -> None:
    value = {"start": bad + b"v", "middle": b"v" + bad + b"v", "end": b"v" + bad}[where]
    fields = ((b"x-a", b"1"), (b"x-b", value), (b"x-c", b"3"))
    client = sansio.Connection(sansio.CLIENT)
    with pytest.raises(sansio.LocalProtocolError, match="x-b"):
        client.send(Request(b"GET", b"/", fields))
    server = server_after(GET11)
    with pytest.raises(sansio.LocalProtocolError, match="x-b"):
        server.send(Response(200, fields))
    with pytest.raises(sansio.LocalProtocolError, match="x-b"):
        server.send(InformationalResponse(103, fields))
    server.send(Response(200, http_version=b"1.1"))
    with pytest.raises(sansio.LocalProtocolError, match="x-b"):
        server.send(EndOfMessage(fields))  # trailers


@pytest.mark.parametrize("bad", [*_CONTROLS, b"\t", *_INJECTIONS, b" ", b":", b"\x80"])
def test_control_bytes_in_names_methods_and_targets_are_refused(bad: bytes) -> None:
    with pytest.raises(sansio.LocalProtocolError, match="invalid header name"):
        server_after(GET11).send(Response(200, ((b"x" + bad, b"v"),)))
    with pytest.raises(sansio.LocalProtocolError, match="invalid header name"):
        sansio.Connection(sansio.CLIENT).send(Request(b"GET", b"/", ((bad + b"x", b"v"),)))
    with pytest.raises(sansio.LocalProtocolError, match="invalid method"):
        sansio.Connection(sansio.CLIENT).send(Request(b"GET" + bad, b"/"))
    if bad != b":" and bad != b"\x80":  # printable ASCII: a valid target byte
        with pytest.raises(sansio.LocalProtocolError, match="invalid request target"):
            sansio.Connection(sansio.CLIENT).send(Request(b"GET", b"/a" + bad))


@pytest.mark.parametrize("bad", _CONTROLS + _INJECTIONS)
def test_control_bytes_in_reason_phrases_are_refused(bad: bytes) -> None:
    with pytest.raises(sansio.LocalProtocolError, match="invalid reason phrase"):
        server_after(GET11).send(Response(200, reason=b"O" + bad + b"K"))
    with pytest.raises(sansio.LocalProtocolError, match="invalid reason phrase"):
        server_after(GET11).send(InformationalResponse(103, reason=bad))


def test_htab_is_allowed_inside_a_value_only() -> None:
    conn = server_after(GET11)
    wire = conn.send(Response(200, ((b"X", b"a\tb"), (b"Y", b""), (b"Content-Length", b"0"))))
    assert b"X: a\tb\r\nY: \r\n" in wire
    for value in (b"\ta", b"a\t", b" a", b"a "):
        with pytest.raises(sansio.LocalProtocolError, match="surrounding whitespace"):
            server_after(GET11).send(Response(200, ((b"X", b"ok"), (b"Y", value))))


def test_a_dropped_connection_field_is_checked_too() -> None:
    # The writer replaces the caller's Connection field with its own, but a bad one is
    # still refused rather than silently dropped.
    with pytest.raises(sansio.LocalProtocolError, match="connection"):
        server_after(GET11).send(Response(200, ((b"connection", b"close\nX: y"),)))


def _lowered(fields: sansio.Headers) -> sansio.Headers:
    return tuple((name.lower(), value) for name, value in fields)


@given(fields=hs.hostile_fields(), reason=hs.hostile_reasons())
def test_whatever_send_accepts_reads_back_as_the_same_fields(
    fields: sansio.Headers, reason: bytes
) -> None:
    """Values from all 256 bytes: refused with LocalProtocolError, or read back by our
    own parser in the other role as exactly the fields sent, in both roles."""
    client = sansio.Connection(sansio.CLIENT)
    server = sansio.Connection(sansio.SERVER)
    try:
        wire = client.send(Request(b"GET", b"/", ((b"Host", b"x"), *fields), b"1.1"))
        sent = fields
    except sansio.LocalProtocolError:
        wire = client.send(Request(b"GET", b"/", ((b"Host", b"x"),), b"1.1"))
        sent = ()
    wire += client.send(EndOfMessage())
    assert feed(server, [wire]) == [
        Request(b"GET", b"/", ((b"host", b"x"), *_lowered(sent)), b"1.1"),
        EndOfMessage(),
    ]
    assert server.trailing_data == (b"", False)
    try:
        wire = server.send(Response(200, (*fields, (b"Content-Length", b"0")), b"1.1", reason))
    except sansio.LocalProtocolError:
        return
    wire += server.send(EndOfMessage())
    added = ((b"content-length", b"0"), (b"connection", b"keep-alive"))
    assert feed(client, [wire]) == [
        Response(200, _lowered(fields) + added, b"1.1", reason or b"OK"),
        EndOfMessage(),
    ]
    assert client.trailing_data == (b"", False)


def test_the_cache_of_checked_heads_stays_right_when_it_fills() -> None:
    for n in range(300):  # more distinct heads than the cache holds
        headers = ((b"X-N", b"%d" % n), (b"Content-Length", b"1"))
        wire = server_after(GET11).send(Response(200, headers))
        assert wire == (
            b"HTTP/1.0 200 OK\r\nX-N: %d\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n" % n
        )
