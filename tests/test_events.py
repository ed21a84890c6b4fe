"""Events built by user code are checked and normalised as they are built.

Headers become a tuple of ``(bytes, bytes)`` tuples (so events stay immutable and
hashable), bytes-like fields become ``bytes``, and a wrong type is a ``TypeError``
naming the field at construction. Events the parser builds skip these checks.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import sansio
from sansio import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    InformationalResponse,
    Request,
    Response,
)

from helpers import feed


def test_headers_become_a_tuple_of_bytes_pairs_and_the_event_is_hashable() -> None:
    # Pairs may even be lists at run time (typed as tuples).
    pairs: Any = [[b"Content-Length", bytearray(b"2")], (memoryview(b"X"), b"y")]
    response = Response(200, pairs)
    assert response.headers == ((b"Content-Length", b"2"), (b"X", b"y"))
    assert all(type(n) is bytes and type(v) is bytes for n, v in response.headers)
    assert type(response.headers) is tuple and type(response.headers[0]) is tuple
    assert hash(response) == hash(Response(200, ((b"Content-Length", b"2"), (b"X", b"y"))))
    request = Request(bytearray(b"GET"), memoryview(b"/"), iter([(b"Host", b"x")]), b"1.1")
    assert request == Request(b"GET", b"/", ((b"Host", b"x"),), b"1.1")
    assert type(request.method) is bytes and type(request.target) is bytes
    trailers = EndOfMessage([(b"X-Sum", b"1")])
    assert trailers.headers == ((b"X-Sum", b"1"),) and hash(trailers)
    interim = InformationalResponse(103, [(b"Link", b"</a>")], reason=bytearray(b"Hints"))
    assert interim.headers == ((b"Link", b"</a>"),) and interim.reason == b"Hints"


def test_a_tuple_of_bytes_pairs_is_kept_as_it_is() -> None:
    headers = ((b"a", b"1"), (b"b", b"2"))
    assert Response(200, headers).headers is headers
    assert EndOfMessage().headers == ()


# The constructors without their annotations: these calls are wrong on purpose.
untyped: Any = sansio


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: untyped.Request("GET", b"/"), "Request.method must be bytes, not str"),
        (lambda: untyped.Request(b"GET", "/"), "Request.target must be bytes, not str"),
        (lambda: untyped.Request(b"GET", b"/", (), "1.1"), "Request.http_version must be bytes"),
        (
            lambda: untyped.Request(b"GET", b"/", [("Host", "x")]),
            "Request header name must be bytes",
        ),
        (
            lambda: untyped.Request(b"GET", b"/", [(b"Host", 1)]),
            "Request header value must be bytes",
        ),
        (lambda: untyped.Response("200"), "Response.status_code must be an int, not str"),
        (lambda: untyped.Response(True), "Response.status_code must be an int, not bool"),
        (lambda: untyped.Response(200, b"X: y"), "Response headers must be .* not bytes"),
        (lambda: untyped.Response(200, 5), "Response headers must be .* not int"),
        (lambda: untyped.Response(200, [b"X: y"]), "pairs of bytes, got b'X: y'"),
        (lambda: untyped.Response(200, [(b"X",)]), r"pairs of bytes, got \(b'X',\)"),
        (lambda: untyped.Response(200, [(b"X", b"y", b"z")]), "pairs of bytes"),
        (lambda: untyped.Response(200, [5]), "pairs of bytes, got 5"),
        (lambda: untyped.Response(200, reason="OK"), "Response.reason must be bytes"),
        (lambda: untyped.InformationalResponse(100.0), "InformationalResponse.status_code"),
        (lambda: untyped.EndOfMessage([("a", "b")]), "EndOfMessage header name must be bytes"),
        (lambda: untyped.Data("text"), "Data needs bytes, not str"),
        (lambda: untyped.Data(None), "Data needs bytes, not NoneType"),
        (lambda: untyped.Data([b"a"]), "Data needs bytes, not list"),
    ],
)
def test_a_wrong_type_is_a_type_error_at_construction(build: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        build()


def test_parsed_events_equal_events_built_by_hand() -> None:
    conn = sansio.Connection(sansio.SERVER)
    events = feed(
        conn,
        [
            b"POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nhi\r\n0\r\nX-Sum: 1\r\n\r\n"
        ],
    )
    assert events == [
        Request(b"POST", b"/u", ((b"host", b"x"), (b"transfer-encoding", b"chunked")), b"1.1"),
        Data(b"hi"),
        EndOfMessage(((b"x-sum", b"1"),)),
    ]
    assert len(set(events)) == 3  # hashable
    client = sansio.Connection(sansio.CLIENT)
    client.send(Request(b"GET", b"/", ((b"Host", b"x"),), b"1.1"))
    client.send(EndOfMessage())
    events = feed(client, [b"HTTP/1.1 103 Early\r\nLink: a\r\n\r\nHTTP/1.1 200 OK\r\n\r\nab", b""])
    assert events == [
        InformationalResponse(103, ((b"link", b"a"),), b"1.1", b"Early"),
        Response(200, (), b"1.1", b"OK"),
        Data(b"ab"),
        EndOfMessage(),
        ConnectionClosed(),
    ]


def test_the_package_docstring_example_runs() -> None:
    code = sansio.__doc__.split("::", 1)[1]
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(line[4:] for line in code.splitlines()), "sansio", "exec"), namespace)
    assert namespace["wire"] == (
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    )


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ((b"a", "b"), "header value must be bytes, not str"),
        (("a", b"b"), "header name must be bytes, not str"),
        ((b"a",), "must be (name, value) pairs of bytes"),
        ((b"a", b"b", b"c"), "must be (name, value) pairs of bytes"),
    ],
)
def test_a_headers_tuple_with_a_bad_pair_is_refused(pair: Any, message: str) -> None:
    # The fast path takes a tuple of pairs of bytes as it is; one bad pair sends the
    # whole tuple through the full conversion, which names what is wrong.
    with pytest.raises(TypeError, match=re.escape(message)):
        sansio.Request(b"GET", b"/", ((b"x", b"y"), pair))


def test_a_headers_tuple_with_a_list_pair_is_converted() -> None:
    pairs: Any = ((b"x", b"y"), [b"a", b"b"])  # a list pair: not what the type says
    request = sansio.Request(b"GET", b"/", pairs)
    assert request.headers == ((b"x", b"y"), (b"a", b"b"))
