"""From a head split into lines to a message: its event, its body reader and keep-alive.

The start line and the Host rule of RFC 9112 §3.2 are checked here. Whether the
target's form fits the method is asked of ``_targets``, and what the framing fields
mean (body length, persistence, the smuggling rules) of ``_framing``: the rules' homes,
which the writer asks too.
"""

from __future__ import annotations

from ._body import NO_BODY, BodyReader, ChunkedReader, CloseDelimitedReader, LengthReader
from ._errors import RemoteProtocolError
from ._events import (
    Headers,
    InformationalResponse,
    Request,
    Response,
    parsed_informational,
    parsed_request,
    parsed_response,
)
from ._framing import (
    BODY_METHODS,
    CHUNKED,
    CLOSE_DELIMITED,
    NO_SWITCH,
    SINGLE_VALUED,
    check_single_valued,
    keep_alive,
    length_required,
    request_body,
    response_body,
    switch_proposals,
)
from ._grammar import HTTP_VERSION, STATUS_LINE, TARGET_CHARS, TOKEN_CHARS
from ._headers import field_values, parse_fields, raw_field_names, split_head
from ._limits import Limits
from ._state import EventType
from ._targets import check_target_form

__all__ = ["Framing", "parse_request_lines", "parse_response"]

# Which fields a head has is asked of the names index with ``find(...) >= 0``, never with
# ``in``: on bytes, ``in`` first tries the needle as an int and pays for the TypeError,
# 170 ns against 80 ns per test, and a request asks five or six of them
# (bench/micro.py, "a name in the names index").

# (event, body reader, keep-alive, expects 100-continue, protocol switches proposed)
Framing = tuple[Request, BodyReader, bool, bool, frozenset[EventType]]

_V10, _V11 = b"1.0", b"1.1"
_SLASH = 0x2F
_TE, _CL = b"\ntransfer-encoding\n", b"\ncontent-length\n"
_NONE: list[bytes] = []  # no values (never appended to)
# Each single-valued name followed by LF, which adjacent names do not share: a count of
# each finds a repeat, and a message without one (nearly all) does no more than that.
# Another name that ends the same way ("x-content-type") only takes the exact path.
# Inline, not a call: bench/parse.py, post-1.0-1KiB, 12.9 us against 14.4 us with the
# exact path for every message.
_CONTENT_TYPE_END, _CONTENT_RANGE_END = (name + b"\n" for name in SINGLE_VALUED)


def parse_request_lines(lines: list[bytes], limits: Limits, keep_raw_names: bool) -> Framing:
    """Parse a request head cut into lines whose bytes and sizes are already checked;
    decide its body framing, persistence and Expect. With ``keep_raw_names`` the event
    (and the trailers of a chunked body) carries the field names as received."""
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
    if target[0] != _SLASH or method == b"CONNECT":  # see _targets: the rare forms
        check_target_form(method, target, RemoteProtocolError)
    if count == 1:
        if version is _V11:
            raise RemoteProtocolError("HTTP/1.1 request without a Host header")
        if method in BODY_METHODS:
            raise length_required(method, RemoteProtocolError)
        switch = switch_proposals(method, False, False) if method == b"CONNECT" else NO_SWITCH
        request = parsed_request(method, target, (), version, () if keep_raw_names else None)
        return request, NO_BODY, False, False, switch
    headers, names = parse_fields(lines, 1, obs_fold=False)
    http11 = version is _V11
    # RFC 9112 §3.2: a 1.1 request needs exactly one Host, and no request may have two.
    # The second search starts on the LF that ends the first match, so two adjacent
    # "host" names are both found.
    first = names.find(b"\nhost\n")
    if (first < 0 and http11) or (first >= 0 and names.find(b"\nhost\n", first + 5) >= 0):
        raise _bad_host(headers)
    raw_names = raw_field_names(lines, 1) if keep_raw_names else None
    request = parsed_request(method, target, headers, version, raw_names)
    te = field_values(headers, names, b"transfer-encoding") if names.find(_TE) >= 0 else _NONE
    cl = field_values(headers, names, b"content-length") if names.find(_CL) >= 0 else _NONE
    if te or cl:
        length = request_body(version, method, te, cl, RemoteProtocolError)
        reader = _body_reader(length, limits, "request", keep_raw_names)
        if length and (  # how content is read matters only where there is content
            names.count(_CONTENT_TYPE_END) > 1 or names.count(_CONTENT_RANGE_END) > 1
        ):
            _check_single_valued(headers, names)
    elif not http11 and method in BODY_METHODS:
        raise length_required(method, RemoteProtocolError)
    else:
        reader = NO_BODY
    persistent = (
        keep_alive(field_values(headers, names, b"connection"), http11)
        if names.find(b"\nconnection\n") >= 0
        else http11
    )
    expect = http11 and names.find(b"\nexpect\n") >= 0 and _expects_continue(headers, names)
    upgrade = http11 and names.find(b"\nupgrade\n") >= 0  # RFC 9110 §7.8: not in HTTP/1.0
    switch = (
        switch_proposals(method, http11, upgrade) if upgrade or method == b"CONNECT" else NO_SWITCH
    )
    return request, reader, persistent, expect, switch


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


