"""Values for ``send``: framing fields, valid or not (for checking that a writer and a
reader agree), and hostile values from all 256 byte values (header injection).
"""

from __future__ import annotations

from hypothesis import strategies as st

from .._events import Headers
from ._blocks import (
    _COMMON_NAMES,
    _FRAMING_NAMES,
    _METHODS,
    _TCHARS,
    field_values,
    request_targets,
    tokens,
)
from ._responses import _reasons

__all__ = [
    "any_bytes",
    "framing_fields",
    "hostile_fields",
    "hostile_methods",
    "hostile_reasons",
    "hostile_targets",
]


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
    """Methods for ``Request``: tokens (CONNECT among them), or any bytes (CR, LF, SP,
    NUL ...)."""
    return st.one_of(
        st.sampled_from((*_METHODS, b"CONNECT")), tokens(max_size=8), any_bytes(max_pieces=3)
    )


_OTHER_FORMS = st.sampled_from(
    (
        b"*",
        b"example.com:443",
        b"[::1]:8080",
        b"[v1.x]:1",
        b"h:65535",
        b"h:65536",
        b"h:",
        b"u@h:1",
        b"[::g]:1",
        b"http://h",
        b"HTTP://h?q",
        b"http://u:p@[::1]:80/a",
        b"http://[1:2]/",
        b"http:///a",
        b"s://]ufd/:",
        b"foo/bar",
        b"example.com:443/x",
    )
)


def hostile_targets() -> st.SearchStrategy[bytes]:
    """Request targets: valid ones of every form (the asterisk and authority forms
    included, whatever the method), near misses, and these with any bytes inserted."""
    valid = st.one_of(request_targets(), request_targets(b"OPTIONS"), _OTHER_FORMS)
    return st.one_of(
        valid,
        st.tuples(valid, any_bytes(max_pieces=3)).map(b"".join),
        any_bytes(max_pieces=3),
    )


def hostile_reasons() -> st.SearchStrategy[bytes]:
    """Reason phrases: valid ones (empty, words, HTAB and SP anywhere), or any bytes."""
    return st.one_of(_reasons, any_bytes(max_pieces=4))
