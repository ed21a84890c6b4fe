"""Persistence: HTTP/1.0 keep-alive, HTTP/1.1 defaults, pipelining and the next cycle."""

from __future__ import annotations

import pytest

import sansio
from sansio import Data, EndOfMessage, Request, Response

from helpers import feed


def serve(conn: sansio.Connection, response: Response, body: bytes = b"") -> bytes:
    wire = conn.send(response)
    if body:
        wire += conn.send(Data(body))
    return wire + conn.send(EndOfMessage())


@pytest.mark.parametrize("value", [b"keep-alive", b"Keep-Alive", b"KEEP-ALIVE", b"foo, keep-alive"])
def test_http10_keep_alive_is_honoured_in_any_case(value: bytes) -> None:
    # h11 refuses HTTP/1.0 keep-alive; ab -k depends on it.
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.0\r\nConnection: " + value + b"\r\n\r\n"])
    assert conn.keep_alive
    wire = serve(conn, Response(200, ((b"Content-Length", b"2"),)), b"ok")
    assert wire == b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
    assert conn.our_state is sansio.DONE and conn.their_state is sansio.DONE
    conn.start_next_cycle()
    assert conn.our_state is sansio.IDLE and conn.their_state is sansio.IDLE


def test_http10_without_keep_alive_closes() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.0\r\n\r\n"])
    assert not conn.keep_alive
    wire = serve(conn, Response(200, ((b"Content-Length", b"0"),)))
    assert wire.endswith(b"Connection: close\r\n\r\n")
    assert conn.our_state is sansio.MUST_CLOSE
    with pytest.raises(sansio.LocalProtocolError, match="start_next_cycle"):
        conn.start_next_cycle()


def test_http11_is_persistent_unless_close() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert conn.keep_alive
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n"])
    assert not conn.keep_alive


def test_close_wins_over_keep_alive() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"])
    assert not conn.keep_alive


def test_response_connection_close_ends_keep_alive() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    wire = serve(conn, Response(200, ((b"Content-Length", b"0"), (b"Connection", b"close"))))
    assert wire.count(b"Connection") == 1 and b"Connection: close" in wire
    assert not conn.keep_alive


def test_response_without_length_to_http10_is_close_delimited() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"])
    wire = serve(conn, Response(200), b"streamed")
    assert wire == b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nstreamed"
    assert not conn.keep_alive


def test_http11_response_without_length_is_chunked_automatically() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    wire = serve(conn, Response(200, http_version=b"1.1"), b"abc")
    assert wire == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n"
    )
    assert conn.keep_alive


def test_chunked_is_never_written_to_an_http10_peer() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"])
    wire = serve(conn, Response(200, ((b"Transfer-Encoding", b"chunked"),)), b"abc")
    assert b"chunked" not in wire.lower()
    assert wire.endswith(b"\r\n\r\nabc")
    assert not conn.keep_alive
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.0\r\n\r\n"])
    with pytest.raises(sansio.LocalProtocolError, match=r"HTTP/1\.1 peer"):
        conn.send(Response(200, http_version=b"1.1"))


def test_pipelined_requests_wait_for_the_next_cycle() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        b"GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    seen = []
    for _ in range(3):
        events = list(conn.events())
        assert conn.next_event() is (sansio.PAUSED if conn.keep_alive else sansio.NEED_DATA)
        seen.append(events)
        serve(conn, Response(200, ((b"Content-Length", b"0"),)))
        if conn.keep_alive:
            conn.start_next_cycle()
    assert [e[0].target for e in seen] == [b"/1", b"/2", b"/3"]  # type: ignore[attr-defined]
    assert seen[1][1:] == [Data(b"hi"), EndOfMessage()]
    assert conn.our_state is sansio.MUST_CLOSE


