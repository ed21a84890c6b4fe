"""From a parsed head to a message: its event, its body framing and keep-alive.

This is where RFC 9112 §6.3 (message body length) and the smuggling rules of §11 live:
both Content-Length and Transfer-Encoding, differing or malformed lengths, codings
other than a final chunked, Transfer-Encoding in HTTP/1.0, and the Host rule of §3.2.
"""

from __future__ import annotations

from ._body import NO_BODY, BodyReader, ChunkedReader, CloseDelimitedReader, LengthReader
from ._errors import RemoteProtocolError
from ._events import Headers, InformationalResponse, Request, Response
from ._grammar import HTTP_VERSION, STATUS_LINE, TARGET_CHARS, TOKEN_CHARS
from ._headers import field_values, parse_fields, split_head
from ._limits import Limits

__all__ = [
    "Framing",
    "connection_tokens",
    "parse_content_length",
    "parse_request_lines",
    "parse_response",
    "transfer_codings",
]

# (event, body reader, keep-alive, expects 100-continue)
Framing = tuple[Request, BodyReader, bool, bool]

_V10, _V11 = b"1.0", b"1.1"
_BODY_METHODS = (b"POST", b"PUT", b"PATCH")  # an HTTP/1.0 request with these has a body
_MAX_LENGTH_DIGITS = 18  # below 2**63: every peer can represent it


def parse_request_lines(lines: list[bytes], limits: Limits) -> Framing:
    """Parse a request head cut into lines whose bytes and sizes are already checked;
    decide its body framing, persistence and Expect."""
    count = len(lines)
    request_line = lines[0].split(b" ")
    if len(request_line) != 3:
        raise _bad_request_line(lines[0])
    method, target, version = request_line
    if version == b"HTTP/1.1":
        version = _V11
    elif version == b"HTTP/1.0":
        version = _V10
    else:
        version = _parse_version(version, 505)
    if not method or not target or method.translate(None, TOKEN_CHARS):
        raise _bad_request_line(lines[0])
    if target.translate(None, TARGET_CHARS):
        raise RemoteProtocolError(f"invalid request target {target[:60]!r}")
    if count == 1:
        if version is _V11:
            raise RemoteProtocolError("HTTP/1.1 request without a Host header")
        if method in _BODY_METHODS:
            raise _length_required(method)
        return Request(method, target, (), version), NO_BODY, False, False
    headers, names = parse_fields(lines, 1, obs_fold=False)
    http11 = version is _V11
    # RFC 9112 §3.2: a 1.1 request needs exactly one Host, and no request may have two.
    # The second search starts on the LF that ends the first match, so two adjacent
    # "host" names are both found.
    first = names.find(b"\nhost\n")
    if (first < 0 and http11) or (first >= 0 and names.find(b"\nhost\n", first + 5) >= 0):
        raise _bad_host(headers)
    request = Request(method, target, headers, version)
    if b"\ncontent-length\n" in names or b"\ntransfer-encoding\n" in names:
        reader = _request_body(headers, names, version, limits)
    elif not http11 and method in _BODY_METHODS:
        raise _length_required(method)
    else:
        reader = NO_BODY
    keep_alive = _keep_alive(headers, names, http11) if b"\nconnection\n" in names else http11
    expect = http11 and b"\nexpect\n" in names and _expects_continue(headers, names)
    return request, reader, keep_alive, expect


def _length_required(method: bytes) -> RemoteProtocolError:
    # RFC 1945 §8.3: "A valid Content-Length is required on all HTTP/1.0 POST
    # requests." Without it the body cannot be told apart from what follows.
    return RemoteProtocolError(
        f"HTTP/1.0 {method.decode('ascii')} request without Content-Length", status_hint=411
    )


def _bad_host(headers: Headers) -> RemoteProtocolError:
    count = sum(1 for name, _ in headers if name == b"host")
    if not count:
        return RemoteProtocolError("HTTP/1.1 request without a Host header")
    return RemoteProtocolError(f"request with {count} Host headers")


def _bad_request_line(line: bytes) -> RemoteProtocolError:
    parts = line.split(b" ")
    if len(parts) > 3:
        return RemoteProtocolError(f"request line with extra spaces: {line[:60]!r}")
    if len(parts) < 3 or not parts[0] or not parts[1]:
        return RemoteProtocolError(f"malformed request line: {line[:60]!r}")
    return RemoteProtocolError(f"invalid method {parts[0][:40]!r}")


def _parse_version(version: bytes, unsupported_status: int) -> bytes:
    match = HTTP_VERSION.fullmatch(version)
    if match is None:
        raise RemoteProtocolError(f"invalid HTTP version {version[:20]!r}")
    major, minor = match.groups()
    if major != b"1":
        raise RemoteProtocolError(
            f"unsupported HTTP version {version.decode('ascii')}",
            status_hint=unsupported_status,
        )
    # RFC 9110 §2.5: a higher minor version is processed as the highest we speak.
    return _V10 if minor == b"0" else _V11


