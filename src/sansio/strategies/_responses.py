"""Valid responses to a given method (HEAD/204/304 without a body, Content-Length,
chunked, close-delimited, 1xx first) with the request a client sends first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .._events import Event, Headers, InformationalResponse, Request, Response
from ._blocks import (
    _OBS_TEXT,
    _VCHARS,
    _bodies,
    _chunked_body,
    _eols,
    _field_lines,
    _fields,
    _insert,
    _message_events,
    _names,
    _spell,
    _trailer_fields,
)
from ._requests import _CHUNKED, _parsed

__all__ = ["GeneratedResponse", "ResponseFraming", "responses"]

ResponseFraming = Literal["none", "content-length", "chunked", "close"]

_RESPONSE_FRAMINGS: tuple[ResponseFraming, ...] = ("none", "content-length", "chunked", "close")


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
    trailer_names: tuple[bytes, ...] = ()
    """The trailer names as spelt on the wire (the ``EndOfMessage``'s ``raw_names``);
    the head events' ``raw_names`` likewise hold theirs."""

    @property
    def events(self) -> tuple[Event, ...]:
        """What a client returns for ``wire`` (and EOF, if close-delimited), body
        coalesced; the ``ConnectionClosed`` after EOF is not included. Their
        ``raw_names`` are what a connection with ``keep_raw_names=True`` returns."""
        heads = (*self.informational, self.response)
        return _message_events(heads, self.body, self.trailers, self.trailer_names)


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
        trailers = _spell(draw, draw(_trailer_fields(3)))
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
            interim_fields = _spell(draw, draw(_fields(3)))
            wire += (
                b"HTTP/1.1 %d %b" % (code, reason)
                + draw(eols)
                + draw(_field_lines(interim_fields, eols))
                + draw(eols)
            )
            interim.append(
                InformationalResponse(
                    code, _parsed(interim_fields), b"1.1", reason, _names(interim_fields)
                )
            )
    reason = draw(_reasons)
    fields = _spell(draw, fields)
    wire += (
        b"HTTP/%b %d %b" % (version, status, reason)
        + draw(eols)
        + draw(_field_lines(fields, eols))
        + draw(eols)
    )
    wire += draw(_chunked_body(body, trailers)) if framing == "chunked" else body

    tokens_ = [] if connection is None else [connection.lower()]
    response_keep_alive = b"close" not in tokens_ and (
        version == b"1.1" or b"keep-alive" in tokens_
    )
    return GeneratedResponse(
        wire=wire,
        request=request,
        informational=tuple(interim),
        response=Response(status, _parsed(fields), version, reason, _names(fields)),
        body=body,
        trailers=_parsed(trailers),
        framing=framing,
        keep_alive=response_keep_alive and framing != "close",
        trailer_names=_names(trailers),
    )


_reasons = st.one_of(
    st.sampled_from((b"OK", b"Not Found", b"", b"Internal Server Error")),
    st.text(_REASON_CHARS, max_size=20).map(lambda s: s.encode("latin-1")),
)
