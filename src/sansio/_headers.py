"""Split a complete head into its start line and header fields, checking every byte.

Theory of operation: the fast path handles a well-formed head with CRLF line ends in a
handful of C-level passes and no per-line Python code: one ``translate`` proves every
byte is allowed, one ``split`` cuts the lines, ``map(bytes.partition)`` cuts names from
values, one ``translate`` over the joined names proves they are all tokens, and one
``lower`` lower-cases them all at once. Anything unusual (bare LF line ends, an
obs-fold, a bad byte) drops to a slow path that handles it line by line and, for an
error, says exactly what and where.
"""

from __future__ import annotations

from itertools import repeat

from ._buffer import field_too_long, head_too_large, start_line_too_long
from ._errors import RemoteProtocolError
from ._events import Headers
from ._grammar import FIELD_VCHARS, TOKEN_CHARS
from ._limits import Limits

__all__ = ["field_values", "parse_fields", "raw_field_names", "split_head"]

_TOKEN_CHARS_AND_LF = TOKEN_CHARS + b"\n"
_COLON = b":"
_NEEDLES = {
    name: b"\n%b\n" % name
    for name in (
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"expect",
        b"host",
        b"content-type",
        b"content-range",
    )
}
_FEW = 8  # measured: a loop is faster up to about this many header lines


def split_head(raw: bytes, limits: Limits, start_line_status: int) -> list[bytes]:
    """Cut a head, with the empty line that ends it, into lines; check bytes and sizes.

    Every line ends in CRLF, or every line ends in a bare LF. Any other CR, and any
    control byte but HTAB, is an error. The limits come first, in the order the receive
    buffer checks them (start line, field lines, whole head): a head too large is 414 or
    431 whatever else is wrong with it, however its bytes were segmented.
    """
    if len(raw) > limits.small_head_size or raw.count(b"\n") > limits.max_header_count:
        _check_sizes(raw, limits, start_line_status)
    if raw[-4:] == b"\r\n\r\n":
        head = raw[:-4]
        lines = head.split(b"\r\n")
        leftover = head.translate(None, FIELD_VCHARS)
        if len(leftover) != 2 * len(lines) - 2:
            lines = _split_unusual(head, leftover, crlf=True)
    elif raw[-3:-2] != b"\r" and raw[-2:] == b"\n\n":
        head = raw[:-2]
        lines = _split_unusual(head, head.translate(None, FIELD_VCHARS), crlf=False)
    else:
        raise _mixed()
    return lines


def _check_sizes(raw: bytes, limits: Limits, start_line_status: int) -> None:
    # Lines are cut at LF and measured without a CR before it, as the receive buffer
    # measures them while the head is still arriving.
    end = 4 if raw[-4:] == b"\r\n\r\n" else 3 if raw[-3:] in (b"\n\r\n", b"\r\n\n") else 2
    head = raw[:-end]
    lines = head.split(b"\n")
    sizes = [len(line) - (line[-1:] == b"\r") for line in lines]
    if sizes[0] > limits.max_start_line_size:
        raise start_line_too_long(limits, start_line_status)
    if max(sizes[1:], default=0) > limits.max_field_size:
        raise field_too_long(limits)
    if len(head) > limits.max_head_size:
        raise head_too_large(limits)
    if len(lines) > limits.max_header_count + 1:
        raise RemoteProtocolError(
            f"more than {limits.max_header_count} header fields", status_hint=431
        )


def _mixed() -> RemoteProtocolError:
    return RemoteProtocolError("the head mixes CRLF and bare LF line ends")


def _split_unusual(head: bytes, leftover: bytes, crlf: bool) -> list[bytes]:
    # The leftover holds only CR and LF if every other byte is allowed. Then a head
    # whose lines all end in a bare LF is accepted (RFC 9112 §2.2 lets a recipient
    # take LF as a line end). A head that mixes CRLF and bare LF is not: a parser that
    # only ends lines at CRLF reads such a head differently ("X: a\nContent-Length:
    # 5" is one field to it), which is how requests are smuggled. A bare CR is never
    # a line end (RFC 9112 §2.2).
    if not leftover.translate(None, b"\r\n"):
        if not crlf and b"\r" not in head:
            return head.split(b"\n")
        if b"\r" not in head.replace(b"\r\n", b""):
            raise _mixed()
    for lineno, line in enumerate(head.replace(b"\r\n", b"\n").split(b"\n")):
        bad = line.translate(None, FIELD_VCHARS)
        if bad:
            byte = bad[0]
            where = "the start line" if lineno == 0 else _describe_line(line, byte)
            if byte == 0x0D:
                raise RemoteProtocolError(f"bare CR (not followed by LF) in {where}")
            raise RemoteProtocolError(f"invalid character 0x{byte:02x} in {where}")
    raise AssertionError("unreachable: a leftover byte must belong to some line")


