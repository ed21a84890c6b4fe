"""Differential: the core against h11 on the same request bytes (server role).

Invariant: every valid HTTP/1.0 and HTTP/1.1 request from ``sansio.strategies.requests``
is accepted by both, with the same method, target, headers (names lower-cased, values
stripped, order kept), body and trailers. For near misses of valid requests, whenever
both accept, they agree on all of these: two parsers that both accept a message but
read it differently are what request smuggling is made of. The deliberate differences
(fuzz/README.md lists each with its RFC reason) are normalised away in ``_normalise``,
and only there.
"""

from __future__ import annotations

from dataclasses import dataclass

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sansio
from sansio import strategies as hs

from ._harness import CUTS, counted, feed, split_at


@dataclass(frozen=True)
class Parsed:
    method: bytes
    target: bytes
    http_version: bytes
    headers: sansio.Headers
    body: bytes
    trailers: sansio.Headers


def parse_h11(data: bytes, *, eof: bool) -> Parsed | None:
    """The first request h11 reads from ``data``, or ``None`` if it rejects it."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=1 << 20)
    conn.receive_data(data)
    if eof:
        conn.receive_data(b"")
    request = None
    body = []
    try:
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return Parsed(
                    bytes(request.method),
                    bytes(request.target),
                    bytes(request.http_version),
                    tuple((bytes(n), bytes(v)) for n, v in request.headers),
                    b"".join(body),
                    tuple((bytes(n), bytes(v)) for n, v in event.headers),
                )
            else:  # NEED_DATA, PAUSED, ConnectionClosed before the end of a request
                return None
    except h11.RemoteProtocolError:
        return None


def parse_core(data: bytes, cuts: list[int], *, eof: bool) -> Parsed | None:
    outcome = feed(sansio.Connection(sansio.SERVER), split_at(data, cuts), eof=eof)
    events = outcome.events
    ends = [i for i, e in enumerate(events) if type(e) is sansio.EndOfMessage]
    if not ends:
        return None  # rejected, or incomplete
    request, *body, end = events[: ends[0] + 1]
    assert type(request) is sansio.Request and type(end) is sansio.EndOfMessage
    return Parsed(
        request.method,
        request.target,
        request.http_version,
        request.headers,
        b"".join(e.data for e in body if type(e) is sansio.Data),
        end.headers,
    )


def _normalise(parsed: Parsed) -> Parsed:
    """Erase the deliberate differences listed in fuzz/README.md (and nothing else)."""
    headers = []
    seen_length = False
    for name, value in parsed.headers:
        if name == b"transfer-encoding":
            value = value.lower()  # h11 lower-cases it; codings are case-insensitive
        elif name == b"content-length":
            # h11 folds "5, 5" and repeated identical values into one field.
            if seen_length:
                continue
            seen_length = True
            value = value.split(b",")[0].strip(b" \t")
        headers.append((name, value))
    version = parsed.http_version
    return Parsed(
        parsed.method,
        parsed.target,
        b"1.1" if version > b"1.1" else version,  # RFC 9110 §2.5: 1.x -> our highest
        tuple(headers),
        parsed.body,
        parsed.trailers,
    )


@given(req=hs.requests(), cuts=CUTS)
@counted
def test_valid_requests_parse_the_same(req: hs.GeneratedRequest, cuts: list[int]) -> None:
    ours = parse_core(req.wire, cuts, eof=False)
    # h11 refuses the empty lines a server should ignore before a request line (§2.2).
    theirs = parse_h11(req.wire.lstrip(b"\r\n"), eof=False)
    assert ours is not None
    assert theirs is not None, req.wire
    assert _normalise(ours) == _normalise(theirs)
    assert ours == Parsed(
        req.request.method,
        req.request.target,
        req.request.http_version,
        req.request.headers,
        req.body,
        req.trailers,
    )


_near_misses = st.one_of(
    hs.requests(tolerated=False).flatmap(lambda r: hs.mutations(r.wire)),
    hs.hostile_requests().map(lambda r: r.wire),
)


@given(data=_near_misses, cuts=CUTS, eof=st.booleans())
@counted
def test_when_both_accept_they_agree(data: bytes, cuts: list[int], eof: bool) -> None:
    ours = parse_core(data, cuts, eof=eof)
    if ours is None:
        return
    theirs = parse_h11(data.lstrip(b"\r\n"), eof=eof)
    if theirs is None:
        return
    assert _normalise(ours) == _normalise(theirs), data


# Inputs that h11 accepts and the core refuses on purpose (fuzz/README.md, "Deliberate
# differences from h11", says why): each must stay a difference, or the table is wrong.
REFUSED_ON_PURPOSE = {
    "asterisk-form for GET": b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
    "authority-form for GET": b"GET example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n",
    "no form": b"GET foo/bar HTTP/1.1\r\nHost: h\r\n\r\n",
    "origin-form for CONNECT": b"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n",
    "not an absolute-URI": b"PUT s://]ufd/: HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
    "a framing trailer": (
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\nContent-Length: 99\r\n\r\n"
    ),
    "two Content-Types": (
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
        b"Content-Type: application/json\r\nContent-Type: text/html\r\n\r\nhi"
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED_ON_PURPOSE))
def test_each_deliberate_refusal_is_still_a_difference(name: str) -> None:
    data = REFUSED_ON_PURPOSE[name]
    assert parse_core(data, [], eof=False) is None
    assert parse_h11(data, eof=False) is not None
