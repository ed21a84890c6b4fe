"""Response parsing (client role), including HEAD, 1xx, 204, 304 and close-delimited bodies.

Invariant: after sending a request, a client connection parses any bytes, fed whole or
at any split points and followed or not by EOF, or raises RemoteProtocolError; never
anything else, never a hang. Segmentation never changes a verdict or an event. Valid
responses give exactly the generated events and keep-alive; a close-delimited body
ends at EOF and a length-delimited one cut short by EOF is an error.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import example, given
from hypothesis import strategies as st

import sansio
from sansio import strategies as hs

from ._harness import CUTS, assert_same_outcome, budget, corpus, counted, feed, split_at

SEEDS = corpus("responses")
METHODS = (b"GET", b"HEAD", b"POST")


def client(method: bytes, version: bytes = b"1.1") -> sansio.Connection:
    conn = sansio.Connection(sansio.CLIENT)
    fields: sansio.Headers = ((b"host", b"example.com"),)
    if version == b"1.0":
        fields += ((b"connection", b"keep-alive"),)
    conn.send(sansio.Request(method, b"/", fields, version))
    conn.send(sansio.EndOfMessage())
    return conn


def prepared(resp: hs.GeneratedResponse) -> sansio.Connection:
    conn = sansio.Connection(sansio.CLIENT)
    conn.send(resp.request)
    conn.send(sansio.EndOfMessage())
    return conn


@given(resp=hs.responses(), data=st.data())
@counted
def test_valid_response_gives_its_events(resp: hs.GeneratedResponse, data: st.DataObject) -> None:
    pieces = data.draw(hs.chunkings(resp.wire), label="pieces")
    eof = resp.framing == "close"
    conn = prepared(resp)
    outcome = feed(conn, pieces, eof=eof)
    assert outcome.error is None, outcome.error
    assert outcome.events == resp.events
    assert outcome.closed is eof
    assert conn.keep_alive is resp.keep_alive
    if not eof:
        assert conn.their_state is (sansio.DONE if resp.keep_alive else sansio.MUST_CLOSE)
        # Now EOF is a clean close, never an error.
        after = feed(conn, [], eof=True)
        assert after.error is None and after.closed and not after.events
    assert_same_outcome(feed(prepared(resp), [resp.wire], eof=eof), outcome)


@budget(0.5)
@given(
    resp=hs.responses(framings=("content-length",), with_body=True, informational=False),
    data=st.data(),
)
@counted
def test_body_cut_short_by_eof_is_an_error(resp: hs.GeneratedResponse, data: st.DataObject) -> None:
    cut = data.draw(st.integers(len(resp.wire) - len(resp.body), len(resp.wire) - 1))
    outcome = feed(prepared(resp), [resp.wire[:cut]], eof=True)
    assert outcome.error is not None, outcome


_inputs = st.one_of(
    st.sampled_from([seed.data for seed in SEEDS]).flatmap(hs.mutations),
    hs.responses().flatmap(lambda r: hs.mutations(r.wire)),
    st.binary(max_size=256),
)


def _seeded(test: Callable[..., None]) -> Callable[..., None]:
    for seed in SEEDS:
        test = example(method=seed.method, data=seed.data, cuts=[], eof=True)(test)
    return test


# Finding 1: EOF before the final response raised KeyError from the state table.
@example(method=b"GET", data=b"", cuts=[], eof=True)
@example(method=b"GET", data=b"HTTP/1.1 100 Continue\r\n\r\n", cuts=[], eof=True)
@_seeded
@given(method=st.sampled_from(METHODS), data=_inputs, cuts=CUTS, eof=st.booleans())
@counted
def test_any_bytes_parse_or_raise(method: bytes, data: bytes, cuts: list[int], eof: bool) -> None:
    whole = feed(client(method), split_at(data, []), eof=eof)
    split = feed(client(method), split_at(data, cuts), eof=eof)
    assert_same_outcome(whole, split)


@given(method=st.sampled_from(METHODS), status=st.sampled_from((204, 304)))
@counted
def test_no_body_statuses_and_head_read_no_body(method: bytes, status: int) -> None:
    # Whatever the headers announce, a 204/304 or any answer to HEAD ends with its head:
    # the bytes after it belong to the next response.
    head = b"HTTP/1.1 %d X\r\nContent-Length: 5\r\n\r\n" % status
    following = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    conn = client(method)
    outcome = feed(conn, [head + following])
    assert outcome.error is None
    assert [type(e) for e in outcome.events] == [sansio.Response, sansio.EndOfMessage]
    assert conn.trailing_data[0] == following
