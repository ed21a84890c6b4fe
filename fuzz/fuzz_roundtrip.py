"""Round trips: what one role sends, the other role parses back, for both roles.

Invariant: a client's ``send`` of any valid request (head, body pieces, trailers) gives
bytes that a server parses, in any segmentation, back into the same request, body and
trailers; the server's ``send`` of any valid response to it gives bytes the client
parses back into the same status, version, headers (plus only the framing and
Connection fields the server adds), body and trailers. Both sides agree on keep-alive
and, while it holds, the connection carries further exchanges. ``send`` never raises
for these events and parsing never raises at all.
"""

from __future__ import annotations

import contextlib
from http import HTTPStatus

from hypothesis import example, given
from hypothesis import strategies as st

import sansio
from sansio import strategies as hs

from ._harness import budget, counted, feed


def _send_request(
    client: sansio.Connection, req: hs.GeneratedRequest, pieces: list[bytes]
) -> bytes:
    wire = client.send(req.request)
    for piece in pieces:
        wire += client.send(sansio.Data(piece))
    return wire + client.send(sansio.EndOfMessage(req.trailers))


def _expected_reason(resp: sansio.Response) -> set[bytes]:
    if resp.reason:
        return {resp.reason}
    try:
        return {HTTPStatus(resp.status_code).phrase.encode()}
    except ValueError:
        return {b""}


@given(
    exchanges=st.lists(st.tuples(hs.requests(), st.data()), min_size=1, max_size=3),
    data=st.data(),
)
@counted
def test_client_and_server_understand_each_other(
    exchanges: list[tuple[hs.GeneratedRequest, st.DataObject]], data: st.DataObject
) -> None:
    client = sansio.Connection(sansio.CLIENT)
    server = sansio.Connection(sansio.SERVER)
    for req, more in exchanges:
        # Client -> server.
        body_pieces = more.draw(hs.chunkings(req.body, max_pieces=4), label="body pieces")
        wire = _send_request(client, req, body_pieces)
        got = feed(server, more.draw(hs.chunkings(wire), label="request pieces"))
        assert got.error is None, got.error
        assert got.events == req.events, (wire, got.events)
        assert server.keep_alive is client.keep_alive is req.keep_alive

        # Server -> client, answering that request with any valid response to it.
        versions = (b"1.0", b"1.1") if req.request.http_version == b"1.1" else (b"1.0",)
        resp = more.draw(
            hs.responses(request_method=req.request.method, versions=versions), label="response"
        )
        sent_headers = tuple(h for h in resp.response.headers if h[0] != b"connection")
        response = sansio.Response(
            resp.response.status_code,
            sent_headers,
            resp.response.http_version,
            resp.response.reason,
        )
        wire = b""
        if req.request.http_version == b"1.1":
            for interim in resp.informational:
                wire += server.send(interim)
        wire += server.send(response)
        for piece in more.draw(hs.chunkings(resp.body, max_pieces=4), label="response body"):
            wire += server.send(sansio.Data(piece))
        wire += server.send(sansio.EndOfMessage(resp.trailers if resp.framing == "chunked" else ()))
        eof = server.our_state is sansio.MUST_CLOSE
        got = feed(client, more.draw(hs.chunkings(wire), label="response pieces"), eof=eof)
        assert got.error is None, (wire, got.error)
        *interims, final = [
            e for e in got.events if type(e) in (sansio.InformationalResponse, sansio.Response)
        ]
        if req.request.http_version == b"1.1":
            assert len(interims) == len(resp.informational)
        assert isinstance(final, sansio.Response)
        assert final.status_code == response.status_code
        assert final.http_version == response.http_version
        assert final.reason in _expected_reason(response)
        added = [h for h in final.headers if h not in sent_headers]
        assert [h for h in final.headers if h not in added] == list(sent_headers)
        assert set(added) <= {
            (b"transfer-encoding", b"chunked"),
            (b"connection", b"keep-alive"),
            (b"connection", b"close"),
        }, added
        assert (b"connection", b"keep-alive" if server.keep_alive else b"close") in added
        body = b"".join(e.data for e in got.events if type(e) is sansio.Data)
        no_body = req.request.method == b"HEAD" or response.status_code in (204, 304)
        assert body == (b"" if no_body else resp.body)
        assert type(got.events[-1]) is sansio.EndOfMessage
        assert client.keep_alive is server.keep_alive
        if not server.keep_alive:
            assert client.their_state in (sansio.MUST_CLOSE, sansio.CLOSED)
            return
        assert client.our_state is client.their_state is sansio.DONE
        assert server.our_state is server.their_state is sansio.DONE
        client.start_next_cycle()
        server.start_next_cycle()


# -- any sequence of sends ------------------------------------------------------------