def test_bytes_after_a_non_keep_alive_http10_request_are_never_a_second_request() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET / HTTP/1.0\r\n\r\n")
    assert [type(e) for e in conn.events()] == [Request, EndOfMessage]
    conn.receive_data(b"GET /smuggled HTTP/1.0\r\n\r\n")
    with pytest.raises(sansio.RemoteProtocolError, match="connection that is closing"):
        conn.next_event()


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"PATCH"])
@pytest.mark.parametrize("rest", [b"", b"name=value"])
def test_http10_body_without_content_length_is_refused(method: bytes, rest: bytes) -> None:
    # Decided from the head alone, so it does not matter when the body bytes arrive.
    for headers in (b"", b"Connection: keep-alive\r\n"):
        conn = sansio.Connection(sansio.SERVER)
        conn.receive_data(method + b" / HTTP/1.0\r\n" + headers + b"\r\n" + rest)
        with pytest.raises(sansio.RemoteProtocolError, match="without Content-Length") as info:
            conn.next_event()
        assert info.value.status_hint == 411


def test_http10_get_followed_by_bytes_is_answered_then_refused() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET / HTTP/1.0\r\n\r\nstray")
    assert type(conn.next_event()) is Request
    assert type(conn.next_event()) is EndOfMessage
    with pytest.raises(sansio.RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.status_hint == 400


def test_trailing_newlines_after_a_closing_request_are_ignored() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET / HTTP/1.0\r\n\r\n\r\n")
    assert [type(e) for e in conn.events()] == [Request, EndOfMessage]
    conn.receive_data(b"\r\n")
    assert conn.next_event() is sansio.NEED_DATA
    conn.receive_data(b"")
    assert conn.next_event() == sansio.ConnectionClosed()


def test_peer_half_close_after_request_still_lets_us_respond() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b""])
    assert conn.their_state is sansio.CLOSED
    assert not conn.keep_alive
    wire = serve(conn, Response(200, ((b"Content-Length", b"0"),)))
    assert wire.endswith(b"Connection: close\r\n\r\n")


def test_client_reuses_a_kept_alive_connection() -> None:
    conn = sansio.Connection(sansio.CLIENT)
    for n in range(3):
        wire = conn.send(Request(b"GET", b"/%d" % n, ((b"Host", b"x"),), b"1.1"))
        assert wire == b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % n
        conn.send(EndOfMessage())
        events = feed(conn, [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d" % n])
        assert events[1:] == [Data(b"%d" % n), EndOfMessage()]
        assert conn.keep_alive
        conn.start_next_cycle()


def test_client_http10_response_without_keep_alive_closes() -> None:
    conn = sansio.Connection(sansio.CLIENT)
    conn.send(Request(b"GET", b"/", ((b"Connection", b"keep-alive"),)))
    conn.send(EndOfMessage())
    feed(conn, [b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"])
    assert not conn.keep_alive
    assert conn.their_state is sansio.MUST_CLOSE


@pytest.mark.parametrize("newlines", [b"\r\n", b"\n", b"\r\n\r\n"])
def test_empty_lines_then_eof_between_requests_is_a_clean_close(newlines: bytes) -> None:
    # RFC 9112 §2.2: empty lines before a request line are ignored, so a peer that sent
    # only those and closed sent no request: a close, not a truncated head.
    server = sansio.Connection(sansio.SERVER)
    assert feed(server, [newlines, b""]) == [sansio.ConnectionClosed()]
    assert server.their_state is sansio.CLOSED
    # Both arrived before the first look.
    server = sansio.Connection(sansio.SERVER)
    server.receive_data(newlines)
    server.receive_data(b"")
    assert server.next_event() == sansio.ConnectionClosed()
    assert server.their_state is sansio.CLOSED


def test_next_event_on_an_empty_buffer_after_a_kept_alive_cycle_waits_or_closes() -> None:
    server = sansio.Connection(sansio.SERVER)
    feed(server, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    server.send(Response(200, ((b"Content-Length", b"0"),), b"1.1"))
    server.send(EndOfMessage())
    server.start_next_cycle()
    assert server.next_event() is sansio.NEED_DATA
    assert server.next_event() is sansio.NEED_DATA  # asking again changes nothing
    assert server.their_state is sansio.IDLE
    server.receive_data(b"")
    assert server.next_event() == sansio.ConnectionClosed()
