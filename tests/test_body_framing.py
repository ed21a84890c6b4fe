"""How long a body is: Content-Length, chunked, close-delimited, or none (RFC 9112 §6.3)."""

from __future__ import annotations

import pytest

import sansio
from sansio import ConnectionClosed, Data, EndOfMessage, Request, Response

from helpers import byte_by_byte, client_events, feed, first_message, server_error, server_events

CHUNKED_HEAD = b"POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_content_length_body() -> None:
    events = server_events(b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello")
    assert events[1:] == [Data(b"hello"), EndOfMessage()]


def test_content_length_zero() -> None:
    events = server_events(b"POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
    assert events[1:] == [EndOfMessage()]


def test_body_arrives_in_pieces_without_buffering() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"POST / HTTP/1.0\r\nContent-Length: 6\r\n\r\nab")
    assert list(conn.events())[1:] == [Data(b"ab")]
    conn.receive_data(b"cd")
    assert list(conn.events()) == [Data(b"cd")]
    conn.receive_data(b"ef")
    assert list(conn.events()) == [Data(b"ef"), EndOfMessage()]


def test_eof_in_a_length_delimited_body_is_an_error() -> None:
    exc = server_error(b"POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\nhello")
    assert "5 bytes before the end of the body" in str(exc)


def test_chunked_body_with_extensions_trailers_and_both_hex_cases() -> None:
    data = (
        CHUNKED_HEAD
        + b'a;name=value;quoted="a \\" b"\r\n0123456789\r\n'
        + b"A\r\nabcdefghij\r\n"
        + b"1 ; spaced = ext\r\n!\r\n"
        + b"0\r\nX-Trailer: yes\r\nX-Other:  2 \r\n\r\n"
    )
    for pieces in ([data], byte_by_byte(data)):
        events = feed(sansio.Connection(sansio.SERVER), pieces)
        assert events[1:] == [
            Data(b"0123456789abcdefghij!"),
            EndOfMessage(((b"x-trailer", b"yes"), (b"x-other", b"2"))),
        ]


def test_chunked_body_without_trailers() -> None:
    events = server_events(CHUNKED_HEAD + b"3\r\nabc\r\n0\r\n\r\n")
    assert events[1:] == [Data(b"abc"), EndOfMessage()]


def test_chunked_size_with_leading_zeros() -> None:
    events = server_events(CHUNKED_HEAD + b"0003\r\nabc\r\n000\r\n\r\n")
    assert events[1:] == [Data(b"abc"), EndOfMessage()]


def test_eof_in_a_chunked_body_is_an_error() -> None:
    exc = server_error(CHUNKED_HEAD + b"3\r\nab")
    assert "middle of a chunked body" in str(exc)


def test_transfer_coding_names_are_case_insensitive() -> None:
    data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ChUnKeD\r\n\r\n0\r\n\r\n"
    assert server_events(data)[1:] == [EndOfMessage()]


def test_request_without_length_has_no_body() -> None:
    assert server_events(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")[1:] == [EndOfMessage()]


def test_response_delimited_by_close() -> None:
    events = client_events(b"HTTP/1.0 200 OK\r\n\r\nall of it", eof=True)
    assert events == [
        Response(200, (), b"1.0", b"OK"),
        Data(b"all of it"),
        EndOfMessage(),
        ConnectionClosed(),
    ]


def test_close_delimited_response_is_never_kept_alive() -> None:
    conn = sansio.Connection(sansio.CLIENT)
    conn.send(Request(b"GET", b"/", ((b"host", b"x"),), b"1.1"))
    conn.send(EndOfMessage())
    feed(conn, [b"HTTP/1.1 200 OK\r\n\r\nbody"])
    assert not conn.keep_alive


@pytest.mark.parametrize(
    ("method", "status"), [(b"HEAD", 200), (b"GET", 204), (b"GET", 304), (b"HEAD", 404)]
)
def test_responses_without_a_body(method: bytes, status: int) -> None:
    head = b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status
    if status == 204:
        head = b"HTTP/1.1 204 X\r\n\r\n"
    events = client_events(head, method=method)
    assert [type(e) for e in events] == [Response, EndOfMessage]


def test_chunked_response() -> None:
    events = client_events(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    )
    assert events[1:] == [Data(b"ok"), EndOfMessage()]


def test_response_with_non_chunked_final_coding_is_close_delimited() -> None:
    events = client_events(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", eof=True)
    assert events[1:] == [Data(b"zzz"), EndOfMessage(), ConnectionClosed()]


def test_informational_responses_come_before_the_final_one() -> None:
    events = client_events(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    assert events == [
        sansio.InformationalResponse(100, (), b"1.1", b"Continue"),
        sansio.InformationalResponse(103, ((b"link", b"</s>"),), b"1.1", b"Early Hints"),
        Response(200, ((b"content-length", b"2"),), b"1.1", b"OK"),
        Data(b"ok"),
        EndOfMessage(),
    ]


def test_status_line_without_reason() -> None:
    events = client_events(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
    assert events[0] == Response(200, ((b"content-length", b"0"),), b"1.1", b"")


def test_obs_fold_in_a_response_becomes_one_space() -> None:
    events = client_events(
        b"HTTP/1.1 200 OK\r\nX-Long: first\r\n  second\r\n\tthird\r\nContent-Length: 0\r\n\r\n"
    )
    assert events[0].headers == (  # type: ignore[attr-defined]
        (b"x-long", b"first second third"),
        (b"content-length", b"0"),
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 099 X\r\n\r\n", "invalid status code"),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "only a request with Upgrade"),
        (b"HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version"),
        (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0 response"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both Content-Length and Transfer-Encoding",
        ),
    ],
)
def test_bad_responses_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(sansio.RemoteProtocolError, match=message):
        client_events(data)


def test_unsolicited_response_is_an_error() -> None:
    conn = sansio.Connection(sansio.CLIENT)
    conn.receive_data(b"HTTP/1.1 200 OK\r\n\r\n")
    with pytest.raises(sansio.RemoteProtocolError, match="before any request"):
        conn.next_event()


@pytest.mark.parametrize("received", [b"", b"\r\n", b"HTTP/1.1 100 Continue\r\n\r\n"])
def test_server_closing_without_a_response_is_an_error(received: bytes) -> None:
    conn = sansio.Connection(sansio.CLIENT)
    conn.send(Request(b"GET", b"/", ((b"host", b"x"),), b"1.1"))
    conn.send(EndOfMessage())
    with pytest.raises(sansio.RemoteProtocolError, match="before sending a response"):
        feed(conn, [received, b""] if received else [b""])


def test_client_sees_connection_closed_when_idle() -> None:
    conn = sansio.Connection(sansio.CLIENT)
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.next_event() == ConnectionClosed()
    assert conn.their_state is sansio.CLOSED


def test_body_size_limit_applies_to_content_length_and_chunked() -> None:
    limits = sansio.Limits(max_body_size=4)
    conn = sansio.Connection(sansio.SERVER, limits=limits)
    conn.receive_data(b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\n")
    with pytest.raises(sansio.RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.status_hint == 413
    conn = sansio.Connection(sansio.SERVER, limits=limits)
    conn.receive_data(CHUNKED_HEAD + b"3\r\nabc\r\n2\r\nde\r\n")
    with pytest.raises(sansio.RemoteProtocolError) as info:
        list(conn.events())
    assert info.value.status_hint == 413


@pytest.mark.parametrize("value", [b", chunked", b"chunked,", b" ,chunked, ,"])
def test_empty_transfer_coding_list_elements_are_skipped(value: bytes) -> None:
    # RFC 9110 §5.6.1: "a recipient MUST accept empty list elements"; what is left is
    # one chunked coding.
    data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + value + b"\r\n\r\n"
    events = first_message(data + b"2\r\nab\r\n0\r\n\r\n")
    assert not isinstance(events, sansio.RemoteProtocolError), events
    assert events[1:] == [Data(b"ab"), EndOfMessage()]
