"""Hostile values in the events we send: refused, or read back exactly, in both roles.

Invariant: for a request (client role) or a 1xx + response + trailers (server role)
whose method, target, header and trailer names and values, and reason phrase are drawn
from all 256 byte values (``sansio.strategies.any_bytes`` and friends), ``send`` either
raises ``LocalProtocolError`` (nothing else, and the connection has not moved) or
returns bytes that our own parser in the other role reads back as exactly the events
sent: the same fields in the same order (names lower-cased), plus only the framing and
``Connection`` fields the writer adds, the same body, and nothing after it. And ``send``
refuses exactly what an independent oracle, written from the RFC grammar below, calls
invalid: no header injection (issue 7), and no over-eager refusal either. The oracle
also knows two rules that are lists, not grammar: a trailer field RFC 9110 §6.5.1 rules
out, and two different values of a single-valued content field (RFC 9110 §5.3).
``PreparedResponse`` is held to the same: it refuses when built what the sends refuse,
and ``send_prepared`` writes exactly their bytes.
"""

from __future__ import annotations

import ipaddress
import re
from http import HTTPStatus

from hypothesis import example, given
from hypothesis import strategies as st

import sansio
from sansio import strategies as hs

from ._harness import counted, feed, trailer_ok

# The oracle: the RFC grammar as regular expressions, independent of the core's tables.
# RFC 9110 §5.6.2: token = 1*tchar
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: field-value = *field-content
#   field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
#   field-vchar   = VCHAR / obs-text
# so SP and HTAB only inside a value, never at its edges (a parser strips them, RFC
# 9112 §5: a value sent with them would not read back the same).
_FIELD_VALUE = re.compile(
    rb"(?:[\x21-\x7e\x80-\xff](?:[\t \x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?"
)
# RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
_REASON = re.compile(rb"[\t \x21-\x7e\x80-\xff]*")
# RFC 9112 §3.2, RFC 3986 §2: every request-target form is printable ASCII without SP,
# and the form must fit the method: origin-form (absolute-path [ "?" query ]) for any
# method but CONNECT; absolute-form (scheme "://" authority, then what an origin-form
# may hold) likewise; authority-form (uri-host ":" port) for CONNECT and only CONNECT;
# "*" for OPTIONS only.
_TARGET = re.compile(rb"[\x21-\x7e]+")
_SUB_DELIMS_UNRESERVED = rb"[A-Za-z0-9._~!$&'()*+,;=-]"
_REG_NAME = rb"(?:" + _SUB_DELIMS_UNRESERVED + rb"|%[0-9A-Fa-f]{2})+"
_IP_LITERAL = rb"\[(?P<ip>[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.(?:" + _SUB_DELIMS_UNRESERVED + rb"|:)+)\]"
_URI_HOST = rb"(?:" + _IP_LITERAL + rb"|" + _REG_NAME + rb")"
_AUTHORITY_FORM = re.compile(_URI_HOST + rb":(?P<port>[0-9]+)")
_ABSOLUTE_FORM = re.compile(
    rb"[A-Za-z][-A-Za-z0-9+.]*://(?:(?:"
    + _SUB_DELIMS_UNRESERVED
    + rb"|%[0-9A-Fa-f]{2}|:)*@)?"
    + _URI_HOST
    + rb"(?::[0-9]*)?(?:[/?#][\x21-\x7e]*)?"
)


def _ip_ok(match: re.Match[bytes]) -> bool:
    ip = match.group("ip")
    if ip is None or ip.startswith(b"v"):
        return True
    try:
        ipaddress.IPv6Address(ip.decode())
    except ValueError:
        return False
    return True


def _target_ok(method: bytes, target: bytes) -> bool:
    if _TARGET.fullmatch(target) is None:
        return False
    if method == b"CONNECT":
        match = _AUTHORITY_FORM.fullmatch(target)
        return match is not None and int(match.group("port")) < 65536 and _ip_ok(match)
    if target == b"*":
        return method == b"OPTIONS"
    if target.startswith(b"/"):
        return True
    match = _ABSOLUTE_FORM.fullmatch(target)
    return match is not None and _ip_ok(match)


def _fields_ok(fields: sansio.Headers) -> bool:
    return all(
        _TOKEN.fullmatch(name) is not None and _FIELD_VALUE.fullmatch(value) is not None
        for name, value in fields
    )


