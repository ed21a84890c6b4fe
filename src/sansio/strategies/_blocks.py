"""Building blocks: the RFC 9110 character classes, tokens, field values, request
targets, header lines and chunked bodies the message strategies are made of, and
``coalesce`` for comparing events however a body was split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from hypothesis import strategies as st

from .._events import Data, EndOfMessage, Event, Headers
from .._framing import SINGLE_VALUED, allowed_in_trailers
from ._segments import chunkings

__all__ = ["coalesce", "field_values", "request_targets", "tokens"]


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


def _message_events(
    heads: tuple[Event, ...], body: bytes, trailers: Headers, trailer_names: tuple[bytes, ...]
) -> tuple[Event, ...]:
    return (*heads, *((Data(body),) if body else ()), EndOfMessage(trailers, trailer_names))


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


def _spell(draw: st.DrawFn, fields: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``fields`` with each name spelt as it goes on the wire (``_field_lines`` writes
    names as given; ``_names`` of the result is what ``raw_names`` must hold)."""
    return [(draw(_wire_name(name)), value) for name, value in fields]


def _names(fields: Sequence[tuple[bytes, bytes]]) -> tuple[bytes, ...]:
    return tuple(name for name, _ in fields)


_OWS = st.sampled_from((b"", b" ", b"", b"\t", b"  ", b" \t"))


@st.composite
def _field_lines(
    draw: st.DrawFn, fields: Sequence[tuple[bytes, bytes]], eols: st.SearchStrategy[bytes]
) -> bytes:
    out = []
    for name, value in fields:
        ows_left, ows_right = draw(_OWS), draw(_OWS)
        out.append(name + b":" + ows_left + value + ows_right + draw(eols))
    return b"".join(out)


def _insert(draw: st.DrawFn, fields: list[tuple[bytes, bytes]], field: tuple[bytes, bytes]) -> None:
    fields.insert(draw(st.integers(0, len(fields))), field)


def _eols(tolerated: bool) -> st.SearchStrategy[bytes]:
    # Bare LF ends a head line (RFC 9112 §2.2 lets recipients accept it), if every
    # line of that head ends so.
    return st.sampled_from((b"\r\n", b"\r\n", b"\n")) if tolerated else st.just(b"\r\n")


@st.composite
def _chunked_body(draw: st.DrawFn, body: bytes, trailers: Sequence[tuple[bytes, bytes]]) -> bytes:
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
    fields = st.lists(st.tuples(_extra_names(), field_values()), max_size=max_fields)
    return fields.map(_single_values_once)


def _single_values_once(fields: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``fields`` without a second line of Content-Type or Content-Range: two different
    values of those are refused (RFC 9110 §5.3; ``_framing.SINGLE_VALUED``)."""
    seen: set[bytes] = set()
    out = []
    for name, value in fields:
        key = name.lower()
        if key in SINGLE_VALUED:
            if key in seen:
                continue
            seen.add(key)
        out.append((name, value))
    return out


def _trailer_fields(max_fields: int) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    """Fields that may be trailers (RFC 9110 §6.5.1: no Content-Type, Cookie ...)."""
    names = _extra_names().filter(allowed_in_trailers)
    return st.lists(st.tuples(names, field_values()), max_size=max_fields)


def _bodies(with_body: bool | None, max_body: int) -> st.SearchStrategy[bytes]:
    if with_body is False:
        return st.just(b"")
    return st.binary(min_size=1 if with_body else 0, max_size=max_body)
