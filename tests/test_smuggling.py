"""Request smuggling (RFC 9112 §6.3, §11): one named test per rule.

Every rule is a place where a lenient parser and a strict one would frame the same
bytes differently, so a proxy and a server behind it could disagree on where one
request ends. Each test states the rule, feeds the bytes whole and one byte at a time,
and checks the status the server must answer with.
"""

from __future__ import annotations

import pytest

import sansio

from helpers import byte_by_byte, feed

HOST = b"Host: x\r\n"


def rejected(data: bytes, status: int = 400, match: str = "") -> sansio.RemoteProtocolError:
    """``data`` is rejected with ``status``, whole and byte by byte, with the same error."""
    errors = []
    for pieces in ([data, b""], [*byte_by_byte(data), b""]):
        conn = sansio.Connection(sansio.SERVER)
        with pytest.raises(sansio.RemoteProtocolError) as info:
            feed(conn, pieces)
        assert conn.their_state is sansio.ERROR
        errors.append(info.value)
    whole, dripped = errors
    assert whole.status_hint == dripped.status_hint == status, (whole, dripped)
    assert str(whole) == str(dripped)
    assert match in str(whole)
    return whole


def test_content_length_with_transfer_encoding_is_rejected() -> None:
    # h11 quietly prefers Transfer-Encoding; RFC 9112 §6.1 lets a server reject, and
    # rejecting is the only choice that no proxy can disagree with.
    rejected(
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n",
        match="both Content-Length and Transfer-Encoding",
    )
    rejected(
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        match="both Content-Length and Transfer-Encoding",
    )


def test_differing_content_lengths_are_rejected() -> None:
    rejected(
        b"POST / HTTP/1.0\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        match="differing Content-Length",
    )
    rejected(b"POST / HTTP/1.0\r\nContent-Length: 5, 6\r\n\r\n", match="differing")


def test_identical_content_lengths_count_as_one() -> None:
    # RFC 9110 §8.6 allows a recipient to accept repeated identical values.
    conn = sansio.Connection(sansio.SERVER)
    events = feed(conn, [b"POST / HTTP/1.0\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok"])
    assert events[1:] == [sansio.Data(b"ok"), sansio.EndOfMessage()]


@pytest.mark.parametrize(
    "value",
    [b"+5", b"-5", b"0x5", b"5_0", b" 5 5", b"5.0", b"five", b"\xd9\xa5", b"", b"1e3"],
)
def test_malformed_content_length_is_rejected_before_int(value: bytes) -> None:
    # int() alone accepts "+5", "5_0", " 5" and Arabic-Indic digits.
    rejected(b"POST / HTTP/1.0\r\nContent-Length: " + value + b"\r\n\r\nhello")


def test_content_length_overflow_is_rejected() -> None:
    rejected(b"POST / HTTP/1.0\r\nContent-Length: " + b"9" * 30 + b"\r\n\r\n", match="too large")


def test_transfer_encoding_in_http10_is_rejected() -> None:
    rejected(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        match="HTTP/1.0 request",
    )


