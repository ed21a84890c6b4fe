"""Serialise events to bytes, refusing anything that would put a bad message on the wire.

Heads are validated before a byte is produced (header injection through CR/LF in a
value, a non-token name, a body the framing cannot carry), so a ``LocalProtocolError``
always means that nothing was written. Body writers enforce the framing the head
announced: exactly Content-Length bytes, chunked only to HTTP/1.1 peers, no body at
all after HEAD or on 1xx/204/304.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Protocol

from ._errors import LocalProtocolError
from ._events import Headers, Request, Response
from ._framing import (
    CHUNKED,
    CLOSE_DELIMITED,
    SINGLE_VALUED,
    check_response_framing,
    check_single_valued,
    check_trailers,
    keep_alive,
    request_body,
    response_body,
    response_has_body,
    switch_proposals,
)
from ._grammar import FIELD_VCHARS, TARGET_CHARS, TOKEN_CHARS
from ._state import EventType
from ._targets import check_target_form

__all__ = [
    "CLOSE",
    "KEEP_ALIVE",
    "BodyWriter",
    "ChunkedWriter",
    "CloseDelimitedWriter",
    "LengthWriter",
    "status_line",
    "write_fields",
    "write_request",
    "write_response",
]

_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
_STATUS_LINES = {
    (version, code): b"HTTP/%s %d %s\r\n" % (version, code, reason)
    for version in (b"1.0", b"1.1")
    for code, reason in _REASONS.items()
}

# Checked and serialised Content-Length response heads, keyed by their (immutable,
# hashable) headers tuple: a server that sends the same headers again skips the
# validation. Only heads without Connection or Transfer-Encoding fields, whose bytes do
# not depend on the request, are kept (never for HEAD, CONNECT, 204 or 304); the cache
# is cleared when it fills. A whole GET then send(Response) with four fields takes
# 5.6 us with it and 9.3 us without, 1.65x (1.6x to 1.8x on a loaded machine;
# bench/micro.py, "a repeated response head"): the checks are most of a response's cost.
_CHECKED_HEADS: dict[Headers, tuple[bytes, int]] = {}
_CHECKED_HEADS_MAX = 256
KEEP_ALIVE = b"Connection: keep-alive\r\n\r\n"
CLOSE = b"Connection: close\r\n\r\n"


class BodyWriter(Protocol):
    def data(self, data: bytes) -> bytes:
        """The wire bytes for a piece of body, or raise if the framing forbids it."""

    def frame(self, size: int) -> tuple[bytes, bytes]:
        """What goes before and after ``size`` body bytes the caller sends itself."""

    def end(self, trailers: Headers) -> bytes:
        """The wire bytes that end the body, or raise if it is incomplete."""


class LengthWriter:
    """Exactly ``length`` body bytes; ``why`` names the framing in error messages."""

    __slots__ = ("remaining", "why")

    def __init__(self, length: int, why: str = "Content-Length") -> None:
        self.remaining = length
        self.why = why

    def data(self, data: bytes) -> bytes:
        self._count(len(data))
        return data

    def _count(self, size: int) -> None:
        if size > self.remaining:
            if self.why != "Content-Length":
                raise LocalProtocolError(f"{self.why} has no body; got {size} bytes")
            raise LocalProtocolError(
                f"body longer than Content-Length: {size - self.remaining} bytes too many"
            )
        self.remaining -= size

    def frame(self, size: int) -> tuple[bytes, bytes]:
        self._count(size)
        return b"", b""

    def end(self, trailers: Headers) -> bytes:
        if trailers:
            raise LocalProtocolError("trailers need a chunked body")
        if self.remaining:
            raise LocalProtocolError(
                f"body shorter than Content-Length: {self.remaining} bytes missing"
            )
        return b""


class ChunkedWriter:
    __slots__ = ()

    def data(self, data: bytes) -> bytes:
        if not data:  # an empty chunk would end the body
            return b""
        return b"%x\r\n%b\r\n" % (len(data), data)

    def frame(self, size: int) -> tuple[bytes, bytes]:
        if not size:
            return b"", b""
        return b"%x\r\n" % size, b"\r\n"

    def end(self, trailers: Headers) -> bytes:
        if not trailers:
            return b"0\r\n\r\n"
        fields = write_fields(trailers)
        check_trailers(trailers, LocalProtocolError)
        return b"0\r\n" + fields + b"\r\n"


class CloseDelimitedWriter:
    __slots__ = ()

    def data(self, data: bytes) -> bytes:
        return data

    def frame(self, size: int) -> tuple[bytes, bytes]:
        return b"", b""

    def end(self, trailers: Headers) -> bytes:
        if trailers:
            raise LocalProtocolError("trailers need a chunked body")
        return b""


def write_fields(headers: Headers) -> bytes:
    """``name: value`` CRLF for every field, after checking every name and value.

    Names must be tokens; values must be RFC 9110 §5.5 field values: field-vchars with
    SP and HTAB only between them (a parser strips them at the edges, RFC 9112 §5, so
    a value sent with them would not read back the same), and never CR, LF, NUL or
    another control byte, which would end the field or the head early.
    """
    if not headers:
        return b""
    names, values = zip(*headers)
    joined_names = b"\n".join(names)
    joined_values = b"\n".join(values)
    # One pass per join instead of one per field. Each join puts exactly len - 1 LFs
    # between the pieces, and neither alphabet holds LF, so ``translate`` leaves exactly
    # those LFs if and only if every piece is clean: a count, not a membership test, so
    # an LF inside a value (issue 7) is an extra leftover byte. Once the counts hold,
    # every LF in ``padded`` is a boundary, so whitespace next to one is at a value's edge.
    separators = len(headers) - 1
    padded = b"\n" + joined_values + b"\n"
    if (
        len(joined_names.translate(None, TOKEN_CHARS)) != separators
        or b"" in names
        or len(joined_values.translate(None, FIELD_VCHARS)) != separators
        or padded.find(b" \n") >= 0  # find, not in: see _heads
        or padded.find(b"\t\n") >= 0
        or padded.find(b"\n ") >= 0
        or padded.find(b"\n\t") >= 0
    ):
        raise _bad_field(headers)
    return b"\r\n".join(map(b": ".join, headers)) + b"\r\n"


def _bad_field(headers: Headers) -> LocalProtocolError:
    """The error for the first field that breaks the rules, checked one by one."""
    for name, value in headers:
        error = field_error(name, value)
        if error is not None:
            return LocalProtocolError(error)
    raise AssertionError("unreachable: the joined check flags only a bad field")


def field_error(name: bytes, value: bytes) -> str | None:
    """Why the field ``name: value`` cannot be sent, or ``None`` if it can: the name
    must be a token (RFC 9110 §5.6.2), the value field-content with nothing around it
    (§5.5: no CR, LF, NUL or other control but HTAB, no leading or trailing SP/HTAB)."""
    if not name or name.translate(None, TOKEN_CHARS):
        return f"invalid header name {name!r}"
    bad = value.translate(None, FIELD_VCHARS)
    if bad:
        return f"invalid character in the value of header {name!r} (0x{bad[0]:02x}): {value!r}"
    if value != value.strip(b" \t"):
        return f"value of header {name!r} has surrounding whitespace: {value!r}"
    return None


def _lower_names(headers: Headers) -> list[bytes]:
    return [name.lower() for name, _ in headers]


def _values(headers: Headers, names: list[bytes], wanted: bytes) -> list[bytes]:
    if names.count(wanted) == 1:
        return [headers[names.index(wanted)][1]]
    return [value for (_, value), name in zip(headers, names, strict=True) if name == wanted]


def _field(headers: Headers, names: list[bytes], wanted: bytes) -> list[bytes]:
    """Every value of the fields called ``wanted`` (lower-case); [] if there is none."""
    return _values(headers, names, wanted) if wanted in names else []


def _check_single_valued(headers: Headers, names: list[bytes]) -> None:
    for name in SINGLE_VALUED:
        if names.count(name) > 1:
            check_single_valued(name, _values(headers, names, name), LocalProtocolError)


def write_request(event: Request) -> tuple[bytes, BodyWriter, bool, frozenset[EventType]]:
    """The request head, its body writer, whether it allows keep-alive, and the protocol
    switches it proposes."""
    method, target, version = event.method, event.target, event.http_version
    if not method or method.translate(None, TOKEN_CHARS):
        raise LocalProtocolError(f"invalid method {method!r}")
    if not target or target.translate(None, TARGET_CHARS):
        raise LocalProtocolError(f"invalid request target {target!r}")
    check_target_form(method, target, LocalProtocolError)
    if version not in (b"1.0", b"1.1"):
        raise LocalProtocolError(f"can only send HTTP/1.0 or HTTP/1.1, not {version!r}")
    fields = write_fields(event.headers)
    headers = event.headers
    names = _lower_names(headers)
    hosts = names.count(b"host")
    if hosts > 1 or (version == b"1.1" and not hosts):
        raise LocalProtocolError("a request has at most one Host header; an HTTP/1.1 one needs it")
    te = _field(headers, names, b"transfer-encoding")
    cl = _field(headers, names, b"content-length")
    # What a server (ours among them) will make of these fields, by the same rules.
    length = request_body(version, method, te, cl, LocalProtocolError)
    if length:
        _check_single_valued(headers, names)
    writer: BodyWriter
    if length == CHUNKED:
        writer = ChunkedWriter()
    elif cl:
        writer = LengthWriter(length)
    else:
        writer = LengthWriter(0, "a request without Content-Length or Transfer-Encoding")
    persistent = keep_alive(_field(headers, names, b"connection"), version == b"1.1")
    switch = switch_proposals(method, version == b"1.1", b"upgrade" in names)
    head = b"%b %b HTTP/%b\r\n%b\r\n" % (method, target, version, fields)
    return head, writer, persistent, switch


def write_response(
    event: Response, request_method: bytes | None, peer_version: bytes | None, persistent: bool
) -> tuple[bytes, BodyWriter, bool]:
    """The response head (with our own Connection header), its body writer, keep-alive.

    ``persistent`` is what the request allowed; the response can only take it away.
    The fields are settled first (ours added, the caller's Connection dropped,
    Transfer-Encoding dropped for HTTP/1.0), then ``_framing`` says what a client will
    make of them, by the rules it reads them with: the body writer follows that.
    """
    status, version, headers = event.status_code, event.http_version, event.headers
    if not 200 <= status <= 999:
        raise LocalProtocolError(f"a Response needs a status code from 200 to 999, not {status!r}")
    if version != b"1.0":
        if version != b"1.1":
            raise LocalProtocolError(f"can only send HTTP/1.0 or HTTP/1.1, not {version!r}")
        if peer_version != b"1.1":
            raise LocalProtocolError("an HTTP/1.1 response can only go to an HTTP/1.1 peer")
    has_body = response_has_body(request_method, status)
    if has_body and request_method != b"CONNECT":
        cached = _CHECKED_HEADS.get(headers)
        if cached is not None:
            fields, length = cached
            return (
                status_line(version, status, event.reason)
                + fields
                + (KEEP_ALIVE if persistent else CLOSE),
                LengthWriter(length),
                persistent,
            )
    given = headers
    names = _lower_names(headers)
    cacheable = b"connection" not in names
    if b"connection" in names:
        # Our own Connection field replaces the caller's, but the event must still be
        # clean: the caller's fields are checked whole before any is dropped.
        write_fields(headers)
        if not keep_alive(_values(headers, names, b"connection"), True):
            persistent = False
        headers = tuple(pair for pair, name in zip(headers, names) if name != b"connection")
        names = [name for name in names if name != b"connection"]
    te = _field(headers, names, b"transfer-encoding")
    cl = _field(headers, names, b"content-length")
    check_response_framing(status, request_method, te, cl, LocalProtocolError)
    if request_method == b"CONNECT" and 200 <= status <= 299:
        # A tunnel: no framing and no Connection field of ours, since the connection
        # stops being HTTP right after this head (RFC 9110 §9.3.6).
        head = status_line(version, status, event.reason) + write_fields(headers) + b"\r\n"
        return head, LengthWriter(0, "a 2xx response to CONNECT"), False
    if te and version == b"1.0":
        # Never chunked framing in HTTP/1.0: drop it and delimit by closing.
        headers = tuple(p for p, n in zip(headers, names) if n != b"transfer-encoding")
        names = [name for name in names if name != b"transfer-encoding"]
        te = []
    elif not te and not cl and version == b"1.1" and has_body:
        headers += ((b"Transfer-Encoding", b"chunked"),)
        names.append(b"transfer-encoding")
        te = [b"chunked"]
    length = response_body(version, status, request_method, te, cl, LocalProtocolError)
    if length:
        _check_single_valued(headers, names)
    writer: BodyWriter
    if length == CHUNKED:
        writer = ChunkedWriter()
    elif length == CLOSE_DELIMITED:
        writer, persistent = CloseDelimitedWriter(), False
    elif not has_body:
        what = "a response to HEAD" if request_method == b"HEAD" else f"a {status} response"
        writer = LengthWriter(0, what)
    else:
        writer = LengthWriter(length)
    fields = write_fields(headers)
    if cacheable and type(writer) is LengthWriter and has_body:
        if len(_CHECKED_HEADS) >= _CHECKED_HEADS_MAX:
            _CHECKED_HEADS.clear()
        _CHECKED_HEADS[given] = (fields, length)
    return (
        status_line(version, status, event.reason) + fields + (KEEP_ALIVE if persistent else CLOSE),
        writer,
        persistent,
    )


def status_line(version: bytes, status: int, reason: bytes) -> bytes:
    if not reason:
        line = _STATUS_LINES.get((version, status))
        if line is not None:
            return line
    elif reason.translate(None, FIELD_VCHARS):
        raise LocalProtocolError(f"invalid reason phrase {reason!r}")
    return b"HTTP/%b %d %b\r\n" % (version, status, reason)


def write_informational(status: int, headers: Headers, reason: bytes) -> bytes:
    """A 1xx head; the caller has checked the peer speaks HTTP/1.1 (and, for a 101, that
    the request asked to upgrade)."""
    if not 100 <= status <= 199:
        raise LocalProtocolError(f"an InformationalResponse needs a 1xx status, not {status!r}")
    fields = write_fields(headers)
    if status == 101 and b"upgrade" not in _lower_names(headers):
        # RFC 9110 §15.2.2: "The server MUST generate an Upgrade header field in the
        # response that indicates which protocol(s) will be in use".
        raise LocalProtocolError("a 101 response needs an Upgrade field naming the protocol")
    return status_line(b"1.1", status, reason) + fields + b"\r\n"
