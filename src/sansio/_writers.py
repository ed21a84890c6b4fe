"""Serialise events to bytes, refusing anything that would put a bad message on the wire.

Heads are validated before a byte is produced (header injection through CR/LF in a
value, a non-token name, a body the framing cannot carry), so a ``LocalProtocolError``
always means that nothing was written. Body writers enforce the framing the head
announced: exactly Content-Length bytes, chunked only to HTTP/1.1 peers, no body at
all after HEAD or on 1xx/204/304.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Protocol

from ._errors import LocalProtocolError
from ._events import Headers, Request, Response
from ._grammar import FIELD_VCHARS, TARGET_CHARS, TOKEN_CHARS

__all__ = [
    "BodyWriter",
    "ChunkedWriter",
    "CloseDelimitedWriter",
    "LengthWriter",
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
# not depend on the request, are kept; the cache is cleared when it fills.
_CHECKED_HEADS: dict[Headers, tuple[bytes, int]] = {}
_CHECKED_HEADS_MAX = 256


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
        return b"0\r\n" + write_fields(trailers) + b"\r\n"


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


def write_fields(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """``name: value`` CRLF for every field, after checking every name and value.

    Names must be tokens; values must be RFC 9110 §5.5 field values: field-vchars with
    SP and HTAB only between them (a parser strips them at the edges, RFC 9112 §5, so
    a value sent with them would not read back the same), and never CR, LF, NUL or
    another control byte, which would end the field or the head early.
    """
    headers = tuple(headers)
    if not headers:
        return b""
    try:
        names, values = zip(*headers, strict=True)
        joined_names = b"\n".join(names)
        joined_values = b"\n".join(values)
    except (TypeError, ValueError):
        raise LocalProtocolError(
            f"headers must be (name, value) pairs of bytes, got {headers[:3]!r}"
        ) from None
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
        or b" \n" in padded
        or b"\t\n" in padded
        or b"\n " in padded
        or b"\n\t" in padded
    ):
        raise _bad_field(headers)
    return b"\r\n".join(map(b": ".join, headers)) + b"\r\n"


def _bad_field(headers: Headers) -> LocalProtocolError:
    """The error for the first field that breaks the rules, checked one by one."""
    for raw_name, raw_value in headers:
        name, value = bytes(raw_name), bytes(raw_value)
        if not name or name.translate(None, TOKEN_CHARS):
            return LocalProtocolError(f"invalid header name {name!r}")
        bad = value.translate(None, FIELD_VCHARS)
        if bad:
            return LocalProtocolError(
                f"invalid character in the value of header {name!r} (0x{bad[0]:02x}): {value!r}"
            )
        if value != value.strip(b" \t"):
            return LocalProtocolError(
                f"value of header {name!r} has surrounding whitespace: {value!r}"
            )
    raise AssertionError("unreachable: the joined check flags only a bad field")


def _lower_names(headers: Headers) -> list[bytes]:
    try:
        return [name.lower() for name, _ in headers]
    except (TypeError, ValueError, AttributeError):
        raise LocalProtocolError(
            f"headers must be (name, value) pairs of bytes, got {tuple(headers)[:3]!r}"
        ) from None


def _values(headers: Headers, names: list[bytes], wanted: bytes) -> list[bytes]:
    if names.count(wanted) == 1:
        return [headers[names.index(wanted)][1]]
    return [value for (_, value), name in zip(headers, names, strict=True) if name == wanted]


def _tokens(values: list[bytes]) -> list[bytes]:
    return [item.strip(b" \t").lower() for value in values for item in value.split(b",")]


def _declared_length(values: list[bytes]) -> int:
    if len(values) == 1 and values[0].isdigit():
        return int(values[0])
    items = {item.strip(b" \t") for value in values for item in value.split(b",")}
    if len(items) != 1:
        raise LocalProtocolError(f"differing Content-Length values: {values!r}")
    item = items.pop()
    if not item.isdigit():
        raise LocalProtocolError(f"invalid Content-Length {item!r}")
    return int(item)


def write_request(event: Request) -> tuple[bytes, BodyWriter, bool]:
    """The request head, its body writer, and whether it allows keep-alive."""
    method, target, version = event.method, event.target, event.http_version
    if not isinstance(method, bytes) or not method or method.translate(None, TOKEN_CHARS):
        raise LocalProtocolError(f"invalid method {method!r}")
    if not isinstance(target, bytes) or not target or target.translate(None, TARGET_CHARS):
        raise LocalProtocolError(f"invalid request target {target!r}")
    if version not in (b"1.0", b"1.1"):
        raise LocalProtocolError(f"can only send HTTP/1.0 or HTTP/1.1, not {version!r}")
    fields = write_fields(event.headers)
    headers = event.headers
    names = _lower_names(headers)
    hosts = names.count(b"host")
    if hosts > 1 or (version == b"1.1" and not hosts):
        raise LocalProtocolError("a request has at most one Host header; an HTTP/1.1 one needs it")
    writer: BodyWriter
    if b"transfer-encoding" in names:
        if b"content-length" in names:
            raise LocalProtocolError("request has both Content-Length and Transfer-Encoding")
        if version == b"1.0":
            raise LocalProtocolError("Transfer-Encoding cannot be sent in an HTTP/1.0 request")
        if _tokens(_values(headers, names, b"transfer-encoding")) != [b"chunked"]:
            raise LocalProtocolError("the only transfer coding a request may use is chunked")
        writer = ChunkedWriter()
    elif b"content-length" in names:
        writer = LengthWriter(_declared_length(_values(headers, names, b"content-length")))
    elif version == b"1.0" and method in (b"POST", b"PUT", b"PATCH"):
        # RFC 1945 §8.3; a server (ours among them) answers 411 without it.
        raise LocalProtocolError(f"an HTTP/1.0 {method.decode()} request needs Content-Length")
    else:
        writer = LengthWriter(0, "a request without Content-Length or Transfer-Encoding")
    tokens = _tokens(_values(headers, names, b"connection")) if b"connection" in names else []
    keep_alive = b"close" not in tokens and (version == b"1.1" or b"keep-alive" in tokens)
    head = b"%b %b HTTP/%b\r\n%b\r\n" % (method, target, version, fields)
    return head, writer, keep_alive


def write_response(
    event: Response, request_method: bytes | None, peer_version: bytes | None, keep_alive: bool
) -> tuple[bytes, BodyWriter, bool]:
    """The response head (with our own Connection header), its body writer, keep-alive.

    ``keep_alive`` is what the request allowed; the response can only take it away.
    """
    status, version, headers = event.status_code, event.http_version, event.headers
    if type(status) is not int or not 200 <= status <= 999:
        raise LocalProtocolError(f"a Response needs a status code from 200 to 999, not {status!r}")
    if version != b"1.0":
        if version != b"1.1":
            raise LocalProtocolError(f"can only send HTTP/1.0 or HTTP/1.1, not {version!r}")
        if peer_version != b"1.1":
            raise LocalProtocolError("an HTTP/1.1 response can only go to an HTTP/1.1 peer")
    connection = b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n"
    if request_method != b"HEAD" and status != 204 and status != 304:
        try:
            cached = _CHECKED_HEADS.get(headers)
        except TypeError:  # unhashable headers: not a tuple of pairs of bytes
            cached = None
        if cached is not None:
            fields, length = cached
            return (
                _status_line(version, status, event.reason) + fields + connection,
                LengthWriter(length),
                keep_alive,
            )
    given = headers
    headers = tuple(headers)
    names = _lower_names(headers)
    cacheable = type(given) is tuple and b"connection" not in names
    if b"connection" in names:
        # Our own Connection field replaces the caller's, but the event must still be
        # clean: the caller's fields are checked whole before any is dropped.
        write_fields(headers)
        if b"close" in _tokens(_values(headers, names, b"connection")):
            keep_alive = False
        headers = tuple(pair for pair, name in zip(headers, names) if name != b"connection")
        names = [name for name in names if name != b"connection"]
    no_body = request_method == b"HEAD" or status in (204, 304)
    writer: BodyWriter
    if b"transfer-encoding" in names:
        if b"content-length" in names:
            raise LocalProtocolError("response has both Content-Length and Transfer-Encoding")
        if status == 204 or status == 304:
            raise LocalProtocolError(f"a {status} response cannot have Transfer-Encoding")
        codings = _tokens(_values(headers, names, b"transfer-encoding"))
        if codings[-1:] != [b"chunked"]:
            raise LocalProtocolError("a response's final transfer coding must be chunked")
        if no_body:
            writer = LengthWriter(0, "a response to HEAD")
        elif version == b"1.1":
            writer = ChunkedWriter()
        else:
            # Never chunked framing in HTTP/1.0: drop it and delimit by closing.
            headers = tuple(p for p, n in zip(headers, names) if n != b"transfer-encoding")
            writer, keep_alive = CloseDelimitedWriter(), False
    elif b"content-length" in names:
        if status == 204:
            raise LocalProtocolError("a 204 response cannot have Content-Length")
        length = _declared_length(_values(headers, names, b"content-length"))
        if no_body:
            what = "a response to HEAD" if request_method == b"HEAD" else f"a {status} response"
            writer = LengthWriter(0, what)
        else:
            writer = LengthWriter(length)
            if cacheable:
                fields = write_fields(headers)
                if len(_CHECKED_HEADS) >= _CHECKED_HEADS_MAX:
                    _CHECKED_HEADS.clear()
                _CHECKED_HEADS[given] = (fields, length)
                return (
                    _status_line(version, status, event.reason) + fields + connection,
                    writer,
                    keep_alive,
                )
    elif no_body:
        what = "a response to HEAD" if request_method == b"HEAD" else f"a {status} response"
        writer = LengthWriter(0, what)
    elif version == b"1.1":
        headers += ((b"Transfer-Encoding", b"chunked"),)
        writer = ChunkedWriter()
    else:
        writer, keep_alive = CloseDelimitedWriter(), False
    fields = write_fields(headers)
    connection = b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n"
    return _status_line(version, status, event.reason) + fields + connection, writer, keep_alive


def _status_line(version: bytes, status: int, reason: bytes) -> bytes:
    if not reason:
        line = _STATUS_LINES.get((version, status))
        if line is not None:
            return line
    elif not isinstance(reason, bytes) or reason.translate(None, FIELD_VCHARS):
        raise LocalProtocolError(f"invalid reason phrase {reason!r}")
    return b"HTTP/%b %d %b\r\n" % (version, status, reason)


def write_informational(status: int, headers: Headers, reason: bytes) -> bytes:
    """A 1xx head; the caller has checked the peer speaks HTTP/1.1."""
    if type(status) is not int or not 100 <= status <= 199:
        raise LocalProtocolError(f"an InformationalResponse needs a 1xx status, not {status!r}")
    if status == 101:
        raise LocalProtocolError("101 Switching Protocols: protocol upgrades are not supported")
    return _status_line(b"1.1", status, reason) + write_fields(headers) + b"\r\n"