@pytest.mark.parametrize("value", [b"chunked, gzip", b"gzip", b"identity", b"chunked;x=1"])
def test_final_coding_not_chunked_is_400(value: bytes) -> None:
    rejected(b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: " + value + b"\r\n\r\n")


def test_unknown_coding_before_chunked_is_501() -> None:
    rejected(
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip, chunked\r\n\r\n",
        status=501,
        match="unsupported transfer coding",
    )


def test_chunked_applied_twice_is_rejected() -> None:
    rejected(
        b"POST / HTTP/1.1\r\n"
        + HOST
        + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        match="more than once",
    )


def test_obs_fold_is_rejected_by_a_server() -> None:
    rejected(b"GET / HTTP/1.0\r\nX: a\r\n b\r\n\r\n", match="obsolete line folding")
    rejected(
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n chunked\r\n\r\n",
        match="obsolete line folding",
    )


def test_whitespace_before_colon_is_rejected() -> None:
    rejected(
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding : chunked\r\n\r\n",
        match="whitespace between header name",
    )


def test_bare_cr_is_rejected() -> None:
    rejected(b"GET / HTTP/1.0\r\nX: a\rContent-Length: 5\r\n\r\n", match="bare CR")
    rejected(b"GET / HTTP/1.0\rX: a\r\n\r\n", match="bare CR")


@pytest.mark.parametrize("byte", [0x00, 0x01, 0x0B, 0x0C, 0x1F, 0x7F])
def test_control_characters_are_rejected(byte: int) -> None:
    rejected(b"GET / HTTP/1.0\r\nX: a" + bytes([byte]) + b"b\r\n\r\n", match=f"0x{byte:02x}")


@pytest.mark.parametrize("name", [b"X Y", b"X@Y", b'X"', b"X/Y", b"\xffX", b"[X]"])
def test_invalid_token_characters_in_names_are_rejected(name: bytes) -> None:
    rejected(b"GET / HTTP/1.0\r\n" + name + b": v\r\n\r\n")


@pytest.mark.parametrize(
    "size", [b"-1", b"+5", b"0x5", b" 5", b"5 5", b"g", b"", b"5_0", b"\xd9\xa5"]
)
def test_malformed_chunk_sizes_are_rejected(size: bytes) -> None:
    rejected(
        b"POST / HTTP/1.1\r\n"
        + HOST
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + size
        + b"\r\nhello\r\n0\r\n\r\n"
    )


def test_chunk_size_above_16_hex_digits_is_rejected_without_waiting() -> None:
    # h11 waits for the line to end; we refuse as soon as the 17th digit arrives.
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    list(conn.events())
    conn.receive_data(b"1" * 17)
    with pytest.raises(sansio.RemoteProtocolError, match="more than 16 hex digits"):
        conn.next_event()


@pytest.mark.parametrize("ext", [b";a\rb", b";a\x00", b";a=\x01", b';a="\x7f"', b";\t\xff"])
def test_control_bytes_in_chunk_extensions_are_rejected(ext: bytes) -> None:
    rejected(
        b"POST / HTTP/1.1\r\n"
        + HOST
        + b"Transfer-Encoding: chunked\r\n\r\n5"
        + ext
        + b"\r\nhello\r\n0\r\n\r\n"
    )


def test_chunk_extension_length_is_bounded() -> None:
    limits = sansio.Limits()
    rejected(
        b"POST / HTTP/1.1\r\n"
        + HOST
        + b"Transfer-Encoding: chunked\r\n\r\n5;"
        + b"a" * limits.max_chunk_line_size
        + b"\r\nhello\r\n0\r\n\r\n",
        match="chunk-size line is longer",
    )


def test_chunk_data_must_be_followed_by_crlf() -> None:
    rejected(
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        match="not followed by CRLF",
    )


def test_chunk_lines_must_end_in_crlf_not_bare_lf() -> None:
    # Bare LF is tolerated in the head only (RFC 9112 §7.1 and its Errata 7633).
    rejected(
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        match="bare LF",
    )
    rejected(
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
        match="not followed by CRLF",
    )
    rejected(
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n",
        match="bare LF",
    )


def test_http11_request_without_host_is_rejected() -> None:
    rejected(b"GET / HTTP/1.1\r\n\r\n", match="without a Host")
    rejected(b"GET / HTTP/1.1\r\nX: y\r\n\r\n", match="without a Host")


def test_http11_request_with_two_hosts_is_rejected() -> None:
    rejected(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", match="2 Host headers")


def test_http10_request_needs_no_host() -> None:
    conn = sansio.Connection(sansio.SERVER)
    assert type(feed(conn, [b"GET / HTTP/1.0\r\n\r\n"])[0]) is sansio.Request


@pytest.mark.parametrize(("version", "status"), [(b"2.0", 505), (b"3.0", 505), (b"9.9", 505)])
def test_unsupported_versions_get_505(version: bytes, status: int) -> None:
    rejected(b"GET / HTTP/" + version + b"\r\nHost: x\r\n\r\n", status=status)


def test_garbage_versions_get_400() -> None:
    rejected(b"GET / HTTP/x.y\r\n\r\n", match="invalid HTTP version")


def test_expect_100_continue_on_http10_is_ignored() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"POST / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n"])
    assert not conn.they_are_waiting_for_100_continue


def test_no_second_request_after_http10_without_keep_alive() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET / HTTP/1.0\r\n\r\n")
    assert len(list(conn.events())) == 2
    conn.receive_data(b"GET /admin HTTP/1.0\r\n\r\n")
    with pytest.raises(sansio.RemoteProtocolError):
        conn.next_event()


def test_empty_lines_before_a_request_are_ignored_not_an_error() -> None:
    conn = sansio.Connection(sansio.SERVER)
    events = feed(conn, [b"\r\n\r\nGET / HTTP/1.0\r\n\r\n"])
    assert events[0] == sansio.Request(b"GET", b"/", (), b"1.0")


def test_head_limit_verdict_does_not_depend_on_segmentation() -> None:
    big = b"GET / HTTP/1.0\r\n" + b"X: " + b"a" * 1000 + b"\r\n"
    data = big * 70 + b"\r\n"
    rejected(data, status=431, match="larger than")


def test_chunk_size_line_with_17_hex_digits_is_rejected_when_complete() -> None:
    data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(data + b"0" * 16 + b"1;x\r\n")
    with pytest.raises(sansio.RemoteProtocolError, match="more than 16 hex digits"):
        list(conn.events())
