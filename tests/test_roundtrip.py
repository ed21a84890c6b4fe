"""What we send, we read back identically, in both roles: one set of framing rules.

The writer and the reader decide body length and persistence with the same functions
(``sansio._framing``), so whatever ``send`` lets out, our own parser in the other role
reads back as the same head, the same body and the same keep-alive verdict.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sansio
from sansio import Data, EndOfMessage, Request, Response
from sansio import strategies as hs

from helpers import feed

_SMALL_BODY = 64  # bodies up to this size are sent; beyond, only the head is checked


def _lowered(fields: sansio.Headers) -> sansio.Headers:
    return tuple((name.lower(), value) for name, value in fields)


def _declared(fields: sansio.Headers) -> int | None:
    values = [v for n, v in fields if n.lower() == b"content-length"]
    return int(values[0].split(b",")[0]) if values else None


def test_a_content_length_too_large_for_the_reader_is_refused_by_the_writer() -> None:
    # Issue 10: the writer let 30 nines out, and our own client then refused them.
    headers = ((b"Content-Length", b"9" * 30),)
    server = sansio.Connection(sansio.SERVER)
    feed(server, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    with pytest.raises(sansio.LocalProtocolError, match="Content-Length too large"):
        server.send(Response(200, headers))
    with pytest.raises(sansio.LocalProtocolError, match="Content-Length too large"):
        sansio.Connection(sansio.CLIENT).send(Request(b"POST", b"/", headers))
    largest = ((b"Content-Length", b"9" * 18),)
    assert server.send(Response(200, largest)).startswith(b"HTTP/1.0 200 OK\r\n")


@given(
    method=st.sampled_from((b"GET", b"HEAD", b"POST", b"PUT")),
    version=st.sampled_from((b"1.0", b"1.1")),
    fields=hs.framing_fields(),
    body=st.binary(max_size=16),
)
def test_a_request_we_send_we_read_back(
    method: bytes, version: bytes, fields: sansio.Headers, body: bytes
) -> None:
    headers = ((b"Host", b"x"), *fields)
    client = sansio.Connection(sansio.CLIENT)
    try:
        wire = client.send(Request(method, b"/", headers, version))
    except sansio.LocalProtocolError:
        return
    server = sansio.Connection(sansio.SERVER)
    length = _declared(fields)
    chunked = any(n.lower() == b"transfer-encoding" for n, _ in fields)
    if length is not None and length > _SMALL_BODY:
        # Only the head: the server now waits for that many body bytes.
        assert feed(server, [wire]) == [Request(method, b"/", _lowered(headers), version)]
        assert server.their_state is sansio.SEND_BODY
        return
    body = body if chunked else b"x" * (length or 0)
    wire += client.send(Data(body)) + client.send(EndOfMessage())
    events = feed(server, [wire])
    expected: list[sansio.Event] = [Request(method, b"/", _lowered(headers), version)]
    expected += [Data(body)] if body else []
    assert events == [*expected, EndOfMessage()]
    assert server.keep_alive is client.keep_alive
    assert server.trailing_data == (b"", False)


@given(
    method=st.sampled_from((b"GET", b"HEAD")),
    request_version=st.sampled_from((b"1.0", b"1.1")),
    status=st.sampled_from((200, 204, 304, 404)),
    fields=hs.framing_fields(),
    body=st.binary(max_size=16),
    data=st.data(),
)
def test_a_response_we_send_we_read_back(
    method: bytes,
    request_version: bytes,
    status: int,
    fields: sansio.Headers,
    body: bytes,
    data: st.DataObject,
) -> None:
    client = sansio.Connection(sansio.CLIENT)
    server = sansio.Connection(sansio.SERVER)
    feed(server, [client.send(Request(method, b"/", ((b"Host", b"x"),), request_version))])
    feed(server, [client.send(EndOfMessage())])
    versions = (b"1.0", b"1.1") if request_version == b"1.1" else (b"1.0",)
    version = data.draw(st.sampled_from(versions), label="response version")
    try:
        wire = server.send(Response(status, fields, version))
    except sansio.LocalProtocolError:
        return
    no_body = method == b"HEAD" or status in (204, 304)
    length = _declared(fields)
    if not no_body and length is not None and length > _SMALL_BODY:
        # Only the head: the client now waits for that many body bytes.
        assert type(feed(client, [wire])[0]) is Response
        assert client.their_state is sansio.SEND_BODY
        return
    if no_body:
        body = b""
    elif length is not None:
        body = b"x" * length
    wire += server.send(Data(body)) + server.send(EndOfMessage())
    eof = [b""] if server.our_state is sansio.MUST_CLOSE else []
    response, *rest = [
        e for e in feed(client, [wire, *eof]) if type(e) is not sansio.ConnectionClosed
    ]
    assert type(response) is Response
    # The fields sent, less the caller's Connection and (to HTTP/1.0) Transfer-Encoding,
    # plus the framing and Connection fields the server adds.
    dropped = {b"connection"} | ({b"transfer-encoding"} if version == b"1.0" else set())
    kept = [f for f in _lowered(fields) if f[0] not in dropped]
    assert list(response.headers[: len(kept)]) == kept
    added = {n for n, _ in response.headers[len(kept) :]}
    assert added <= ({b"connection"} if no_body else {b"transfer-encoding", b"connection"})
    assert rest == [*([Data(body)] if body else []), EndOfMessage()]
    assert client.keep_alive is server.keep_alive
