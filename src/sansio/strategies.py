"""Hypothesis strategies for HTTP/1.x wire bytes, each paired with what the core makes of it.

For people who embed the core in a loop or a framework and want to fuzz their own code.
Every generated message holds its exact wire bytes *and* the events a conforming parser
returns for them, so a property test needs no second parser. This module needs
Hypothesis (``pip install 'h10[strategies]'``); ``import sansio`` never imports it.

- ``requests()`` -> ``GeneratedRequest``: a valid request (HTTP/1.0 or 1.1; no body,
  Content-Length or chunked with extensions and trailers), its ``Request`` event, body,
  trailers and whether it asks to keep the connection alive.
- ``responses()`` -> ``GeneratedResponse``: a valid response to a given method
  (HEAD/204/304 without a body, Content-Length, chunked, close-delimited, 1xx first),
  with the ``Request`` a client must send before it can parse it.
- ``hostile_requests()`` -> ``HostileRequest``: bytes every conforming server rejects,
  named by smuggling class (``HOSTILE_CLASSES``) with the status it must answer.
- ``framing_fields()``: Content-Length, Transfer-Encoding and Connection fields, valid
  or not, for checking that what a writer sends a reader frames the same way.
- ``any_bytes()``, ``hostile_fields()``, ``hostile_methods()``, ``hostile_targets()``,
  ``hostile_reasons()``: values an application might hand to ``send``, from all 256
  byte values (CR, LF, NUL, controls, injections); ``send`` must refuse or round-trip them.
- ``chunkings(data)`` -> ``list[bytes]``: ``data`` cut at random points, never into an
  empty piece (``receive_data(b"")`` means EOF).

Example: whatever way a request is segmented, a server sees the same events::

    from hypothesis import given, strategies as st
    import sansio
    from sansio import strategies as hs

    @given(hs.requests(), st.data())
    def test_segmentation_does_not_matter(req, data):
        conn = sansio.Connection(sansio.SERVER)
        events = []
        for piece in data.draw(hs.chunkings(req.wire)):
            conn.receive_data(piece)
            events.extend(conn.events())
        assert hs.coalesce(events) == req.events

    @given(hs.hostile_requests())
    def test_smuggling_is_refused(bad):
        conn = sansio.Connection(sansio.SERVER)
        conn.receive_data(bad.wire)
        if bad.eof:
            conn.receive_data(b"")
        with pytest.raises(sansio.RemoteProtocolError) as info:
            list(conn.events())
        assert info.value.status_hint == bad.status_hint
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ._events import (
    Data,
    EndOfMessage,
    Event,
    Headers,
    InformationalResponse,
    Request,
    Response,
)
from ._limits import Limits

__all__ = [
    "HOSTILE_CLASSES",
    "GeneratedRequest",
    "GeneratedResponse",
    "HostileRequest",
    "RequestFraming",
    "ResponseFraming",
    "any_bytes",
    "chunkings",
    "coalesce",
    "field_values",
    "framing_fields",
    "hostile_fields",
    "hostile_methods",
    "hostile_reasons",
    "hostile_requests",
    "hostile_targets",
    "mutations",
    "request_targets",
    "requests",
    "responses",
    "tokens",
]

RequestFraming = Literal["none", "content-length", "chunked"]
ResponseFraming = Literal["none", "content-length", "chunked", "close"]

_REQUEST_FRAMINGS: tuple[RequestFraming, ...] = ("none", "content-length", "chunked")
_RESPONSE_FRAMINGS: tuple[ResponseFraming, ...] = ("none", "content-length", "chunked", "close")


@dataclass(frozen=True, slots=True)
class GeneratedRequest:
    """A valid request on the wire and what a server parses from it."""

    wire: bytes
    """The exact bytes a client sends."""
    request: Request
    """The ``Request`` event a server returns for ``wire``."""
    body: bytes
    """The body, without any chunked framing."""
    trailers: Headers
    """The trailer fields of a chunked body (the ``EndOfMessage`` headers)."""
    framing: RequestFraming
    """``"none"`` (no body), ``"content-length"`` or ``"chunked"``."""
    keep_alive: bool
    """Whether the request lets the connection carry another one afterwards."""

    @property
    def events(self) -> tuple[Event, ...]:
        """What a server returns for ``wire``, with the body as a single ``Data``."""
        return _message_events((self.request,), self.body, self.trailers)


@dataclass(frozen=True, slots=True)
class GeneratedResponse:
    """A valid response on the wire, the request it answers, and what a client parses."""

    wire: bytes
    """The exact bytes a server sends; for ``framing == "close"`` EOF must follow."""
    request: Request
    """What the client sends first (``conn.send(request)``): the method decides framing."""
    informational: tuple[InformationalResponse, ...]
    """The 1xx responses before the final one (only to HTTP/1.1 requests)."""
    response: Response
    """The final ``Response`` event a client returns."""
    body: bytes
    trailers: Headers
    framing: ResponseFraming
    """``"none"`` (HEAD, 204, 304), ``"content-length"``, ``"chunked"`` or ``"close"``."""
    keep_alive: bool
    """Whether request and response together leave the connection reusable."""

    @property
    def events(self) -> tuple[Event, ...]:
        """What a client returns for ``wire`` (and EOF, if close-delimited), body
        coalesced; the ``ConnectionClosed`` after EOF is not included."""
        return _message_events((*self.informational, self.response), self.body, self.trailers)


@dataclass(frozen=True, slots=True)
class HostileRequest:
    """Bytes that a conforming server must reject, and how."""

    wire: bytes
    smuggling_class: str
    """A key of ``HOSTILE_CLASSES``."""
    status_hint: int
    """The ``RemoteProtocolError.status_hint`` the server must raise with."""
    eof: bool
    """The fault is a message cut short: the error comes only at EOF (``b""``)."""


HOSTILE_CLASSES: dict[str, str] = {
    "cl-te": "both Content-Length and Transfer-Encoding (RFC 9112 §6.1, §11.2)",
    "cl-cl": "differing Content-Length values (RFC 9110 §8.6)",
    "cl-invalid": "a Content-Length that is not 1*DIGIT (RFC 9110 §8.6)",
    "te-not-chunked-final": "chunked is not the final transfer coding (RFC 9112 §6.3)",
    "te-unknown": "an unknown transfer coding before chunked: 501 (RFC 9112 §6.1)",
    "te-chunked-twice": "chunked applied more than once (RFC 9112 §6.1)",
    "te-http10": "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)",
    "obs-fold": "obsolete line folding in a request (RFC 9112 §5.2)",
    "space-before-colon": "whitespace between a field name and the colon (RFC 9112 §5.1)",
    "bare-cr": "a CR not followed by LF (RFC 9112 §2.2)",
    "ctl-in-field": "NUL or another control character in a field (RFC 9110 §5.5)",
    "bad-field-name": "a field name that is not a token (RFC 9110 §5.1)",
    "bad-request-line": "a malformed request line (RFC 9112 §3)",
    "version-unsupported": "an HTTP major version other than 1: 505 (RFC 9110 §15.6.6)",
    "host-count": "an HTTP/1.1 request without exactly one Host (RFC 9112 §3.2)",
    "length-required": "an HTTP/1.0 POST, PUT or PATCH without Content-Length: 411 (RFC 1945 §8.3)",
    "chunk-size-invalid": "a chunk size that is not 1 to 16 hex digits (RFC 9112 §7.1)",
    "chunk-missing-crlf": "chunk data not followed by CRLF (RFC 9112 §7.1)",
    "chunk-bare-lf": "a chunk-size line ended by a bare LF (RFC 9112 §7.1)",
    "chunk-ext-invalid": "a chunk extension outside the grammar (RFC 9112 §7.1.1)",
    "chunk-line-too-long": "a chunk-size line over Limits.max_chunk_line_size",
    "request-line-too-long": "a request line over Limits.max_start_line_size: 414",
    "field-too-large": "a field line over Limits.max_field_size: 431",
    "head-too-large": "a head over Limits.max_head_size: 431",
    "too-many-fields": "more than Limits.max_header_count fields: 431",
    "truncated-head": "EOF in the middle of a request head",
    "truncated-body": "EOF in the middle of a Content-Length or chunked body",
    "body-too-large": "a body over Limits.max_body_size: 413 (only if it is set)",
}


def coalesce(events: Iterable[Event]) -> tuple[Event, ...]:
    """``events`` with each run of ``Data`` merged into one and empty ``Data`` dropped.

    A parser may split a body into any number of ``Data`` events; compare coalesced.
    """
    out: list[Event] = []
    pending: list[bytes] = []
    for event in events:
        if type(event) is Data:
            pending.append(event.data)
            continue
        if pending:
            body = b"".join(pending)
            if body:
                out.append(Data(body))
            pending = []
        out.append(event)
    if pending and b"".join(pending):
        out.append(Data(b"".join(pending)))
    return tuple(out)


def _message_events(heads: tuple[Event, ...], body: bytes, trailers: Headers) -> tuple[Event, ...]:
    return (*heads, *((Data(body),) if body else ()), EndOfMessage(trailers))


# -- building blocks ------------------------------------------------------------------

_TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VCHARS = "".join(map(chr, range(0x21, 0x7F)))
_OBS_TEXT = "".join(map(chr, range(0x80, 0x100)))
_UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
_PCHARS = _UNRESERVED + "!$&'()*+,;=:@"
_QDTEXT = "\t !" + "".join(chr(c) for c in range(0x23, 0x7F) if c != 0x5C) + _OBS_TEXT

# Header names that change framing or persistence: generated only where intended.
_FRAMING_NAMES = frozenset(
    {
        b"host",
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"upgrade",
        b"expect",
    }
)
_COMMON_NAMES = (
    b"Accept",
    b"Accept-Encoding",
    b"Accept-Language",
    b"Cache-Control",
    b"Cookie",
    b"Content-Type",
    b"Date",
    b"ETag",
    b"Location",
    b"Referer",
    b"Server",
    b"Set-Cookie",
    b"User-Agent",
    b"X-Forwarded-For",
    b"Transfer_Encoding",  # a token, and not Transfer-Encoding: no framing meaning
    b"Content-Lengthx",
)
_METHODS = (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE")


def tokens(*, min_size: int = 1, max_size: int = 16) -> st.SearchStrategy[bytes]:
    """RFC 9110 tokens (methods, field names, transfer codings)."""
    return st.text(_TCHARS, min_size=min_size, max_size=max_size).map(str.encode)


@st.composite
def _field_value(draw: st.DrawFn, max_words: int, obs_text: bool) -> bytes:
    alphabet = _VCHARS + _OBS_TEXT if obs_text else _VCHARS
    words = draw(st.lists(st.text(alphabet, min_size=1, max_size=10), max_size=max_words))
    out = words[0] if words else ""
    for word in words[1:]:
        out += draw(st.sampled_from((" ", "\t", "  ", " \t "))) + word
    return out.encode("latin-1")


def field_values(*, max_words: int = 5, obs_text: bool = True) -> st.SearchStrategy[bytes]:
    """Field values as a parser returns them: VCHAR and obs-text words separated by
    SP/HTAB runs, never with whitespace at either end; possibly empty."""
    return _field_value(max_words, obs_text)


@st.composite
def _request_target(draw: st.DrawFn, method: bytes) -> bytes:
    if method == b"OPTIONS" and draw(st.integers(0, 3)) == 0:
        return b"*"
    segment = st.lists(
        st.one_of(
            st.text(_PCHARS, min_size=1, max_size=6),
            st.sampled_from(("%20", "%2F", "%00", "%C3%A9", "%25")),
        ),
        max_size=3,
    ).map("".join)
    path = "/" + "/".join(draw(st.lists(segment, max_size=4)))
    if draw(st.booleans()):
        path += "?" + draw(st.text(_PCHARS + "/?", max_size=16))
    if draw(st.integers(0, 5)) == 0:
        path = "http://" + draw(_hosts).decode("ascii") + path
    return path.encode("ascii")


def request_targets(method: bytes = b"GET") -> st.SearchStrategy[bytes]:
    """Origin-form and absolute-form targets (and ``*`` for OPTIONS), RFC 3986 bytes."""
    return _request_target(method)


_hosts = st.one_of(
    st.sampled_from((b"example.com", b"localhost", b"127.0.0.1:8080", b"[::1]:80")),
    st.from_regex(rb"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6})?(:[0-9]{1,5})?\Z"),
)


def _extra_names() -> st.SearchStrategy[bytes]:
    return st.one_of(st.sampled_from(_COMMON_NAMES), tokens(max_size=20)).filter(
        lambda name: name.lower() not in _FRAMING_NAMES
    )


@st.composite
def _wire_name(draw: st.DrawFn, name: bytes) -> bytes:
    """The same field name in one of the spellings peers use (names are case-insensitive)."""
    spell: Callable[[bytes], bytes] = draw(
        st.sampled_from((bytes.lower, bytes.title, bytes.upper, bytes.swapcase))
    )
    return name if draw(st.booleans()) else spell(name)


_OWS = st.sampled_from((b"", b" ", b"", b"\t", b"  ", b" \t"))


@st.composite
def _field_lines(
    draw: st.DrawFn, fields: Sequence[tuple[bytes, bytes]], eols: st.SearchStrategy[bytes]
) -> bytes:
    out = []
    for name, value in fields:
        ows_left, ows_right = draw(_OWS), draw(_OWS)
        out.append(draw(_wire_name(name)) + b":" + ows_left + value + ows_right + draw(eols))
    return b"".join(out)


def _insert(draw: st.DrawFn, fields: list[tuple[bytes, bytes]], field: tuple[bytes, bytes]) -> None:
    fields.insert(draw(st.integers(0, len(fields))), field)


def _eols(tolerated: bool) -> st.SearchStrategy[bytes]:
    # Bare LF ends a head line (RFC 9112 §2.2 lets recipients accept it), if every
    # line of that head ends so.
    return st.sampled_from((b"\r\n", b"\r\n", b"\n")) if tolerated else st.just(b"\r\n")


@st.composite
def _chunked_body(draw: st.DrawFn, body: bytes, trailers: Headers) -> bytes:
    out = []
    for piece in draw(chunkings(body, max_pieces=8)):
        out.append(_chunk_size(draw, len(piece)) + draw(_chunk_exts) + b"\r\n" + piece + b"\r\n")
    out.append(_chunk_size(draw, 0) + draw(_chunk_exts) + b"\r\n")
    out.append(draw(_field_lines(trailers, st.just(b"\r\n"))))
    out.append(b"\r\n")
    return b"".join(out)


def _chunk_size(draw: st.DrawFn, size: int) -> bytes:
    digits = b"%x" % size if draw(st.booleans()) else b"%X" % size
    return digits.rjust(draw(st.integers(len(digits), 16)) if draw(st.booleans()) else 0, b"0")


_chunk_ext_value = st.one_of(
    tokens(max_size=8),
    st.text(_QDTEXT, max_size=8).map(lambda s: b'"' + s.encode("latin-1") + b'"'),
    st.just(b'"a\\"b;c=d"'),
)
_chunk_exts = st.lists(
    st.tuples(tokens(max_size=8), st.none() | _chunk_ext_value).map(
        lambda ext: b";" + ext[0] + (b"" if ext[1] is None else b"=" + ext[1])
    ),
    max_size=2,
).map(b"".join)


def _fields(max_fields: int) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    return st.lists(st.tuples(_extra_names(), field_values()), max_size=max_fields)


def _bodies(with_body: bool | None, max_body: int) -> st.SearchStrategy[bytes]:
    if with_body is False:
        return st.just(b"")
    return st.binary(min_size=1 if with_body else 0, max_size=max_body)


# -- requests -------------------------------------------------------------------------


def requests(
    *,
    versions: Sequence[bytes] = (b"1.0", b"1.1"),
    methods: Sequence[bytes] | None = None,
    with_body: bool | None = None,
    framings: Sequence[RequestFraming] = _REQUEST_FRAMINGS,
    tolerated: bool = True,
    max_fields: int = 8,
    max_body: int = 256,
) -> st.SearchStrategy[GeneratedRequest]:
    """Valid requests, each with the ``Request`` event, body and trailers it parses to.

    ``versions``: from ``b"1.0"``, ``b"1.1"``. ``methods``: default, common methods and
    arbitrary tokens (never CONNECT). ``with_body``: ``True`` a non-empty body, ``False``
    an empty one (no framing, ``Content-Length: 0`` or a lone last chunk), ``None`` either.
    ``framings``: from ``"none"``, ``"content-length"``, ``"chunked"`` (1.1 only).
    ``tolerated``: also use what RFC 9112 §2.2 lets servers accept: bare LF line ends
    in the head and empty lines before the request line. Field names vary in case and
    values carry optional whitespace around them; 1.1 requests have exactly one Host.
    """
    versions = tuple(versions)
    framings = tuple(framings)
    if not versions or set(versions) - {b"1.0", b"1.1"}:
        raise InvalidArgument(f"versions must be drawn from b'1.0', b'1.1': {versions!r}")
    if not framings or set(framings) - set(_REQUEST_FRAMINGS):
        raise InvalidArgument(f"framings must be drawn from {_REQUEST_FRAMINGS}: {framings!r}")
    if with_body and framings == ("none",):
        raise InvalidArgument("with_body=True needs a framing other than 'none'")
    if framings == ("chunked",) and versions == (b"1.0",):
        raise InvalidArgument("chunked framing needs HTTP/1.1")
    method_strategy = (
        st.sampled_from(tuple(methods))
        if methods is not None
        else st.one_of(st.sampled_from(_METHODS), tokens(max_size=10))
    ).filter(lambda m: m != b"CONNECT")
    return _requests(
        versions, method_strategy, with_body, framings, tolerated, max_fields, max_body
    )


@st.composite
def _requests(
    draw: st.DrawFn,
    versions: tuple[bytes, ...],
    methods: st.SearchStrategy[bytes],
    with_body: bool | None,
    framings: tuple[RequestFraming, ...],
    tolerated: bool,
    max_fields: int,
    max_body: int,
) -> GeneratedRequest:
    version = draw(st.sampled_from(versions))
    method = draw(methods)
    allowed = [f for f in framings if _request_framing_ok(f, version, method, with_body)]
    if not allowed and b"1.1" in versions:  # e.g. framings=("chunked",) and 1.0 was drawn
        version = b"1.1"
        allowed = [f for f in framings if _request_framing_ok(f, version, method, with_body)]
    if not allowed:
        reject()
    framing: RequestFraming = draw(st.sampled_from(allowed))
    target = draw(request_targets(method))
    body = b"" if framing == "none" else draw(_bodies(with_body, max_body))
    fields = draw(_fields(max_fields))
    if version == b"1.1" or draw(st.booleans()):
        _insert(draw, fields, (b"Host", draw(_hosts)))
    connection = draw(st.sampled_from((None, b"close", b"keep-alive", b"Keep-Alive", b"CLOSE")))
    if connection is not None:
        _insert(draw, fields, (b"Connection", connection))
    trailers: list[tuple[bytes, bytes]] = []
    if framing == "content-length":
        length = b"%d" % len(body)
        if draw(st.integers(0, 7)) == 0:
            length = b"0" * draw(st.integers(1, 3)) + length  # 1*DIGIT allows leading zeros
        _insert(draw, fields, (b"Content-Length", length))
    elif framing == "chunked":
        _insert(draw, fields, (b"Transfer-Encoding", draw(st.sampled_from(_CHUNKED))))
        trailers = draw(_fields(3))
    # One line end for the whole head: a head that mixes CRLF and bare LF is refused.
    eols = st.just(draw(_eols(tolerated)))
    leading = b"".join(draw(st.lists(_eols(tolerated), max_size=2))) if tolerated else b""
    head = (
        leading
        + b"%b %b HTTP/%b" % (method, target, version)
        + draw(eols)
        + draw(_field_lines(fields, eols))
        + draw(eols)
    )
    wire_body = draw(_chunked_body(body, _parsed(trailers))) if framing == "chunked" else body
    tokens_ = [] if connection is None else [connection.lower()]
    keep_alive = b"close" not in tokens_ and (version == b"1.1" or b"keep-alive" in tokens_)
    return GeneratedRequest(
        wire=head + wire_body,
        request=Request(method, target, _parsed(fields), version),
        body=body,
        trailers=_parsed(trailers),
        framing=framing,
        keep_alive=keep_alive,
    )


_CHUNKED = (b"chunked", b"Chunked", b"CHUNKED")
# RFC 1945 §8.3: an HTTP/1.0 POST needs Content-Length; the core asks it of these (411).
_BODY_METHODS = (b"POST", b"PUT", b"PATCH")


def _request_framing_ok(
    framing: RequestFraming, version: bytes, method: bytes, with_body: bool | None
) -> bool:
    if framing == "none":
        return not with_body and not (version == b"1.0" and method in _BODY_METHODS)
    return framing == "content-length" or version == b"1.1"


def _parsed(fields: Sequence[tuple[bytes, bytes]]) -> Headers:
    return tuple((name.lower(), value) for name, value in fields)


# -- responses ------------------------------------------------------------------------

_STATUSES = (200, 201, 202, 203, 206, 207, 226, 300, 301, 302, 303, 307, 308)
_ERROR_STATUSES = (400, 401, 403, 404, 405, 409, 410, 413, 418, 429, 500, 502, 503, 504)
_REASON_CHARS = "\t " + _VCHARS + _OBS_TEXT


def responses(
    *,
    request_method: bytes | None = None,
    versions: Sequence[bytes] = (b"1.0", b"1.1"),
    with_body: bool | None = None,
    framings: Sequence[ResponseFraming] = _RESPONSE_FRAMINGS,
    informational: bool = True,
    tolerated: bool = True,
    max_fields: int = 8,
    max_body: int = 256,
) -> st.SearchStrategy[GeneratedResponse]:
    """Valid responses to a request with ``request_method`` (default: GET, HEAD or POST).

    ``framings``: ``"none"`` (a response to HEAD, or 204/304: headers may still name a
    length), ``"content-length"``, ``"chunked"`` (1.1 only) and ``"close"`` (the body
    ends at EOF). ``informational``: 1xx responses may come first (1.1 only).
    ``tolerated``: bare LF line ends in the head. Parse one with::

        conn = sansio.Connection(sansio.CLIENT)
        conn.send(resp.request)
        conn.send(sansio.EndOfMessage())
        conn.receive_data(resp.wire)
        if resp.framing == "close":
            conn.receive_data(b"")
    """
    versions = tuple(versions)
    framings = tuple(framings)
    if not versions or set(versions) - {b"1.0", b"1.1"}:
        raise InvalidArgument(f"versions must be drawn from b'1.0', b'1.1': {versions!r}")
    if not framings or set(framings) - set(_RESPONSE_FRAMINGS):
        raise InvalidArgument(f"framings must be drawn from {_RESPONSE_FRAMINGS}: {framings!r}")
    if request_method == b"HEAD" and (with_body or "none" not in framings):
        raise InvalidArgument("a response to HEAD has no body: framings must include 'none'")
    if request_method == b"CONNECT":
        raise InvalidArgument("responses to CONNECT open a tunnel; they are not generated")
    methods = (
        st.just(request_method)
        if request_method is not None
        else st.sampled_from(
            (b"GET", b"POST", b"HEAD") if "none" in framings else (b"GET", b"POST")
        )
    )
    return _responses(
        methods, versions, with_body, framings, informational, tolerated, max_fields, max_body
    )


@st.composite
def _responses(
    draw: st.DrawFn,
    methods: st.SearchStrategy[bytes],
    versions: tuple[bytes, ...],
    with_body: bool | None,
    framings: tuple[ResponseFraming, ...],
    informational: bool,
    tolerated: bool,
    max_fields: int,
    max_body: int,
) -> GeneratedResponse:
    method = draw(methods)
    version = draw(st.sampled_from(versions))
    if method == b"HEAD":
        allowed: list[ResponseFraming] = ["none"]
    else:
        allowed = [
            f
            for f in framings
            if not (f == "chunked" and version == b"1.0") and not (f == "none" and with_body)
        ]
        if not allowed:
            version = b"1.1"
            allowed = [f for f in framings if f != "none" or not with_body]
    framing: ResponseFraming = draw(st.sampled_from(allowed))
    request_version = b"1.1" if version == b"1.1" else draw(st.sampled_from((b"1.0", b"1.1")))
    request_fields: Headers = ((b"host", b"example.com"),)
    if request_version == b"1.0":
        request_fields += ((b"connection", b"keep-alive"),)
        if method in (b"POST", b"PUT", b"PATCH"):
            request_fields += ((b"content-length", b"0"),)  # RFC 1945 §8.3
    request = Request(method, b"/", request_fields, request_version)

    if framing == "none" and method != b"HEAD":
        status = draw(st.sampled_from((204, 304)))
    else:
        status = draw(
            st.one_of(st.sampled_from(_STATUSES + _ERROR_STATUSES), st.integers(200, 599))
        )
        if framing != "none":
            status = 200 if status in (204, 304) else status
    body = b"" if framing == "none" else draw(_bodies(with_body, max_body))
    fields = draw(_fields(max_fields))
    connection = draw(st.sampled_from((None, b"close", b"keep-alive", b"Keep-Alive")))
    if connection is not None:
        _insert(draw, fields, (b"Connection", connection))
    trailers: list[tuple[bytes, bytes]] = []
    if framing == "content-length":
        _insert(draw, fields, (b"Content-Length", b"%d" % len(body)))
    elif framing == "chunked":
        _insert(draw, fields, (b"Transfer-Encoding", draw(st.sampled_from(_CHUNKED))))
        trailers = draw(_fields(3))
    elif framing == "none" and status != 204 and draw(st.booleans()):
        # A response to HEAD (or a 304) names the length the body would have had.
        if version == b"1.1" and status != 304 and draw(st.booleans()):
            _insert(draw, fields, (b"Transfer-Encoding", b"chunked"))
        else:
            _insert(draw, fields, (b"Content-Length", b"%d" % draw(st.integers(0, 10**12))))

    # One line end per response: a head that mixes CRLF and bare LF is refused.
    eols = st.just(draw(_eols(tolerated)))
    interim: list[InformationalResponse] = []
    wire = b""
    if informational and request_version == b"1.1" and version == b"1.1":
        for _ in range(draw(st.integers(0, 2))):
            code = draw(st.sampled_from((100, 102, 103)))
            reason = draw(_reasons)
            interim_fields = draw(_fields(3))
            wire += (
                b"HTTP/1.1 %d %b" % (code, reason)
                + draw(eols)
                + draw(_field_lines(interim_fields, eols))
                + draw(eols)
            )
            interim.append(InformationalResponse(code, _parsed(interim_fields), b"1.1", reason))
    reason = draw(_reasons)
    wire += (
        b"HTTP/%b %d %b" % (version, status, reason)
        + draw(eols)
        + draw(_field_lines(fields, eols))
        + draw(eols)
    )
    wire += draw(_chunked_body(body, _parsed(trailers))) if framing == "chunked" else body

    tokens_ = [] if connection is None else [connection.lower()]
    response_keep_alive = b"close" not in tokens_ and (
        version == b"1.1" or b"keep-alive" in tokens_
    )
    return GeneratedResponse(
        wire=wire,
        request=request,
        informational=tuple(interim),
        response=Response(status, _parsed(fields), version, reason),
        body=body,
        trailers=_parsed(trailers),
        framing=framing,
        keep_alive=response_keep_alive and framing != "close",
    )


_reasons = st.one_of(
    st.sampled_from((b"OK", b"Not Found", b"", b"Internal Server Error")),
    st.text(_REASON_CHARS, max_size=20).map(lambda s: s.encode("latin-1")),
)


# -- hostile requests -----------------------------------------------------------------

_Hostile = tuple[bytes, int, bool]  # wire, status hint, needs EOF
_DEFAULT_LIMITS = Limits()
_CTLS = bytes([*range(0x00, 0x09), *range(0x0B, 0x0D), *range(0x0E, 0x20), 0x7F])


def hostile_requests(
    *, classes: Sequence[str] | None = None, limits: Limits = _DEFAULT_LIMITS
) -> st.SearchStrategy[HostileRequest]:
    """Requests a conforming server must reject, from the classes in ``HOSTILE_CLASSES``.

    Each is one message, valid but for its single fault, so the verdict is the class's
    own status. Size-based classes are built against ``limits``; ``body-too-large`` is
    drawn only when ``limits.max_body_size`` is set.
    """
    names = tuple(HOSTILE_CLASSES) if classes is None else tuple(classes)
    unknown = set(names) - set(HOSTILE_CLASSES)
    if unknown or not names:
        raise InvalidArgument(f"unknown hostile classes {sorted(unknown)}; see HOSTILE_CLASSES")
    if limits.max_body_size is None:
        names = tuple(n for n in names if n != "body-too-large")
        if not names:
            raise InvalidArgument("body-too-large needs limits.max_body_size")
    return st.sampled_from(names).flatmap(lambda name: _hostile(name, limits))


@st.composite
def _hostile(draw: st.DrawFn, name: str, limits: Limits) -> HostileRequest:
    wire, status, eof = _HOSTILE_BUILDERS[name](draw, limits)
    return HostileRequest(wire, name, status, eof)


def _head(
    draw: st.DrawFn,
    fields: list[tuple[bytes, bytes]],
    *,
    method: bytes = b"POST",
    version: bytes = b"1.1",
    host: bool = True,
    request_line: bytes | None = None,
) -> bytes:
    """A request head around ``fields`` (kept in order), with a few harmless fields mixed in."""
    fields = list(fields)
    for extra in draw(_fields(3)):
        _insert(draw, fields, extra)
    if host:
        _insert(draw, fields, (b"Host", draw(_hosts)))
    if request_line is None:
        request_line = b"%b %b HTTP/%b" % (method, draw(request_targets(method)), version)
    return request_line + b"\r\n" + draw(_field_lines(fields, st.just(b"\r\n"))) + b"\r\n"


def _chunked(data: bytes = b"hello") -> bytes:
    return (b"%x\r\n%b\r\n" % (len(data), data) if data else b"") + b"0\r\n\r\n"


def _h_cl_te(draw: st.DrawFn, limits: Limits) -> _Hostile:
    body = draw(st.binary(max_size=16))
    fields = [
        (b"Content-Length", b"%d" % draw(st.sampled_from((0, 4, len(body))))),
        (b"Transfer-Encoding", draw(st.sampled_from(_CHUNKED))),
    ]
    if draw(st.booleans()):
        fields.reverse()
    return _head(draw, fields) + _chunked(body), 400, False


def _h_cl_cl(draw: st.DrawFn, limits: Limits) -> _Hostile:
    a = draw(st.integers(0, 99))
    b = draw(st.integers(0, 99).filter(lambda n: n != a))
    if draw(st.booleans()):
        fields = [(b"Content-Length", b"%d" % a), (b"Content-Length", b"%d" % b)]
    else:
        fields = [(b"Content-Length", b"%d, %d" % (a, b))]
    return _head(draw, fields) + b"x" * max(a, b), 400, False


def _h_cl_invalid(draw: st.DrawFn, limits: Limits) -> _Hostile:
    value = draw(
        st.sampled_from(
            (
                b"-1",
                b"+5",
                b"0x10",
                b"5 5",
                b"1.0",
                b"",
                b"abc",
                b"1_0",
                b"\xd9\xa3",
                b"5,",
                b",5",
                b"9" * 40,
            )
        )
    )
    return _head(draw, [(b"Content-Length", value)]) + b"hello", 400, False


def _h_te_not_chunked_final(draw: st.DrawFn, limits: Limits) -> _Hostile:
    value = draw(
        st.sampled_from((b"gzip", b"chunked, gzip", b"identity", b"xchunked", b"chunked;q=1"))
        | tokens(max_size=10).filter(lambda t: t.lower() != b"chunked")
    )
    return _head(draw, [(b"Transfer-Encoding", value)]) + _chunked(), 400, False


def _h_te_unknown(draw: st.DrawFn, limits: Limits) -> _Hostile:
    coding = b"x-" + draw(tokens(max_size=8))
    value = draw(st.sampled_from((coding + b", chunked", coding + b",chunked")))
    fields = [(b"Transfer-Encoding", value)]
    if draw(st.booleans()):
        fields = [(b"Transfer-Encoding", coding), (b"Transfer-Encoding", b"chunked")]
    return _head(draw, fields) + _chunked(), 501, False


def _h_te_chunked_twice(draw: st.DrawFn, limits: Limits) -> _Hostile:
    if draw(st.booleans()):
        fields = [(b"Transfer-Encoding", b"chunked, chunked")]
    else:
        fields = [(b"Transfer-Encoding", b"chunked"), (b"Transfer-Encoding", b"chunked")]
    return _head(draw, fields) + _chunked(), 400, False


def _h_te_http10(draw: st.DrawFn, limits: Limits) -> _Hostile:
    fields = [(b"Transfer-Encoding", draw(st.sampled_from(_CHUNKED)))]
    return _head(draw, fields, version=b"1.0", host=False) + _chunked(), 400, False


def _with_line(draw: st.DrawFn, head: bytes, line: bytes) -> bytes:
    """``head`` with the raw ``line`` (and its line end) after one of its field lines,
    or right after the request line."""
    lines = head.split(b"\r\n")  # request line, fields..., "", ""
    lines.insert(draw(st.integers(1, len(lines) - 2)), line)
    return b"\r\n".join(lines)


def _h_obs_fold(draw: st.DrawFn, limits: Limits) -> _Hostile:
    # The fold continues the line before it, or is the first line after the request line.
    fold = draw(st.sampled_from((b" ", b"\t", b"  "))) + draw(field_values()) + b"x"
    return _with_line(draw, _head(draw, [(b"X-Folded", b"a")]), fold), 400, False


def _h_space_before_colon(draw: st.DrawFn, limits: Limits) -> _Hostile:
    name = draw(st.sampled_from((b"Transfer-Encoding", b"Content-Length", b"Host", b"X-A")))
    ws = draw(st.sampled_from((b" ", b"\t", b"  ")))
    return _with_line(draw, _head(draw, []), name + ws + b": chunked"), 400, False


def _h_bare_cr(draw: st.DrawFn, limits: Limits) -> _Hostile:
    line = draw(st.sampled_from((b"X-A: va\rlue", b"X-A: value\rX-B: b", b"X-A: v\r", b"\rX: y")))
    if draw(st.booleans()):
        return _with_line(draw, _head(draw, []), line), 400, False
    return _head(draw, [], request_line=b"GET / HTTP/1.1\r\rX: y"), 400, False


def _h_ctl_in_field(draw: st.DrawFn, limits: Limits) -> _Hostile:
    ctl = bytes([draw(st.sampled_from(_CTLS))])
    value = draw(st.sampled_from((b"a%bb", b"%bchunked", b"chunked%b"))).replace(b"%b", ctl)
    name = draw(st.sampled_from((b"Transfer-Encoding", b"X-A")))
    return _with_line(draw, _head(draw, [], method=b"GET"), name + b": " + value), 400, False


def _h_bad_field_name(draw: st.DrawFn, limits: Limits) -> _Hostile:
    bad = draw(st.sampled_from(b'()<>@,;\\"/[]?={}\x80\xff'))
    name = draw(st.sampled_from((b"X-%bA", b"%bHost", b"Transfer-Encoding%b", b"%b"))).replace(
        b"%b", bytes([bad])
    )
    if draw(st.integers(0, 4)) == 0:
        name = draw(st.sampled_from((b"", b"X A", b"Transfer Encoding")))
    return _with_line(draw, _head(draw, [], method=b"GET"), name + b": x"), 400, False


def _h_bad_request_line(draw: st.DrawFn, limits: Limits) -> _Hostile:
    line = draw(
        st.sampled_from(
            (
                b"GET  / HTTP/1.1",
                b"GET /  HTTP/1.1",
                b"GET / HTTP/1.1 ",
                b"GET /a b HTTP/1.1",
                b"GET\t/ HTTP/1.1",
                b" GET / HTTP/1.1",
                b"GET /",
                b"GET / HTTP/1",
                b"GET / HTTP/1.",
                b"GET / HTTP/a.b",
                b"GET / http/1.1",
                b"GET / HTTPS/1.1",
                b"GET / HTTP/1.1x",
                b"GET / HTTP/11",
                b"GET /\x00 HTTP/1.1",
                b"GET /\x7f HTTP/1.1",
                b"GET /\xe9 HTTP/1.1",
                b"G(T / HTTP/1.1",
                b"G@T / HTTP/1.1",
                b"/ HTTP/1.1",
            )
        )
    )
    return _head(draw, [], request_line=line), 400, False


def _h_version_unsupported(draw: st.DrawFn, limits: Limits) -> _Hostile:
    major, minor = draw(st.integers(2, 9)), draw(st.integers(0, 9))
    return _head(draw, [], version=b"%d.%d" % (major, minor), method=b"GET"), 505, False


def _h_host_count(draw: st.DrawFn, limits: Limits) -> _Hostile:
    fields = [(b"Host", draw(_hosts)) for _ in range(draw(st.sampled_from((0, 2, 3))))]
    return _head(draw, fields, method=b"GET", host=False), 400, False


def _h_length_required(draw: st.DrawFn, limits: Limits) -> _Hostile:
    method = draw(st.sampled_from(_BODY_METHODS))
    return _head(draw, [], method=method, version=b"1.0", host=False), 411, False


def _chunked_head(draw: st.DrawFn) -> bytes:
    return _head(draw, [(b"Transfer-Encoding", b"chunked")])


def _h_chunk_size_invalid(draw: st.DrawFn, limits: Limits) -> _Hostile:
    size = draw(
        st.sampled_from(
            (
                b"",
                b"g",
                b"-1",
                b"+5",
                b"0x5",
                b" 5",
                b"5 5",
                b"\t5",
                b"5\x00",
                b"\xff",
                b"0" * 16 + b"5",
                b"1" + b"0" * 16,
            )
        )
    )
    return _chunked_head(draw) + size + b"\r\nhello\r\n0\r\n\r\n", 400, False


def _h_chunk_missing_crlf(draw: st.DrawFn, limits: Limits) -> _Hostile:
    after = draw(st.sampled_from((b"XX", b"\n0", b"\r0", b"x\r\n", b" \r\n")))
    return _chunked_head(draw) + b"5\r\nhello" + after + b"\r\n0\r\n\r\n", 400, False


def _h_chunk_bare_lf(draw: st.DrawFn, limits: Limits) -> _Hostile:
    body = draw(
        st.sampled_from(
            (b"5\nhello\r\n0\r\n\r\n", b"5;a=b\nhello\r\n0\r\n\r\n", b"0\n\r\n", b"0\r\nx: y\n\r\n")
        )
    )
    return _chunked_head(draw) + body, 400, False


def _h_chunk_ext_invalid(draw: st.DrawFn, limits: Limits) -> _Hostile:
    ext = draw(
        st.sampled_from((b";", b";=x", b";a=", b';a="', b";a b", b";a=b c", b";a\x00", b";\x7f"))
    )
    return _chunked_head(draw) + b"5" + ext + b"\r\nhello\r\n0\r\n\r\n", 400, False


def _h_chunk_line_too_long(draw: st.DrawFn, limits: Limits) -> _Hostile:
    pad = limits.max_chunk_line_size + draw(st.integers(1, 64))
    line = b"5;a=" + b"b" * pad
    return _chunked_head(draw) + line + b"\r\nhello\r\n0\r\n\r\n", 400, False


def _h_request_line_too_long(draw: st.DrawFn, limits: Limits) -> _Hostile:
    size = limits.max_start_line_size + draw(st.integers(1, 64))
    target = b"/" + b"a" * size
    return _head(draw, [], method=b"GET", request_line=b"GET %b HTTP/1.1" % target), 414, False


def _h_field_too_large(draw: st.DrawFn, limits: Limits) -> _Hostile:
    size = limits.max_field_size + draw(st.integers(1, 64))
    return _head(draw, [(b"Cookie", b"c" * size)], method=b"GET"), 431, False


def _h_head_too_large(draw: st.DrawFn, limits: Limits) -> _Hostile:
    per_field = max(1, min(limits.max_field_size - 16, 4096))
    count = limits.max_head_size // per_field + 2
    if count + 5 > limits.max_header_count:  # too many fields to get there: 431 either way
        count = limits.max_header_count + 1
    fields = [(b"X-Pad-%d" % i, b"p" * per_field) for i in range(count)]
    return _head(draw, fields, method=b"GET"), 431, False


def _h_too_many_fields(draw: st.DrawFn, limits: Limits) -> _Hostile:
    count = limits.max_header_count + draw(st.integers(1, 8))
    fields = [(b"X-%d" % i, b"v") for i in range(count)]
    return _head(draw, fields, method=b"GET"), 431, False


def _h_truncated_head(draw: st.DrawFn, limits: Limits) -> _Hostile:
    head = _head(draw, [], method=b"GET")
    cut = draw(st.integers(1, len(head) - 1))
    return head[:cut], 400, True


def _h_truncated_body(draw: st.DrawFn, limits: Limits) -> _Hostile:
    body = draw(st.binary(min_size=1, max_size=32))
    if draw(st.booleans()):
        wire = _head(draw, [(b"Content-Length", b"%d" % len(body))]) + body
    else:
        wire = _chunked_head(draw) + _chunked(body)
    cut = draw(st.integers(wire.index(b"\r\n\r\n") + 4, len(wire) - 1))
    return wire[:cut], 400, True


def _h_body_too_large(draw: st.DrawFn, limits: Limits) -> _Hostile:
    assert limits.max_body_size is not None
    size = limits.max_body_size + draw(st.integers(1, 64))
    if draw(st.booleans()):
        return _head(draw, [(b"Content-Length", b"%d" % size)]), 413, False
    return _chunked_head(draw) + b"%x\r\n" % size, 413, False


_HOSTILE_BUILDERS: dict[str, Callable[[st.DrawFn, Limits], _Hostile]] = {
    "cl-te": _h_cl_te,
    "cl-cl": _h_cl_cl,
    "cl-invalid": _h_cl_invalid,
    "te-not-chunked-final": _h_te_not_chunked_final,
    "te-unknown": _h_te_unknown,
    "te-chunked-twice": _h_te_chunked_twice,
    "te-http10": _h_te_http10,
    "obs-fold": _h_obs_fold,
    "space-before-colon": _h_space_before_colon,
    "bare-cr": _h_bare_cr,
    "ctl-in-field": _h_ctl_in_field,
    "bad-field-name": _h_bad_field_name,
    "bad-request-line": _h_bad_request_line,
    "version-unsupported": _h_version_unsupported,
    "host-count": _h_host_count,
    "length-required": _h_length_required,
    "chunk-size-invalid": _h_chunk_size_invalid,
    "chunk-missing-crlf": _h_chunk_missing_crlf,
    "chunk-bare-lf": _h_chunk_bare_lf,
    "chunk-ext-invalid": _h_chunk_ext_invalid,
    "chunk-line-too-long": _h_chunk_line_too_long,
    "request-line-too-long": _h_request_line_too_long,
    "field-too-large": _h_field_too_large,
    "head-too-large": _h_head_too_large,
    "too-many-fields": _h_too_many_fields,
    "truncated-head": _h_truncated_head,
    "truncated-body": _h_truncated_body,
    "body-too-large": _h_body_too_large,
}
assert set(_HOSTILE_BUILDERS) == set(HOSTILE_CLASSES)


# -- framing fields -------------------------------------------------------------------

_LENGTHS = st.one_of(
    st.integers(0, 64).map(lambda n: b"%d" % n),
    st.integers(0, 10**18 - 1).map(lambda n: b"%d" % n),
    st.integers(19, 40).map(lambda digits: b"9" * digits),  # too large for any peer
    st.sampled_from((b"007", b"5, 5", b"5,5", b"5, 6", b"", b"x", b"-1", b"+5", b"0x10", b"1_0")),
)
_CODINGS = st.sampled_from(
    (b"chunked", b"Chunked", b"gzip, chunked", b"gzip", b"chunked, chunked", b"", b"identity")
)
_CONNECTION_OPTIONS = st.sampled_from(
    (b"close", b"keep-alive", b"Keep-Alive", b"close, keep-alive", b"foo, keep-alive", b"upgrade")
)


def framing_fields(*, max_fields: int = 3) -> st.SearchStrategy[Headers]:
    """The fields that decide a body's length and the connection's persistence
    (Content-Length, Transfer-Encoding, Connection), valid or not, repeated or not,
    with ordinary fields among them: for checking that a writer and a reader agree."""
    field = st.one_of(
        st.tuples(st.sampled_from((b"Content-Length", b"content-length")), _LENGTHS),
        st.tuples(st.sampled_from((b"Transfer-Encoding", b"transfer-encoding")), _CODINGS),
        st.tuples(st.sampled_from((b"Connection", b"connection")), _CONNECTION_OPTIONS),
        st.tuples(st.sampled_from(_COMMON_NAMES), field_values(max_words=2)),
    )
    return st.lists(field, max_size=max_fields).map(tuple)


# -- hostile values for send ----------------------------------------------------------

# Pieces that break a head when they reach the wire unchecked (CR, LF, NUL, other
# controls, whitespace at a value's edge), and the injections attackers write with them.
_SEND_BREAKERS = (
    b"\r",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"\r\n\r\n",
    b"\x00",
    b"\t",
    b" ",
    b":",
    b"\x0b",
    b"\x0c",
    b"\x1b",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"\nSet-Cookie: s=1",
    b"\r\nSet-Cookie: s=1",
    b"\nContent-Length: 5",
    b"\n\nbody",
    b"\x00\r\n",
)


def any_bytes(*, max_pieces: int = 6) -> st.SearchStrategy[bytes]:
    """Bytes from all 256 values, possibly empty: ordinary text mixed with the bytes
    and injections that split a head (CR, LF, NUL, controls, edge whitespace)."""
    piece = st.one_of(
        st.binary(max_size=4),
        st.sampled_from(_SEND_BREAKERS),
        st.text(_TCHARS, min_size=1, max_size=6).map(str.encode),
    )
    return st.lists(piece, max_size=max_pieces).map(b"".join)


def hostile_fields(*, max_fields: int = 3) -> st.SearchStrategy[Headers]:
    """Header (or trailer) fields an application might hand to ``send``: names and
    values valid or drawn from ``any_bytes()``. Names never spell a field that changes
    framing or persistence (Host, Content-Length, Connection ...), so that whatever
    ``send`` accepts reads back as exactly these fields."""
    names = st.one_of(st.sampled_from(_COMMON_NAMES), tokens(max_size=12), any_bytes()).filter(
        lambda name: name.lower() not in _FRAMING_NAMES
    )
    values = st.one_of(field_values(max_words=3), any_bytes())
    return st.lists(st.tuples(names, values), max_size=max_fields).map(tuple)


def hostile_methods() -> st.SearchStrategy[bytes]:
    """Methods for ``Request``: tokens, or any bytes (CR, LF, SP, NUL ...)."""
    return st.one_of(st.sampled_from(_METHODS), tokens(max_size=8), any_bytes(max_pieces=3))


def hostile_targets() -> st.SearchStrategy[bytes]:
    """Request targets: valid ones, or valid ones with any bytes inserted."""
    return st.one_of(
        request_targets(),
        st.tuples(request_targets(), any_bytes(max_pieces=3)).map(b"".join),
        any_bytes(max_pieces=3),
    )


def hostile_reasons() -> st.SearchStrategy[bytes]:
    """Reason phrases: valid ones (empty, words, HTAB and SP anywhere), or any bytes."""
    return st.one_of(_reasons, any_bytes(max_pieces=4))


# -- segmentation and near misses -----------------------------------------------------


def chunkings(data: bytes, *, max_pieces: int | None = None) -> st.SearchStrategy[list[bytes]]:
    """``data`` cut into consecutive non-empty pieces (all of them, in order).

    Shrinks towards one piece; often cuts everywhere (one byte at a time, or a few at
    a time past 4 KiB) or at the places parsers find hard, next to CR and LF.
    ``chunkings(b"")`` is ``[]``; ``max_pieces`` bounds the number of pieces.
    """
    if not data:
        return st.just([])
    limit = len(data) if max_pieces is None else max(1, min(max_pieces, len(data)))
    strategies = [st.just([data]), _random_cuts(data, limit)]
    if limit == len(data):
        # Every byte alone; for big inputs every few bytes, so one draw stays cheap.
        step = -(-len(data) // _MAX_STRIDE_PIECES)
        strategies.append(st.just([data[i : i + step] for i in range(0, len(data), step)]))
    if limit > 2 and (b"\n" in data or b"\r" in data):
        strategies.append(_cuts_at_line_ends(data, limit))
    return st.one_of(strategies)


_MAX_CUTS = 64  # random cuts drawn; "every byte" is its own case, so no need for more
_MAX_STRIDE_PIECES = 4096


def _split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in pairwise(points) if a < b]


def _random_cuts(data: bytes, limit: int) -> st.SearchStrategy[list[bytes]]:
    if len(data) < 2:
        return st.just([data])
    cuts = st.lists(st.integers(1, len(data) - 1), unique=True, max_size=min(limit - 1, _MAX_CUTS))
    return cuts.map(lambda cuts: _split(data, cuts))


def _cuts_at_line_ends(data: bytes, limit: int) -> st.SearchStrategy[list[bytes]]:
    # Just before, between and after CR and LF: where half-seen line ends live.
    points = sorted(
        {p for i, b in enumerate(data) if b in b"\r\n" for p in (i, i + 1) if 0 < p < len(data)}
    )
    if not points:
        return st.just([data])
    max_cuts = min(limit - 1, _MAX_CUTS)
    return st.lists(st.sampled_from(points), unique=True, max_size=max_cuts).map(
        lambda cuts: _split(data, cuts)
    )


_INTERESTING = (
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n\r\n",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b'"',
    b"\\",
    b"0",
    b"f",
    b"\x00",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"chunked",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 5\r\n",
    b"Host: a\r\n",
    b"0\r\n\r\n",
    b"HTTP/1.1",
    b"GET / HTTP/1.1\r\n",
)


@st.composite
def _mutation(draw: st.DrawFn, data: bytes, max_edits: int) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, max_edits))):
        at = draw(st.integers(0, len(out)))
        op = draw(st.sampled_from(("insert", "replace", "delete", "duplicate", "truncate")))
        snippet = draw(st.sampled_from(_INTERESTING) | st.binary(min_size=1, max_size=4))
        if op == "insert" or not out:
            out[at:at] = snippet
        elif op == "replace":
            out[at : at + len(snippet)] = snippet
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 8))]
        elif op == "duplicate":
            size = draw(st.integers(1, 32))
            out[at:at] = out[at : at + size]
        else:
            del out[at:]
    return bytes(out)


def mutations(data: bytes, *, max_edits: int = 4) -> st.SearchStrategy[bytes]:
    """Near misses of ``data``: a few insertions, replacements, deletions, duplications
    or a truncation, with the bytes parsers trip on (CR, LF, SP, ``:``, ``;``, NUL, …).

    No verdict comes with them: use them for invariants that hold for any input
    ("parses or raises RemoteProtocolError, never anything else").
    """
    return _mutation(data, max_edits)
