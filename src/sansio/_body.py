"""Body readers: one per framing, each turning buffered bytes into body events.

A reader is called with the receive buffer and returns ``Data``, ``EndOfMessage`` or
``None`` (need more bytes); ``eof()`` says what the end of the input means for it.
Lengths come from Content-Length, chunked framing or the connection's close
(RFC 9112 §6.3); a reader never buffers body bytes itself.
"""

from __future__ import annotations

from typing import Protocol

from ._buffer import ReceiveBuffer
from ._errors import RemoteProtocolError
from ._events import Data, EndOfMessage, parsed_data, parsed_end_of_message
from ._framing import check_trailers
from ._grammar import CHUNK_EXT, FIELD_VCHARS, HEXDIGITS
from ._headers import parse_fields, raw_field_names
from ._limits import Limits

__all__ = [
    "END",
    "NO_BODY",
    "BodyReader",
    "ChunkedReader",
    "CloseDelimitedReader",
    "LengthReader",
]

END = EndOfMessage()
"""The end of every message without trailer fields, shared."""


class BodyReader(Protocol):
    def __call__(self, buf: ReceiveBuffer) -> Data | EndOfMessage | None:
        """The next body event from ``buf``, or ``None`` if more bytes are needed."""

    def eof(self) -> EndOfMessage:
        """The peer closed: end the body, or raise if it is cut short."""


class LengthReader:
    """A body of exactly ``Content-Length`` bytes (zero when a message has no body)."""

    __slots__ = ("remaining",)

    def __init__(self, length: int) -> None:
        self.remaining = length

    def __call__(self, buf: ReceiveBuffer) -> Data | EndOfMessage | None:
        if not self.remaining:
            return END
        data = buf.take(self.remaining)
        if not data:
            return None
        self.remaining -= len(data)
        return parsed_data(data)

    def eof(self) -> EndOfMessage:
        # Only asked when a call found no bytes: never with nothing remaining.
        raise RemoteProtocolError(
            f"peer closed the connection {self.remaining} bytes before the end of the body"
        )


NO_BODY = LengthReader(0)
"""Shared by every message without a body: with nothing remaining it never changes."""


class CloseDelimitedReader:
    """A response body that ends when the server closes (RFC 9112 §6.3, rule 8)."""

    __slots__ = ()

    def __call__(self, buf: ReceiveBuffer) -> Data | None:
        data = buf.take_all()
        return parsed_data(data) if data else None

    def eof(self) -> EndOfMessage:
        return END


_SIZE, _DATA, _DATA_END, _TRAILERS = range(4)
_NO_BOUNDS = (False, False)


class ChunkedReader:
    """A chunked body (RFC 9112 §7.1): size lines, data, CRLFs, then trailers.

    Chunk-size lines and the CRLF after each chunk must be exactly CRLF-terminated,
    and sizes are checked against ``1*HEXDIG`` before conversion (``int(x, 16)``
    alone would accept ``0x``, ``_``, signs and spaces). With ``keep_raw_names`` the
    trailers' ``EndOfMessage`` carries their names as received.
    """

    __slots__ = (
        "_keep_raw_names",
        "_limits",
        "_lines",
        "_phase",
        "_remaining",
        "_size",
        "_total",
        "chunk_bounds",
    )

    def __init__(self, limits: Limits, keep_raw_names: bool = False) -> None:
        self.chunk_bounds = _NO_BOUNDS
        """Whether the last ``Data`` began its chunk, and whether it ended it."""
        self._size = 0
        self._limits = limits
        self._keep_raw_names = keep_raw_names
        self._phase = _SIZE
        self._remaining = 0
        self._total = 0
        self._lines: list[bytes] = []

    def __call__(self, buf: ReceiveBuffer) -> Data | EndOfMessage | None:
        while True:
            phase = self._phase
            if phase == _DATA:
                remaining = self._remaining
                data = buf.take(remaining)
                if not data:
                    return None
                left = remaining - len(data)
                self._remaining = left
                self.chunk_bounds = (remaining == self._size, not left)
                if not left:
                    self._phase = _DATA_END
                return parsed_data(data)
            if phase == _SIZE:
                line = buf.take_crlf_line(self._limits.max_chunk_line_size, "chunk-size line")
                if line is None:
                    # A size longer than 16 hex digits is refused at once, not waited for.
                    head = buf.peek(17)
                    if len(head) == 17 and not head.translate(None, HEXDIGITS):
                        raise RemoteProtocolError("chunk size has more than 16 hex digits")
                    return None
                size = parse_chunk_size(line)
                if not size:
                    self._phase = _TRAILERS
                    continue
                self._total += size
                limit = self._limits.max_body_size
                if limit is not None and self._total > limit:
                    raise RemoteProtocolError(
                        f"chunked body is larger than {limit} bytes", status_hint=413
                    )
                self._remaining = self._size = size
                self._phase = _DATA
            elif phase == _DATA_END:
                end = buf.peek(2)
                if end != b"\r\n":
                    if end in (b"", b"\r"):
                        return None
                    raise RemoteProtocolError("chunk data is not followed by CRLF")
                buf.take(2)
                self._phase = _SIZE
            else:
                return self._read_trailers(buf)

    def _read_trailers(self, buf: ReceiveBuffer) -> EndOfMessage | None:
        limits = self._limits
        lines = self._lines
        while True:
            line = buf.take_crlf_line(limits.max_field_size, "trailer line")
            if line is None:
                return None
            if not line:
                break
            lines.append(line)
            if len(lines) > limits.max_header_count:
                raise RemoteProtocolError(
                    f"more than {limits.max_header_count} trailer fields", status_hint=431
                )
            if sum(map(len, lines)) > limits.max_head_size:
                raise RemoteProtocolError(
                    f"trailer section is larger than {limits.max_head_size} bytes",
                    status_hint=431,
                )
        if not lines:
            return END
        for line in lines:
            bad = line.translate(None, FIELD_VCHARS)
            if bad:
                raise RemoteProtocolError(
                    f"invalid character 0x{bad[0]:02x} in trailer line {line[:40]!r}"
                )
        headers, _ = parse_fields(lines, 0, obs_fold=False)
        check_trailers(headers, RemoteProtocolError)
        raw_names = raw_field_names(lines, 0) if self._keep_raw_names else None
        return parsed_end_of_message(headers, raw_names)

    def eof(self) -> EndOfMessage:
        raise RemoteProtocolError("peer closed the connection in the middle of a chunked body")


def parse_chunk_size(line: bytes) -> int:
    """``chunk-size [ chunk-ext ]`` -> the size; extensions are checked, then ignored."""
    if 0 < len(line) <= 16 and not line.translate(None, HEXDIGITS):
        return int(line, 16)
    digits = len(line) - len(line.lstrip(HEXDIGITS))
    if not digits:
        raise RemoteProtocolError(f"invalid chunk size: {line[:40]!r}")
    if digits > 16:
        raise RemoteProtocolError("chunk size has more than 16 hex digits")
    if CHUNK_EXT.fullmatch(line, digits) is None:
        bad = line[digits:].translate(None, FIELD_VCHARS)
        if bad:
            raise RemoteProtocolError(
                f"invalid character 0x{bad[0]:02x} in chunk extension {line[:40]!r}"
            )
        raise RemoteProtocolError(f"invalid chunk extension: {line[:40]!r}")
    return int(line[:digits], 16)