def _body_reader(length: int, limits: Limits, what: str, keep_raw_names: bool) -> BodyReader:
    if length == CHUNKED:
        return ChunkedReader(limits, keep_raw_names)
    if length == CLOSE_DELIMITED:
        return CloseDelimitedReader()
    if limits.max_body_size is not None and length > limits.max_body_size:
        raise RemoteProtocolError(
            f"{what} body of {length} bytes is larger than {limits.max_body_size}",
            status_hint=413,
        )
    return LengthReader(length) if length else NO_BODY


def _check_single_valued(headers: Headers, names: bytes) -> None:
    for name in SINGLE_VALUED:
        values = field_values(headers, names, name)
        if len(values) > 1:
            check_single_valued(name, values, RemoteProtocolError)


def _expects_continue(headers: Headers, names: bytes) -> bool:
    values = field_values(headers, names, b"expect")
    return any(value.lower() == b"100-continue" for value in values)


def parse_response(
    head: bytes, limits: Limits, request_method: bytes | None, keep_raw_names: bool
) -> tuple[InformationalResponse | Response, BodyReader, bool]:
    """Parse a response head; decide its body framing (RFC 9112 §6.3) and persistence.
    With ``keep_raw_names``, as ``parse_request_lines``."""
    lines = split_head(head, limits, 400)
    match = STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise RemoteProtocolError(f"malformed status line: {lines[0][:60]!r}")
    version = _parse_version(b"HTTP/" + match.group(1), 400)
    status = int(match.group(2))
    reason = match.group(3) or b""
    headers, names = parse_fields(lines, 1, obs_fold=True)
    raw_names = raw_field_names(lines, 1) if keep_raw_names else None
    http11 = version == b"1.1"
    if status < 200:
        if status < 100:
            raise RemoteProtocolError(f"invalid status code {status}")
        informational = parsed_informational(status, headers, version, reason, raw_names)
        return informational, NO_BODY, True
    response = parsed_response(status, headers, version, reason, raw_names)
    persistent = keep_alive(field_values(headers, names, b"connection"), http11)
    length = response_body(
        version,
        status,
        request_method,
        field_values(headers, names, b"transfer-encoding"),
        field_values(headers, names, b"content-length"),
        RemoteProtocolError,
    )
    reader = _body_reader(length, limits, "response", keep_raw_names)
    if length and (names.count(_CONTENT_TYPE_END) > 1 or names.count(_CONTENT_RANGE_END) > 1):
        _check_single_valued(headers, names)
    return response, reader, persistent and length != CLOSE_DELIMITED
