"""Request lines and header fields, as a server reads them."""

from __future__ import annotations

import pytest

import sansio
from sansio import EndOfMessage, Request

from helpers import byte_by_byte, feed, server_error, server_events


def test_minimal_http10_get() -> None:
    assert server_events(b"GET / HTTP/1.0\r\n\r\n") == [
        Request(b"GET", b"/", (), b"1.0"),
        EndOfMessage(),
    ]


def test_header_names_are_lowercased_values_stripped_order_kept() -> None:
    events = server_events(
        b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-B:  two  words \r\nX-A:\tv\t\r\nX-B: 2\r\n\r\n"
    )
    assert events[0] == Request(
        b"GET",
        b"/a?b=c",
        ((b"host", b"x"), (b"x-b", b"two  words"), (b"x-a", b"v"), (b"x-b", b"2")),
        b"1.1",
    )


def test_empty_header_value_is_kept() -> None:
    events = server_events(b"GET / HTTP/1.0\r\nX-Empty:\r\nX-Blank:   \r\n\r\n")
    assert events[0].headers == ((b"x-empty", b""), (b"x-blank", b""))  # type: ignore[attr-defined]


def test_obs_text_in_values_is_accepted() -> None:
    events = server_events(b"GET / HTTP/1.0\r\nX: caf\xc3\xa9 \xff\r\n\r\n")
    assert events[0].headers == ((b"x", b"caf\xc3\xa9 \xff"),)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "line",
    [b"\r\n", b"\n", b"\r\n\r\n", b"\n\r\n\n"],
    ids=["crlf", "lf", "two-crlf", "mixed"],
)
def test_empty_lines_before_the_request_line_are_ignored(line: bytes) -> None:
    data = line + b"GET / HTTP/1.0\r\n\r\n"
    assert server_events(data)[0] == Request(b"GET", b"/", (), b"1.0")
    conn = sansio.Connection(sansio.SERVER)
    assert feed(conn, byte_by_byte(data))[0] == Request(b"GET", b"/", (), b"1.0")


def test_bare_lf_line_endings_are_tolerated_in_the_head() -> None:
    events = server_events(b"GET / HTTP/1.1\nHost: x\nX: y\n\n")
    assert events == [
        Request(b"GET", b"/", ((b"host", b"x"), (b"x", b"y")), b"1.1"),
        EndOfMessage(),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\nhello",
        b"GET / HTTP/1.1\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\n",
    ],
)
def test_a_head_mixing_crlf_and_bare_lf_is_rejected(data: bytes) -> None:
    # A CRLF-only parser reads "Host: x\nContent-Length: 5" as one field: two parsers
    # would disagree on the framing, so neither reading is safe.
    exc = server_error(data)
    assert exc.status_hint == 400
    assert "mixes CRLF and bare LF" in str(exc)


def test_a_bare_cr_is_never_a_line_end_even_beside_bare_lfs() -> None:
    exc = server_error(b"GET / HTTP/1.0\r\nX: a\rb\nY: c\r\n\r\n")
    assert "bare CR" in str(exc)
    exc = server_error(b"GET / HTTP/1.0\nX: a\rb\nY: c\n\n")
    assert "bare CR" in str(exc)


def test_a_lone_cr_before_the_request_line_is_not_an_empty_line() -> None:
    exc = server_error(b"\rGET / HTTP/1.0\r\n\r\n")
    assert "bare CR" in str(exc)


@pytest.mark.parametrize("version", [b"1.0", b"1.1"])
def test_two_host_headers_are_rejected_in_any_version(version: bytes) -> None:
    exc = server_error(b"GET / HTTP/" + version + b"\r\nHost: a\r\nHost: b\r\n\r\n")
    assert "2 Host headers" in str(exc)


@pytest.mark.parametrize(
    ("target"),
    [b"/", b"*", b"http://example.com/x?y#z", b"example.com:443", b"/%2e%2e/~user;a=b"],
)
def test_every_request_target_form_is_accepted(target: bytes) -> None:
    method = b"CONNECT" if target == b"example.com:443" else b"OPTIONS"
    events = server_events(method + b" " + target + b" HTTP/1.0\r\n\r\n")
    assert events[0] == Request(method, target, (), b"1.0")


