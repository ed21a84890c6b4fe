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

from http import HTTPStatus

from hypothesis import given
from hypothesis import strategies as st

import sansio
from sansio import strategies as hs

from ._harness import counted, feed


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