def _describe_line(line: bytes, byte: int) -> str:
    name, colon, _ = line.partition(b":")
    if colon and bytes([byte]) not in name and name and not name.translate(None, TOKEN_CHARS):
        return f"the value of header {name.decode('ascii').lower()!r}"
    return f"header line {line[:40]!r}"


def parse_fields(lines: list[bytes], start: int, obs_fold: bool) -> tuple[Headers, bytes]:
    """Parse ``lines[start:]`` as field lines into ``((name, value), ...)``.

    Names come back lower-cased, values without surrounding whitespace. The second
    result indexes the names for ``field_values``: every name, lower-cased, with an LF
    before and after each (``b"\nhost\naccept\n"``). With
    ``obs_fold`` a line that starts with SP or HTAB continues the previous value and
    is joined to it with one SP (RFC 9112 §5.2, for user agents); without it, such a
    line is an error, as it is for a server.
    """
    if start:
        lines = lines[start:]
    if not lines:
        return (), b"\n"
    if len(lines) <= _FEW:
        # Below _FEW lines a plain loop beats the fixed cost of the zip/map pipeline.
        fields = []
        lowered = []
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon or not name or name.translate(None, TOKEN_CHARS):
                return _parse_fields_slow(lines, obs_fold)
            name = name.lower()
            lowered.append(name)
            fields.append((name, value.strip()))
        return tuple(fields), b"\n%b\n" % b"\n".join(lowered)
    names, colons, values = zip(*map(bytes.partition, lines, repeat(_COLON)))
    joined = b"\n".join(names)
    if joined.translate(None, _TOKEN_CHARS_AND_LF) or b"" in names or b"" in colons:
        return _parse_fields_slow(lines, obs_fold)
    joined = joined.lower()
    return tuple(zip(joined.split(b"\n"), map(bytes.strip, values))), b"\n%b\n" % joined


def raw_field_names(lines: list[bytes], start: int) -> tuple[bytes, ...]:
    """The names of the fields ``parse_fields(lines, start, ...)`` accepted, exactly as
    received: one per line that is not an obs-fold continuation, cut at its first colon
    (``parse_fields`` has refused any whitespace before it)."""
    return tuple(
        line[: line.find(b":")] for line in lines[start:] if line[:1] != b" " and line[:1] != b"\t"
    )


def _parse_fields_slow(lines: list[bytes], obs_fold: bool) -> tuple[Headers, bytes]:
    fields: list[tuple[bytes, bytes]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not obs_fold:
                raise RemoteProtocolError(
                    f"obsolete line folding (a header line starting with whitespace): {line[:40]!r}"
                )
            if not fields:
                raise RemoteProtocolError("the first header line starts with whitespace")
            name, value = fields[-1]
            more = line.strip()
            fields[-1] = (name, value + b" " + more if value and more else value + more)
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            raise RemoteProtocolError(f"header line without a colon: {line[:40]!r}")
        if not name:
            raise RemoteProtocolError(f"header line with an empty name: {line[:40]!r}")
        if name[-1:] in (b" ", b"\t"):
            raise RemoteProtocolError(
                f"whitespace between header name {name.strip()[:40]!r} and the colon"
            )
        bad = name.translate(None, TOKEN_CHARS)
        if bad:
            raise RemoteProtocolError(
                f"invalid character {chr(bad[0])!r} in header name {name[:40]!r}"
            )
        fields.append((name.lower(), value.strip()))
    return tuple(fields), b"\n%b\n" % b"\n".join([name for name, _ in fields])


def field_values(headers: Headers, index: bytes, name: bytes) -> list[bytes]:
    """The values of every field called ``name`` (lower-case), found through ``index``.

    The common case, one such field, costs two substring searches and no loop.
    """
    needle = _NEEDLES.get(name) or b"\n%b\n" % name
    at = index.find(needle)
    if at < 0:
        return []
    if index.find(needle, at + len(needle) - 1) < 0:
        return [headers[index.count(b"\n", 0, at)][1]]
    return [value for key, value in headers if key == name]
