"""The receive buffer: bytes from the peer, and the one place that searches them.

Theory of operation: bytes are appended to a ``bytearray`` and consumed from its front
(CPython deletes a bytearray's prefix in O(1) by moving its start), always through one
method that also resets the search state. A search for the end of a head that fails
remembers how far it got, so the next search starts there:
feeding a head one byte at a time costs O(n) in total, not O(n^2). ``bytes_scanned``
counts the bytes every search looked at, so tests can prove that by counting.

While a head is incomplete the limits are checked on what has arrived, each against
the smallest head these bytes could still become, so that a head gets the same verdict
whether it arrives in one read or in many.
"""

from __future__ import annotations

from ._errors import RemoteProtocolError
from ._grammar import FIELD_VCHARS
from ._limits import Limits

__all__ = ["ReceiveBuffer"]


class ReceiveBuffer:
    """The bytes received and not yet consumed, and where the search for the end of
    the current head stands.

    The bytes live in ``_data``, which only this class touches: every removal goes
    through ``_consume`` (or ``take``), the one place that also resets the search
    state, so no caller can leave a search resuming at an offset into bytes that are
    gone.

    Two speed tricks, each measured in bench/micro.py:

    - No ``__init__``: every field starts as a class-level default and is written only
      when it changes. A new buffer costs 57 ns instead of 133 ns with an ``__init__``
      and slots; with the connection's own defaults, a new connection costs 490 ns
      instead of 640 ns, once per HTTP/1.0 request ("new connection").
    - Bytes that arrive into an empty buffer are kept as the ``bytes`` object received,
      not copied into a ``bytearray``: most requests arrive whole in one read, and are
      then sliced out of it with one copy instead of three: 0.91 us against 1.05 to
      1.13 us to receive and take a wrk-style head ("a whole head in one read"). The
      ``bytearray`` comes with the second read, or when a head is taken from the
      middle; either happens once per read, so the work stays linear.
    """

    _data: bytes | bytearray = b""
    _sliced = False  # _data is bytes already cut once since it was received
    _searched = 0  # the terminator search of the current head resumes here
    _first_lf = -1  # end of the current head's start line, once seen
    _last_lf = -1  # start of the current head's unfinished line, minus one
    bytes_scanned = 0

    def __len__(self) -> int:
        return len(self._data)

    def __bytes__(self) -> bytes:
        return bytes(self._data)

    def append(self, data: bytes) -> None:
        buffered = self._data
        if not buffered:
            # Kept as is only if immutable: a caller may reuse its own bytearray.
            self._data = data if type(data) is bytes else bytearray(data)
            self._sliced = False
        elif type(buffered) is bytearray:
            buffered += data  # in place, amortised O(len(data))
        else:
            self._data = bytearray(buffered) + data

    def _consume(self, size: int) -> None:
        """Drop ``size`` bytes (at least one) from the front; the next search starts
        afresh. O(1) for a bytearray (CPython moves its start); a ``bytes`` buffer
        becomes a bytearray here, once."""
        data = self._data
        if size >= len(data):
            self._data = b""
        elif isinstance(data, bytearray):
            del data[:size]
        elif not self._sliced:
            # The first cut of a read keeps bytes (the body after a head is then taken
            # without another copy); a second one moves to a bytearray, so that many
            # pipelined messages in one read are not copied once each.
            self._data = data[size:]
            self._sliced = True
        else:
            data = self._data = bytearray(data)  # copy whole, then drop the front:
            del data[:size]  # faster than copying a slice
        self._searched = 0
        self._first_lf = self._last_lf = -1

    def peek(self, size: int) -> bytes:
        return bytes(self._data[:size])

    def take(self, size: int) -> bytes:
        """Remove and return up to ``size`` bytes."""
        data = self._data
        out = bytes(data) if size >= len(data) else bytes(data[:size])
        if out:
            self._consume(len(out))
        return out

    def take_all(self) -> bytes:
        return self.take(len(self._data))

    def skip_newlines(self) -> None:
        """Drop empty lines (CRLF or LF) at the front; a lone CR stays, to be refused
        or completed by the LF that follows it."""
        data = self._data
        n = 0
        end = len(data)
        while n < end:
            if data[n] == 0x0A:
                n += 1
            elif data[n] == 0x0D and n + 1 < end and data[n + 1] == 0x0A:
                n += 2
            else:
                break
        if n:
            self._consume(n)

    def only_newlines(self) -> bool:
        """True if every buffered byte is CR or LF."""
        return not self._data.translate(None, b"\r\n")

    def take_plain_head(self, limits: Limits) -> list[bytes] | None:
        """Fast path: remove a plain head and return its lines; else ``None``, untouched.

        A plain head ends in CRLF CRLF, ends every line with CRLF, holds no byte outside
        a field line's alphabet, starts with its start line and is within every size
        and count limit. Most heads are; anything else is left for ``take_head``.
        """
        data = self._data
        start = self._searched
        if start:
            start -= 1  # take_head keeps two bytes of overlap; CRLF CRLF needs three
        end = data.find(b"\r\n\r\n", start)
        self.bytes_scanned += (len(data) if end < 0 else end + 4) - start
        if end <= 0 or end > limits.small_head_size:
            return None
        head = bytes(data[:end])
        lines = head.split(b"\r\n")
        if (
            not lines[0]
            or len(lines) > limits.max_header_count
            or len(head.translate(None, FIELD_VCHARS)) != 2 * len(lines) - 2
        ):
            return None
        self._consume(end + 4)
        return lines

    def take_head(
        self, limits: Limits, start_line_status: int, skip_empty_lines: bool = False
    ) -> bytes | None:
        """Remove a head ended by an empty line and return it with that line.

        With ``skip_empty_lines``, CR and LF bytes before the head are dropped first
        (RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request).

        Returns ``None`` if the head is incomplete; raises if what has arrived
        already breaks a limit (``start_line_status`` for the start line, 431 else).
        """
        data = self._data
        if skip_empty_lines and data and (data[0] == 0x0D or data[0] == 0x0A):
            self.skip_newlines()
            data = self._data  # a new object if the bytes were received as bytes
        start = self._searched
        # The head ends at the first empty line: LF CRLF or LF LF (bare LF allowed).
        end = data.find(b"\n\r\n", start)
        stop = len(data) if end < 0 else end + 1
        bare = data.find(b"\n\n", start, stop)
        self.bytes_scanned += (stop - start) * 2
        if bare >= 0:
            end, consumed = bare, bare + 2
        elif end >= 0:
            consumed = end + 3
        else:
            self._check_partial_head(limits, start_line_status)
            self._searched = max(start, len(data) - 2)
            return None
        head = bytes(data[:consumed])
        self._consume(consumed)
        return head

    def _check_partial_head(self, limits: Limits, start_line_status: int) -> None:
        data = self._data
        size = len(data)
        start = self._searched
        if self._first_lf < 0:
            lf = data.find(b"\n", start)
            self.bytes_scanned += (size if lf < 0 else lf) - start
            if lf < 0:
                # A CR at the end may still turn out to be the line ending.
                if size - 1 > limits.max_start_line_size:
                    raise start_line_too_long(limits, start_line_status)
                return
            self._first_lf = self._last_lf = lf
            if lf - (data[lf - 1] == 0x0D if lf else 0) > limits.max_start_line_size:
                raise start_line_too_long(limits, start_line_status)
        last = data.rfind(b"\n", max(start, self._last_lf + 1))
        self.bytes_scanned += size - start
        if last > self._last_lf:
            self._last_lf = last
        if size - self._last_lf - 2 > limits.max_field_size:
            raise field_too_long(limits)
        # The last three bytes may yet be the empty line that ends the head.
        if size - 3 > limits.max_head_size:
            raise head_too_large(limits)

    # -- chunked framing -----------------------------------------------------------

    def take_crlf_line(self, max_size: int, what: str) -> bytes | None:
        """Remove and return one CRLF-terminated line, without its CRLF.

        Bare LF is refused here: chunked framing needs CRLF (RFC 9112 §7.1, and its
        Errata 7633), since parsers that disagree on line ends disagree on framing.
        """
        data = self._data
        start = self._searched
        lf = data.find(b"\n", start, max_size + 2)
        self.bytes_scanned += (min(len(data), max_size + 2) if lf < 0 else lf) - start
        if lf < 0:
            if len(data) > max_size + 1:
                raise RemoteProtocolError(f"{what} is longer than {max_size} bytes")
            self._searched = len(data)
            return None
        if lf == 0 or data[lf - 1] != 0x0D:
            raise RemoteProtocolError(f"{what} does not end in CRLF (bare LF)")
        line = bytes(data[: lf - 1])
        self._consume(lf + 1)
        return line


def start_line_too_long(limits: Limits, status: int) -> RemoteProtocolError:
    which = "request line" if status == 414 else "status line"
    return RemoteProtocolError(
        f"{which} is longer than {limits.max_start_line_size} bytes", status_hint=status
    )


def field_too_long(limits: Limits) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"a header line is longer than {limits.max_field_size} bytes", status_hint=431
    )


def head_too_large(limits: Limits) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"the message head is larger than {limits.max_head_size} bytes", status_hint=431
    )