def _trailers_ok(trailers: sansio.Headers) -> bool:
    return _fields_ok(trailers) and all(trailer_ok(name) for name, _ in trailers)


def _single_values_ok(fields: sansio.Headers) -> bool:
    """RFC 9110 §5.3: Content-Type and Content-Range take one value (a repeat of the
    same one is harmless); checked on a message with content."""
    for single in (b"content-type", b"content-range"):
        if len({value for name, value in fields if name.lower() == single}) > 1:
            return False
    return True


def _lowered(fields: sansio.Headers) -> sansio.Headers:
    return tuple((name.lower(), value) for name, value in fields)


def _reason_read_back(reason: bytes, status: int) -> bytes:
    return reason or HTTPStatus(status).phrase.encode("ascii")


_REPRO = ((b"x-a", b"a\nSet-Cookie: s=1"), (b"x-b", b"b"))


@example(
    method=b"GET",
    target=b"/",
    fields=((b"x-a", b"a\nContent-Length: 5"),),
    trailers=(),
    version=b"1.0",
)
@example(method=b"GET", target=b"/", fields=_REPRO, trailers=_REPRO, version=b"1.1")
@given(
    method=hs.hostile_methods(),
    target=hs.hostile_targets(),
    fields=hs.hostile_fields(),
    trailers=hs.hostile_fields(),
    version=st.sampled_from((b"1.0", b"1.1")),
)
@counted
def test_client_sends_hostile_values_refused_or_read_back(
    method: bytes, target: bytes, fields: sansio.Headers, trailers: sansio.Headers, version: bytes
) -> None:
    chunked = version == b"1.1"
    framing = ((b"host", b"x"), (b"transfer-encoding", b"chunked")) if chunked else ()
    request = sansio.Request(method, target, fields + framing, version)
    if not chunked:
        trailers = ()
    valid = (
        _TOKEN.fullmatch(method) is not None
        and _target_ok(method, target)
        and _fields_ok(fields)
        and not (version == b"1.0" and method in (b"POST", b"PUT", b"PATCH"))
        and (not chunked or _single_values_ok(fields))  # only a chunked request has content
        and _trailers_ok(trailers)
    )
    client = sansio.Connection(sansio.CLIENT)
    try:
        wire = client.send(request)
        wire += client.send(sansio.Data(b"body")) if chunked else b""
        wire += client.send(sansio.EndOfMessage(trailers))
    except sansio.LocalProtocolError:
        assert not valid, request
        return
    assert valid, (request, wire)
    server = sansio.Connection(sansio.SERVER)
    got = feed(server, [wire])
    assert got.error is None, (wire, got.error)
    expected = sansio.Request(method, target, _lowered(request.headers), version)
    body = (sansio.Data(b"body"),) if chunked else ()
    assert got.events == (expected, *body, sansio.EndOfMessage(_lowered(trailers))), wire
    # Nothing after the message: PAUSED, or NEED_DATA on a connection that must close.
    assert server.next_event() in (sansio.PAUSED, sansio.NEED_DATA)
    assert server.trailing_data == (b"", False)