def _request_body(headers: Headers, names: bytes, version: bytes, limits: Limits) -> BodyReader:
    has_te = b"\ntransfer-encoding\n" in names and field_values(
        headers, names, b"transfer-encoding"
    )
    has_cl = b"\ncontent-length\n" in names and field_values(headers, names, b"content-length")
    if has_te:
        if has_cl:
            raise RemoteProtocolError("request has both Content-Length and Transfer-Encoding")
        if version == b"1.0":
            raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 request")
        codings = transfer_codings(has_te)
        if codings[-1:] != [b"chunked"]:
            raise RemoteProtocolError(
                f"request's final transfer coding is not chunked: {b', '.join(has_te)!r}"
            )
        if len(codings) > 1:
            if b"chunked" in codings[:-1]:
                raise RemoteProtocolError("request applies chunked more than once")
            raise RemoteProtocolError(
                f"unsupported transfer coding {codings[0].decode('latin-1')!r}", status_hint=501
            )
        return ChunkedReader(limits)
    if has_cl:
        return _length_reader(has_cl, limits, "request")
    return NO_BODY


def _length_reader(values: list[bytes], limits: Limits, what: str) -> LengthReader:
    length = parse_content_length(values)
    if limits.max_body_size is not None and length > limits.max_body_size:
        raise RemoteProtocolError(
            f"{what} body of {length} bytes is larger than {limits.max_body_size}",
            status_hint=413,
        )
    return LengthReader(length)


def parse_content_length(values: list[bytes]) -> int:
    """One Content-Length from every value given, or raise.

    Each element must be ``1*DIGIT`` (RFC 9110 §8.6) before ``int()`` sees it: ``int``
    alone accepts signs, ``_``, spaces and non-ASCII digits. Repeated identical values
    count as one, as §8.6 allows; differing ones are an error.
    """
    if len(values) == 1:
        value = values[0]
        if value.isdigit() and len(value) <= _MAX_LENGTH_DIGITS:
            return int(value)
    lengths = set()
    for value in values:
        for item in value.split(b","):
            item = item.strip(b" \t")
            if not item.isdigit():
                raise RemoteProtocolError(f"invalid Content-Length {value[:40]!r}")
            if len(item.lstrip(b"0")) > _MAX_LENGTH_DIGITS:
                raise RemoteProtocolError(f"Content-Length too large: {value[:40]!r}")
            lengths.add(int(item))
    if len(lengths) != 1:
        raise RemoteProtocolError(f"differing Content-Length values: {b', '.join(values)!r}")
    return lengths.pop()


def transfer_codings(values: list[bytes]) -> list[bytes]:
    """The transfer codings named, lower-cased and in order; empty list items dropped."""
    codings = []
    for value in values:
        for item in value.split(b","):
            item = item.strip(b" \t").lower()
            if item:
                codings.append(item)
    return codings


def connection_tokens(values: list[bytes]) -> list[bytes]:
    """The options of Connection fields (RFC 9110 §7.6.1), lower-cased."""
    return [item.strip(b" \t").lower() for value in values for item in value.split(b",")]


def _keep_alive(headers: Headers, names: bytes, http11: bool) -> bool:
    """RFC 9112 §9.3 for 1.1 (persistent unless ``close``); RFC 1945's keep-alive
    extension for 1.0 (closed unless ``keep-alive``)."""
    values = field_values(headers, names, b"connection")
    if not values:
        return http11
    if len(values) == 1:
        value = values[0].lower()
        if value == b"keep-alive":
            return True
        if value == b"close":
            return False
    tokens = connection_tokens(values)
    if b"close" in tokens:
        return False
    return http11 or b"keep-alive" in tokens


def _expects_continue(headers: Headers, names: bytes) -> bool:
    values = field_values(headers, names, b"expect")
    return any(value.lower() == b"100-continue" for value in values)


def parse_response(
    head: bytes, limits: Limits, request_method: bytes | None
) -> tuple[InformationalResponse | Response, BodyReader, bool]:
    """Parse a response head; decide its body framing (RFC 9112 §6.3) and persistence."""
    lines = split_head(head, limits, 400)
    match = STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise RemoteProtocolError(f"malformed status line: {lines[0][:60]!r}")
    version = _parse_version(b"HTTP/" + match.group(1), 400)
    status = int(match.group(2))
    reason = match.group(3) or b""
    headers, names = parse_fields(lines, 1, obs_fold=True)
    http11 = version == b"1.1"
    if status < 200:
        if status < 100:
            raise RemoteProtocolError(f"invalid status code {status}")
        if status == 101:
            raise RemoteProtocolError(
                "101 Switching Protocols: protocol upgrades are not supported"
            )
        return InformationalResponse(status, headers, version, reason), NO_BODY, True
    response = Response(status, headers, version, reason)
    keep_alive = _keep_alive(headers, names, http11)
    if request_method == b"HEAD" or status in (204, 304):
        return response, NO_BODY, keep_alive
    te = field_values(headers, names, b"transfer-encoding")
    cl = field_values(headers, names, b"content-length")
    if te:
        if cl:
            raise RemoteProtocolError("response has both Content-Length and Transfer-Encoding")
        if not http11:
            raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 response")
        if transfer_codings(te)[-1:] == [b"chunked"]:
            return response, ChunkedReader(limits), keep_alive
        return response, CloseDelimitedReader(), False
    if cl:
        return response, _length_reader(cl, limits, "response"), keep_alive
    # Delimited by close (rule 8); this also carries a CONNECT tunnel's bytes.
    return response, CloseDelimitedReader(), False