def test_unknown_methods_are_tokens_and_are_accepted() -> None:
    events = server_events(b"MKCOLA / HTTP/1.0\r\n\r\n")
    assert events[0] == Request(b"MKCOLA", b"/", (), b"1.0")


def test_higher_minor_version_is_read_as_http11() -> None:
    events = server_events(b"GET / HTTP/1.7\r\nHost: x\r\n\r\n")
    assert events[0] == Request(b"GET", b"/", ((b"host", b"x"),), b"1.1")


@pytest.mark.parametrize(
    ("version", "status"),
    [
        (b"HTTP/2.0", 505),
        (b"HTTP/3.0", 505),
        (b"HTTP/0.9", 505),
        (b"HTTP/1", 400),
        (b"HTTP/1.10", 400),
        (b"http/1.1", 400),
        (b"HTTP/1.1 ", 400),
        (b"FOO", 400),
    ],
)
def test_unsupported_or_malformed_versions(version: bytes, status: int) -> None:
    exc = server_error(b"GET / " + version + b"\r\nHost: x\r\n\r\n")
    assert exc.status_hint == status


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"GET /", "malformed request line"),
        (b"GET  / HTTP/1.0", "extra spaces"),
        (b"GET / HTTP/1.0 extra", "extra spaces"),
        (b"G(T / HTTP/1.0", "invalid method"),
        (b" / HTTP/1.0", "malformed request line"),
        (b"GET /a\x7fb HTTP/1.0", "invalid character 0x7f in the start line"),
        (b"GET /caf\xc3\xa9 HTTP/1.0", "invalid request target"),
        (b"GET /\x00 HTTP/1.0", "invalid character 0x00"),
    ],
)
def test_malformed_request_lines_are_rejected_with_a_message(line: bytes, message: str) -> None:
    exc = server_error(line + b"\r\n\r\n")
    assert exc.status_hint == 400
    assert message in str(exc)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (b"Host : x", "whitespace between header name"),
        (b"Host\t: x", "whitespace between header name"),
        (b"NoColon", "without a colon"),
        (b": value", "empty name"),
        (b"X(y): z", "invalid character '(' in header name"),
        (b"X: a\x00b", "invalid character 0x00 in the value of header 'x'"),
        (b"X: a\x01b", "invalid character 0x01"),
        (b"X: a\x7fb", "invalid character 0x7f"),
        (b"X: a\rb", "bare CR"),
        (b"X: a\x0bb", "invalid character 0x0b"),
    ],
)
def test_malformed_header_lines_are_rejected_with_a_message(field: bytes, message: str) -> None:
    exc = server_error(b"GET / HTTP/1.0\r\n" + field + b"\r\n\r\n")
    assert exc.status_hint == 400
    assert message in str(exc)


def test_errors_are_final() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET / HTTP/1.0\r\nBad Header: x\r\n\r\n")
    with pytest.raises(sansio.RemoteProtocolError):
        conn.next_event()
    assert conn.their_state is sansio.ERROR
    assert not conn.keep_alive
    with pytest.raises(sansio.RemoteProtocolError, match="already broke the protocol"):
        conn.next_event()


def test_server_can_answer_an_error_before_any_request() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"\x16\x03\x01 TLS hello\r\n\r\n")
    with pytest.raises(sansio.RemoteProtocolError) as info:
        conn.next_event()
    assert conn.our_state is sansio.SEND_RESPONSE
    wire = conn.send(sansio.Response(info.value.status_hint))
    wire += conn.send(EndOfMessage())
    assert wire.startswith(b"HTTP/1.0 400 Bad Request\r\n")
    assert b"Connection: close\r\n" in wire
    assert conn.our_state is sansio.MUST_CLOSE


def test_peer_closing_mid_head_is_an_error() -> None:
    exc = server_error(b"GET / HTTP/1.0\r\nHost: x\r\n")
    assert "middle of a request head" in str(exc)
    assert exc.status_hint == 400


def test_peer_closing_before_anything_is_connection_closed() -> None:
    assert server_events(b"", eof=True) == [sansio.ConnectionClosed()]


def test_events_iterator_stops_at_need_data() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET / HTTP/1.0\r\n")
    assert list(conn.events()) == []
    assert conn.next_event() is sansio.NEED_DATA