_headers = st.lists(
    st.one_of(
        st.tuples(hs.tokens(max_size=12), hs.field_values(max_words=2)),
        st.tuples(
            st.sampled_from((b"content-length", b"Content-Length")),
            st.sampled_from((b"0", b"3", b"5", b"x", b"1, 2", b"")),
        ),
        st.tuples(
            st.sampled_from((b"transfer-encoding",)),
            st.sampled_from((b"chunked", b"gzip", b"gzip, chunked", b"Chunked")),
        ),
        st.tuples(st.just(b"host"), st.sampled_from((b"a", b"b.example:80"))),
        st.tuples(st.just(b"connection"), st.sampled_from((b"close", b"keep-alive"))),
        st.tuples(st.sampled_from((b"bad name", b"", b"x")), st.sampled_from((b"a\r\nb", b" a"))),
    ),
    max_size=4,
).map(tuple)
_versions = st.sampled_from((b"1.0", b"1.1", b"2.0"))
_client_events = st.one_of(
    st.builds(
        sansio.Request,
        method=st.sampled_from((b"GET", b"HEAD", b"POST", b"PUT", b"", b"G T")),
        target=st.sampled_from((b"/", b"/a?b", b"*", b"", b"/ x")),
        headers=_headers,
        http_version=_versions,
    ),
    st.builds(sansio.Data, st.binary(max_size=8)),
    st.builds(sansio.EndOfMessage, st.sampled_from(((), ((b"x", b"y"),)))),
    st.just(sansio.ConnectionClosed()),
)
_server_events = st.one_of(
    st.builds(
        sansio.Response,
        status_code=st.sampled_from((200, 204, 304, 404, 199, 1000)),
        headers=_headers,
        http_version=_versions,
        reason=st.sampled_from((b"", b"OK", b"a\r\nb")),
    ),
    st.builds(
        sansio.InformationalResponse,
        status_code=st.sampled_from((100, 101, 103, 200)),
        headers=_headers,
        http_version=st.just(b"1.1"),
        reason=st.sampled_from((b"", b"Continue")),
    ),
    st.builds(sansio.Data, st.binary(max_size=8)),
    st.builds(sansio.EndOfMessage, st.sampled_from(((), ((b"x", b"y"),)))),
    st.just(sansio.ConnectionClosed()),
)
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("client"), _client_events),
        st.tuples(st.just("server"), _server_events),
        st.tuples(st.just("cycle"), st.none()),
        st.tuples(st.sampled_from(("client-frame", "server-frame")), st.integers(-1, 8)),
    ),
    max_size=12,
)
# Most random sequences are refused at their first event; starting many of them with a
# valid request (and sometimes its answer) gets the rest of the sequence to the writers.
_sequences = st.one_of(
    _steps,
    st.builds(
        lambda req, answer, rest: [
            ("client", req.request),
            *([("server", answer)] if answer is not None else []),
            *rest,
        ],
        hs.requests(tolerated=False),
        st.none() | st.builds(sansio.Response, st.sampled_from((200, 204, 304)), _headers),
        _steps,
    ),
)


# Finding 3: a client's send(Request) after the server closed raised KeyError.
@example(steps=[("server", sansio.ConnectionClosed()), ("client", sansio.Request(b"GET", b"/"))])
# Finding 4: send let out an HTTP/1.0 POST without Content-Length; the core answers 411.
@example(steps=[("client", sansio.Request(b"POST", b"/")), ("client", sansio.EndOfMessage())])
# Finding 5: send let out an HTTP/1.0 request with two Host fields; the core answers 400.
@example(steps=[("client", sansio.Request(b"GET", b"/", ((b"host", b"a"), (b"host", b"a"))))])
@budget(2.0)
@given(steps=_sequences)
@counted
def test_every_send_is_refused_or_parses(
    steps: list[tuple[str, sansio.Event | int | None]],
) -> None:
    """``send`` (and ``send_body_framing``, with the body bytes it frames) either raises
    LocalProtocolError (nothing else) or returns bytes the peer parses without error: a
    message ``send`` lets out is one the core accepts."""
    client = sansio.Connection(sansio.CLIENT)
    server = sansio.Connection(sansio.SERVER)
    for who, event in steps:
        if who == "cycle":
            for conn in (client, server):
                with contextlib.suppress(sansio.LocalProtocolError):
                    conn.start_next_cycle()
            continue
        sender, receiver = (client, server) if who.startswith("client") else (server, client)
        try:
            if isinstance(event, int):
                before, after = sender.send_body_framing(event)
                wire = before + b"x" * event + after
            else:
                assert event is not None
                wire = sender.send(event)
        except sansio.LocalProtocolError:
            continue
        if receiver.their_state in (sansio.CLOSED, sansio.ERROR):
            continue
        closed = type(event) is sansio.ConnectionClosed
        got = feed(receiver, [wire] if wire else [], eof=closed)
        assert got.error is None, (event, wire, got.error)
