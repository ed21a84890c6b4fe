"""Valid requests (HTTP/1.0 and 1.1; no body, Content-Length or chunked) with their
exact wire bytes and the events a conforming server returns for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .._events import Event, Headers, Request
from ._blocks import (
    _METHODS,
    _bodies,
    _chunked_body,
    _eols,
    _field_lines,
    _fields,
    _hosts,
    _insert,
    _message_events,
    _names,
    _spell,
    _trailer_fields,
    request_targets,
    tokens,
)

__all__ = ["GeneratedRequest", "RequestFraming", "requests"]

RequestFraming = Literal["none", "content-length", "chunked"]

_REQUEST_FRAMINGS: tuple[RequestFraming, ...] = ("none", "content-length", "chunked")


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
    trailer_names: tuple[bytes, ...] = ()
    """The trailer names as spelt on the wire (the ``EndOfMessage``'s ``raw_names``);
    ``request.raw_names`` likewise holds the head's."""

    @property
    def events(self) -> tuple[Event, ...]:
        """What a server returns for ``wire``, with the body as a single ``Data``.
        Their ``raw_names`` are what a connection with ``keep_raw_names=True`` returns."""
        return _message_events((self.request,), self.body, self.trailers, self.trailer_names)


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
        trailers = _spell(draw, draw(_trailer_fields(3)))
    fields = _spell(draw, fields)
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
    wire_body = draw(_chunked_body(body, trailers)) if framing == "chunked" else body
    tokens_ = [] if connection is None else [connection.lower()]
    keep_alive = b"close" not in tokens_ and (version == b"1.1" or b"keep-alive" in tokens_)
    return GeneratedRequest(
        wire=head + wire_body,
        request=Request(method, target, _parsed(fields), version, _names(fields)),
        body=body,
        trailers=_parsed(trailers),
        framing=framing,
        keep_alive=keep_alive,
        trailer_names=_names(trailers),
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