@example(fields=_REPRO, trailers=_REPRO, reason=b"", interim=False)
@example(fields=(), trailers=(), reason=b"OK\r\nSet-Cookie: s=1", interim=False)
@example(fields=(), trailers=((b"Cache-Control", b""),), reason=b"OK", interim=False)
@given(
    fields=hs.hostile_fields(),
    trailers=hs.hostile_fields(),
    reason=hs.hostile_reasons(),
    interim=st.booleans(),
)
@counted
def test_server_sends_hostile_values_refused_or_read_back(
    fields: sansio.Headers, trailers: sansio.Headers, reason: bytes, interim: bool
) -> None:
    client = sansio.Connection(sansio.CLIENT)
    server = sansio.Connection(sansio.SERVER)
    wire = client.send(sansio.Request(b"GET", b"/", ((b"host", b"x"),), b"1.1"))
    wire += client.send(sansio.EndOfMessage())
    assert feed(server, [wire]).error is None
    head_ok = (
        _fields_ok(fields) and _single_values_ok(fields) and _REASON.fullmatch(reason) is not None
    )
    valid = head_ok and _trailers_ok(trailers)
    informational = sansio.InformationalResponse(103, fields, reason=reason)
    response = sansio.Response(200, fields, b"1.1", reason)
    try:
        wire = server.send(informational) if interim else b""
        wire += server.send(response)
        wire += server.send(sansio.Data(b"body"))
        wire += server.send(sansio.EndOfMessage(trailers))
    except sansio.LocalProtocolError:
        assert not valid, (fields, trailers, reason)
        # Nothing was sent: the head is still to send, or (refused trailers) the end.
        assert server.our_state is (sansio.SEND_BODY if head_ok else sansio.SEND_RESPONSE)
        return
    assert valid, (fields, trailers, reason, wire)
    got = feed(client, [wire])
    assert got.error is None, (wire, got.error)
    added = ((b"transfer-encoding", b"chunked"), (b"connection", b"keep-alive"))
    expected_response = sansio.Response(
        200, _lowered(fields) + added, b"1.1", _reason_read_back(reason, 200)
    )
    heads: tuple[sansio.Event, ...] = (expected_response,)
    if interim:
        heads = (
            sansio.InformationalResponse(
                103, _lowered(fields), b"1.1", _reason_read_back(reason, 103)
            ),
            *heads,
        )
    body = sansio.Data(b"body")
    assert got.events == (*heads, body, sansio.EndOfMessage(_lowered(trailers))), wire
    assert client.next_event() is sansio.PAUSED
    assert client.trailing_data == (b"", False)


def _get_read(version: bytes, method: bytes) -> sansio.Connection:
    server = sansio.Connection(sansio.SERVER)
    host = b"Host: x\r\n" if version == b"1.1" else b""
    assert feed(server, [b"%s / HTTP/%s\r\n%s\r\n" % (method, version, host)]).error is None
    return server


@example(fields=_REPRO, reason=b"", body=b"", version=b"1.1", method=b"GET")
@example(fields=(), reason=b"OK\r\nSet-Cookie: s=1", body=b"x", version=b"1.0", method=b"HEAD")
@given(
    fields=hs.hostile_fields(),
    reason=hs.hostile_reasons(),
    body=st.sampled_from((b"", b"body")),
    version=st.sampled_from((b"1.0", b"1.1")),
    method=st.sampled_from((b"GET", b"HEAD")),
)
@counted
def test_a_prepared_response_of_hostile_values_is_refused_or_sent_as_send_would(
    fields: sansio.Headers, reason: bytes, body: bytes, version: bytes, method: bytes
) -> None:
    """``PreparedResponse`` refuses what ``send`` refuses, and ``send_prepared`` writes
    exactly the bytes of the three sends, so checking once cannot let an injection by."""
    response = sansio.Response(200, fields, b"1.0", reason)
    has_length = any(name.lower() == b"content-length" for name, _ in fields)
    # What the builder means: the response with its Content-Length added.
    sent = (
        response
        if has_length
        else sansio.Response(200, (*fields, (b"Content-Length", b"%d" % len(body))), b"1.0", reason)
    )

    def three_sends(method: bytes) -> tuple[sansio.Connection, bytes | None]:
        conn = _get_read(version, method)
        try:
            out = conn.send(sent)
            if method != b"HEAD":
                out += conn.send(sansio.Data(body))
            return conn, out + conn.send(sansio.EndOfMessage())
        except sansio.LocalProtocolError:
            return conn, None

    three, expected = three_sends(method)
    try:
        prepared = sansio.PreparedResponse(response, body)
    except sansio.LocalProtocolError:
        # Refused when built, which checks as for a GET (after HEAD, send sees no
        # content, so neither a body's length nor a repeated Content-Type): what the
        # three sends after a GET refuse too.
        assert three_sends(b"GET")[1] is None, (fields, body)
        return
    assert prepared.response == sent
    one = _get_read(version, method)
    if expected is None:
        states = (one.our_state, one.their_state)
        try:
            one.send_prepared(prepared)
        except sansio.LocalProtocolError:
            assert (one.our_state, one.their_state) == states  # nothing moved
            return
        raise AssertionError(("send refused, send_prepared sent", fields, reason))
    assert one.send_prepared(prepared) == expected
    assert (one.our_state, one.their_state, one.keep_alive) == (
        three.our_state,
        three.their_state,
        three.keep_alive,
    )
