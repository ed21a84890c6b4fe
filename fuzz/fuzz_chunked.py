"""Chunked decoding, request bodies (server role) and response bodies (client role).

Invariant: a chunked body, fed whole or at any split points and then EOF, is accepted
exactly when an independent strict decoder of RFC 9112 §7.1 accepts it (trailer fields
that RFC 9110 §6.5.1 rules out refused), with the same body bytes and trailers;
otherwise the core raises RemoteProtocolError. It never raises anything else and never
hangs. Inputs are chunked bodies built from well-formed and deliberately broken parts
(sizes, extensions, line ends, data lengths, trailers) under small and default Limits,
so that every branch of the grammar and of the limits is hit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import example, given
from hypothesis import strategies as st

import sansio
from sansio import strategies as hs

from ._harness import CUTS, budget, corpus, counted, feed, split_at, trailer_ok

# -- the reference decoder ------------------------------------------------------------
# RFC 9110 §5.6.2 token, §5.6.4 quoted-string; RFC 9112 §7.1.1 chunk-ext (BWS allowed).
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_EXT = re.compile(rb"(?:[ \t]*;[ \t]*%b(?:[ \t]*=[ \t]*(?:%b|%b))?)*" % (_TOKEN, _TOKEN, _QUOTED))
_SIZE = re.compile(rb"[0-9A-Fa-f]+")
_FIELD = re.compile(rb"(%b):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*" % _TOKEN)


@dataclass(frozen=True)
class Decoded:
    body: bytes
    trailers: sansio.Headers


def reference_decode(data: bytes, limits: sansio.Limits) -> Decoded | None:
    """The body and trailers of the chunked ``data``, or ``None`` if it is invalid or
    incomplete (at EOF both are errors). Bytes after the body are ignored."""
    pos = 0
    body = []
    lines: list[bytes] = []
    in_trailers = False
    while True:
        lf = data.find(b"\n", pos)
        if lf < 0 or lf == pos or data[lf - 1] != 0x0D:  # every line ends in CRLF
            return None
        line = data[pos : lf - 1]
        pos = lf + 1
        if in_trailers:
            if not line:
                break
            if len(line) > limits.max_field_size:
                return None
            lines.append(line)
            if len(lines) > limits.max_header_count:
                return None
            if sum(map(len, lines)) > limits.max_head_size:
                return None
            continue
        if len(line) > limits.max_chunk_line_size:
            return None
        size = _SIZE.match(line)
        if size is None or size.end() > 16 or not _EXT.fullmatch(line, size.end()):
            return None
        n = int(size.group(), 16)
        if n == 0:
            in_trailers = True
            continue
        if data[pos + n : pos + n + 2] != b"\r\n":
            return None
        body.append(data[pos : pos + n])
        pos += n + 2
    trailers = []
    for line in lines:
        match = _FIELD.fullmatch(line)
        if match is None:
            return None
        name = match.group(1).lower()
        if not trailer_ok(name):
            return None
        trailers.append((name, match.group(2)))
    return Decoded(b"".join(body), tuple(trailers))


# -- chunked bodies, valid and broken -------------------------------------------------


def _ext() -> st.SearchStrategy[bytes]:
    valid = st.sampled_from(
        (b"", b";a", b";a=b", b';q="x;y=\\"z\\""', b" ;a = b", b"\t;a", b';a=""')
    )
    broken = st.sampled_from((b";", b";=b", b";a=", b';a="', b";a b", b";a\x00", b" ", b";\xff"))
    return st.one_of(valid, valid, valid, broken, st.binary(max_size=6))


def _eol() -> st.SearchStrategy[bytes]:
    return st.sampled_from((b"\r\n",) * 8 + (b"\n", b"\r", b"", b"\r\r\n"))


@st.composite
def _chunk(draw: st.DrawFn) -> bytes:
    data = draw(st.binary(max_size=40))
    size = len(data)
    if not data:
        data, size = b"x", 1
    digits: bytes = draw(
        st.one_of(
            st.sampled_from((b"%x" % size, b"%X" % size, (b"%x" % size).rjust(16, b"0"))),
            st.sampled_from((b"", b"0x1", b" 1", b"-1", b"g", (b"%x" % size).rjust(17, b"0"))),
            st.integers(0, 64).map(lambda n: b"%x" % n),  # a size that does not fit
        )
    )
    after: bytes = draw(st.sampled_from((b"\r\n",) * 8 + (b"\n", b"", b"x\r\n", b"\r")))
    return digits + draw(_ext()) + draw(_eol()) + data + after


@st.composite
def chunked_bodies(draw: st.DrawFn) -> bytes:
    chunks = b"".join(draw(st.lists(_chunk(), max_size=5)))
    last = draw(st.sampled_from((b"0", b"000", b"0000000000000000", b"00000000000000000")))
    fields = draw(
        st.lists(
            st.one_of(
                st.tuples(hs.tokens(max_size=12), hs.field_values(max_words=3)).map(
                    lambda f: f[0] + b": " + f[1]
                ),
                st.sampled_from((b" folded", b"A : b", b": b", b"nocolon", b"A: \x00", b"A:\tb\t")),
                st.sampled_from(
                    (
                        b"Content-Length: 99",
                        b"Host: evil.example.com",
                        b"Transfer-Encoding: chunked",
                        b"content-type: text/html",
                        b"If-None-Match: x",
                        b"Set-Cookie: a=b",
                        b"grpc-status: 0",
                        b"Server-Timing: db;dur=53",
                    )
                ),
                st.binary(max_size=10),
            ),
            max_size=5,
        )
    )
    trailers = b"".join(field + draw(_eol()) for field in fields)
    rest = draw(st.sampled_from((b"", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"x")))
    return chunks + last + draw(_ext()) + draw(_eol()) + trailers + draw(_eol()) + rest


LIMITS = st.sampled_from(
    (
        sansio.Limits(),
        sansio.Limits(
            max_chunk_line_size=24,
            max_field_size=32,
            max_header_count=3,
            max_head_size=200,
            max_start_line_size=100,
        ),
    )
)

_HEAD_REQUEST = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
_HEAD_RESPONSE = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def decode_with_core(
    role: sansio.Role, body: bytes, cuts: list[int], limits: sansio.Limits
) -> tuple[Decoded | None, sansio.RemoteProtocolError | None]:
    conn = sansio.Connection(role, limits=limits)
    if role is sansio.CLIENT:
        conn.send(sansio.Request(b"GET", b"/", ((b"host", b"a"),), b"1.1"))
        conn.send(sansio.EndOfMessage())
        head = _HEAD_RESPONSE
    else:
        head = _HEAD_REQUEST
    outcome = feed(conn, split_at(head + body, cuts), eof=True)
    if outcome.error is not None:
        return None, outcome.error
    assert type(outcome.events[0]) in (sansio.Request, sansio.Response)
    end = outcome.events[-1]
    assert isinstance(end, sansio.EndOfMessage), outcome
    data = b"".join(e.data for e in outcome.events if isinstance(e, sansio.Data))
    return Decoded(data, end.headers), None


def _seeded(test: Callable[..., None]) -> Callable[..., None]:
    for seed in corpus("chunked"):
        test = example(body=seed.data, role=sansio.SERVER, cuts=[], limits=sansio.Limits())(test)
    return test


@budget(2.0)
@_seeded
@given(
    body=chunked_bodies(),
    role=st.sampled_from((sansio.SERVER, sansio.CLIENT)),
    cuts=CUTS,
    limits=LIMITS,
)
@counted
def test_core_agrees_with_reference_decoder(
    body: bytes, role: sansio.Role, cuts: list[int], limits: sansio.Limits
) -> None:
    expected = reference_decode(body, limits)
    got, error = decode_with_core(role, body, cuts, limits)
    assert got == expected, (got, expected, error)


@budget(0.5)
@given(req=hs.requests(framings=("chunked",), tolerated=False), cut=st.integers(0))
@counted
def test_any_truncation_of_a_chunked_body_is_an_error(req: hs.GeneratedRequest, cut: int) -> None:
    head_end = req.wire.index(b"\r\n\r\n") + 4
    end = head_end + cut % (len(req.wire) - head_end)
    outcome = feed(sansio.Connection(sansio.SERVER), [req.wire[:end]], eof=True)
    assert outcome.error is not None and outcome.error.status_hint == 400, outcome
