"""A single-valued field sent twice (RFC 9110 §5.3).

The core refuses what changes how the message is framed, routed or read: two Host
fields, differing Content-Length values, and, in a message with content, differing
values of Content-Type or Content-Range (``sansio._framing.SINGLE_VALUED``), in either
role and on the way out too. Any other repeated field is passed through, every line as
received, in order: its meaning is the application's business.
"""

from __future__ import annotations

import pytest

import sansio
from sansio import EndOfMessage, LocalProtocolError, RemoteProtocolError, Request, Response

from helpers import first_message

POST = b"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"


@pytest.mark.parametrize("name", [b"Content-Type", b"Content-Range"])
def test_differing_values_of_a_content_field_are_refused(name: bytes) -> None:
    got = first_message(POST + name + b": text/html\r\n" + name + b": application/json\r\n\r\nhi")
    assert isinstance(got, RemoteProtocolError)
    assert got.status_hint == 400
    assert f"{name.decode().lower()} sent more than once, with different values" in str(got)


def test_the_issue_case_two_content_type_lines() -> None:
    got = first_message(
        POST + b"Content-Type: application/json\r\ncontent-type: text/html\r\n\r\nhi"
    )
    assert isinstance(got, RemoteProtocolError)
    assert "application/json, text/html" in str(got)


def test_a_repeated_identical_value_and_a_chunked_body_follow_the_same_rule() -> None:
    same = first_message(POST + b"Content-Type: a/b\r\nContent-Type:  a/b \r\n\r\nhi")
    assert not isinstance(same, RemoteProtocolError)
    chunked = (
        b"POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n0\r\n\r\n"
    )
    assert isinstance(first_message(chunked), RemoteProtocolError)


def test_without_content_the_content_fields_are_passed_through() -> None:
    got = first_message(
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n"
    )
    assert not isinstance(got, RemoteProtocolError)
    assert got[0] == Request(
        b"GET",
        b"/",
        ((b"host", b"h"), (b"content-type", b"a/b"), (b"content-type", b"c/d")),
        b"1.1",
    )


def test_other_repeated_fields_are_passed_through_as_received() -> None:
    got = first_message(POST + b"User-Agent: a\r\nAccept: x\r\nuser-agent: b\r\n\r\nhi")
    assert not isinstance(got, RemoteProtocolError) and isinstance(got[0], Request)
    assert [f for f in got[0].headers if f[0] == b"user-agent"] == [
        (b"user-agent", b"a"),
        (b"user-agent", b"b"),
    ]


def test_a_client_refuses_a_response_with_two_content_types() -> None:
    client = sansio.Connection(sansio.CLIENT)
    client.send(Request(b"GET", b"/", ((b"Host", b"h"),), b"1.1"))
    client.send(EndOfMessage())
    client.receive_data(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\nhi"
    )
    with pytest.raises(RemoteProtocolError, match="content-type sent more than once"):
        client.next_event()


def test_send_refuses_them_too() -> None:
    server = sansio.Connection(sansio.SERVER)
    server.receive_data(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    list(server.events())
    twice = ((b"Content-Type", b"a/b"), (b"Content-Length", b"2"), (b"content-type", b"c/d"))
    with pytest.raises(LocalProtocolError, match="content-type sent more than once"):
        server.send(Response(200, twice))
    assert server.our_state is sansio.SEND_RESPONSE
    client = sansio.Connection(sansio.CLIENT)
    with pytest.raises(LocalProtocolError, match="content-type sent more than once"):
        client.send(Request(b"POST", b"/", ((b"Host", b"h"), *twice), b"1.1"))
    # No content, no question: a 204 or a HEAD answer may repeat it.
    assert server.send(Response(204, twice[::2])).startswith(b"HTTP/1.0 204 No Content\r\n")


@pytest.mark.parametrize(
    ("version", "framing"),
    [(b"1.0", ((b"Transfer-Encoding", b"chunked"),)), (b"1.1", ()), (b"1.0", ())],
    ids=["1.0-te-dropped", "1.1-chunked-added", "1.0-close-delimited"],
)
def test_send_refuses_them_whatever_framing_it_settles(
    version: bytes, framing: sansio.Headers
) -> None:
    # The writer drops or adds Transfer-Encoding before it asks the rule: the check
    # must still see the fields it will write (this was a ValueError from zip).
    server = sansio.Connection(sansio.SERVER)
    server.receive_data(b"GET / HTTP/" + version + b"\r\nHost: h\r\n\r\n")
    list(server.events())
    twice = (*framing, (b"Content-Type", b"a/b"), (b"Content-Type", b"c/d"))
    with pytest.raises(LocalProtocolError, match="content-type sent more than once"):
        server.send(Response(200, twice, version))
    assert server.our_state is sansio.SEND_RESPONSE
