"""Message body length and persistence: the one home of those rules, for both directions.

RFC 9112 §6.3 (message body length), §9.3 (persistence) and the smuggling rules of §11
live here, and nowhere else: both Content-Length and Transfer-Encoding, differing or
malformed lengths, codings other than a final chunked, Transfer-Encoding in HTTP/1.0;
and which fields may be trailers (RFC 9110 §6.5.1).
The reader (``_heads``) asks these functions what a head it parsed means; the writer
(``_writers``) first settles the fields it will put on the wire, then asks the same
functions what our reader will make of them, so anything we send we also accept.

The functions raise the error class they are given: ``RemoteProtocolError`` when
reading, ``LocalProtocolError`` when writing.
"""

from __future__ import annotations

from ._errors import LocalProtocolError, ProtocolError
from ._events import Headers
from ._state import EventType, SwitchConnect, SwitchUpgrade

__all__ = [
    "BODY_METHODS",
    "CHUNKED",
    "CLOSE_DELIMITED",
    "HOP_BY_HOP_FIELDS",
    "MAX_LENGTH_DIGITS",
    "NO_SWITCH",
    "SINGLE_VALUED",
    "allowed_in_trailers",
    "check_response_framing",
    "check_single_valued",
    "check_trailers",
    "connection_tokens",
    "content_length",
    "keep_alive",
    "length_required",
    "request_body",
    "response_body",
    "response_has_body",
    "switch_proposals",
    "transfer_codings",
]

Error = type[ProtocolError]

CHUNKED = -1
"""A body length that says: chunked framing (RFC 9112 §7.1)."""
CLOSE_DELIMITED = -2
"""A body length that says: the body ends when the connection closes (§6.3 rule 8)."""

MAX_LENGTH_DIGITS = 18  # below 2**63: every peer can represent it
BODY_METHODS = (b"POST", b"PUT", b"PATCH")
"""An HTTP/1.0 request with one of these methods has a body, so it needs Content-Length."""


def content_length(values: list[bytes], error: Error) -> int:
    """One Content-Length from every value given, or raise.

    Each element must be ``1*DIGIT`` (RFC 9110 §8.6) before ``int()`` sees it: ``int``
    alone accepts signs, ``_``, spaces and non-ASCII digits. Repeated identical values
    count as one, as §8.6 allows; differing ones are an error. More than 18 significant
    digits is an error too: a peer that cannot hold the number would misframe.
    """
    if len(values) == 1:
        value = values[0]
        if value.isdigit() and len(value) <= MAX_LENGTH_DIGITS:
            return int(value)
    lengths = set()
    for value in values:
        for item in value.split(b","):
            item = item.strip(b" \t")
            if not item.isdigit():
                raise error(f"invalid Content-Length {value[:40]!r}")
            if len(item.lstrip(b"0")) > MAX_LENGTH_DIGITS:
                raise error(f"Content-Length too large: {value[:40]!r}")
            lengths.add(int(item))
    if len(lengths) != 1:
        raise error(f"differing Content-Length values: {b', '.join(values)!r}")
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


def keep_alive(values: list[bytes], http11: bool) -> bool:
    """Whether a message with these Connection field values allows another one after
    it: RFC 9112 §9.3 for 1.1 (persistent unless ``close``); RFC 1945's keep-alive
    extension for 1.0 (closed unless ``keep-alive``)."""
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


HOP_BY_HOP_FIELDS = frozenset(
    {b"connection", b"proxy-connection", b"keep-alive", b"te", b"transfer-encoding", b"upgrade"}
)
"""The connection-specific field names (lower-case) that RFC 9110 §7.6.1 has an
intermediary remove before forwarding: "Proxy-Connection ..., Keep-Alive ..., TE ...,
Transfer-Encoding ..., Upgrade", and Connection itself, with every field that a
Connection field names (``connection_tokens``). They describe one connection, never the
message: a gateway (WSGI, a proxy) drops them from what it passes on, and the core
writes the framing and the Connection field of what it sends itself. PEP 3333's list
(``wsgiref.util.is_hop_by_hop``) adds RFC 2616's Proxy-Authenticate,
Proxy-Authorization and Trailers to these."""


def _one_framing(te: list[bytes], cl: list[bytes], what: str, error: Error) -> None:
    # RFC 9112 §6.1: "A sender MUST NOT send a Content-Length header field in any
    # message that contains a Transfer-Encoding header field"; §6.3 rule 3: a recipient
    # that gets both ought to treat it as an error (smuggling, §11.2).
    if te and cl:
        raise error(f"{what} has both Content-Length and Transfer-Encoding")


def request_body(
    version: bytes, method: bytes, te: list[bytes], cl: list[bytes], error: Error
) -> int:
    """The body length of a request with these Transfer-Encoding and Content-Length
    field values (0 for none), or ``CHUNKED``; raise if its framing is refused."""
    if te:
        _one_framing(te, cl, "request", error)
        if version == b"1.0":
            raise error("Transfer-Encoding in an HTTP/1.0 request")
        codings = transfer_codings(te)
        if codings[-1:] != [b"chunked"]:
            raise error(f"request's final transfer coding is not chunked: {b', '.join(te)!r}")
        if len(codings) > 1:
            if b"chunked" in codings[:-1]:
                raise error("request applies chunked more than once")
            raise error(f"unsupported transfer coding {codings[0].decode('latin-1')!r}", 501)
        return CHUNKED
    if cl:
        return content_length(cl, error)
    if version == b"1.0" and method in BODY_METHODS:
        raise length_required(method, error)
    return 0


def length_required(method: bytes, error: Error) -> ProtocolError:
    """The 411 for an HTTP/1.0 request whose method has a body (``BODY_METHODS``) and
    that has no Content-Length. RFC 1945 §7.2.2 and §8.3: "A valid Content-Length is
    required on all HTTP/1.0 POST requests." Without it the body cannot be told apart
    from what follows."""
    return error(f"HTTP/1.0 {method.decode('latin-1')} request without Content-Length", 411)


SINGLE_VALUED = (b"content-type", b"content-range")
"""Fields that say how a message's content is to be read, and that take one value
(RFC 9110 §8.3, §14.4): two different values of one of them are refused, as differing
Content-Length values are, since two recipients that each take a different one read
the same bytes as different content. RFC 9110 §5.3: "A sender MUST NOT generate
multiple field lines with the same name in a message ... unless that field's definition
allows multiple field line values to be recombined as a comma-separated list". Other
single-valued fields (User-Agent, Referer, Date ...) carry semantics the core does not
act on; they are passed through, every line as received."""


def check_single_valued(name: bytes, values: list[bytes], error: Error) -> None:
    """Raise ``error`` if ``values`` (of the field ``name``, one of ``SINGLE_VALUED``)
    are not all the same; repeating one value is harmless, as for Content-Length."""
    if len(values) > 1 and len(set(values)) > 1:
        shown = b", ".join(values)[:80].decode("latin-1")
        raise error(f"{name.decode('latin-1')} sent more than once, with different values: {shown}")


def check_response_framing(
    status: int, request_method: bytes | None, te: list[bytes], cl: list[bytes], error: Error
) -> None:
    """What a server may not send, even where a client would ignore it (RFC 9110 §8.6,
    §9.3.6, RFC 9112 §6.1-§6.3): both fields, framing fields on a 204 or on a 2xx to
    CONNECT, Transfer-Encoding on a 304, a final coding other than chunked, or a
    Content-Length that is not one."""
    if (te or cl) and request_method == b"CONNECT" and 200 <= status <= 299:
        raise error("a 2xx response to CONNECT cannot have Content-Length or Transfer-Encoding")
    if te:
        _one_framing(te, cl, "response", error)
        if status == 204 or status == 304:
            raise error(f"a {status} response cannot have Transfer-Encoding")
        if transfer_codings(te)[-1:] != [b"chunked"]:
            raise error("a response's final transfer coding must be chunked")
    elif cl:
        if status == 204:
            raise error("a 204 response cannot have Content-Length")
        content_length(cl, error)


NO_SWITCH: frozenset[EventType] = frozenset()
_UPGRADE = frozenset({SwitchUpgrade})
_CONNECT = frozenset({SwitchConnect})


def switch_proposals(method: bytes, http11: bool, upgrade: bool) -> frozenset[EventType]:
    """The protocol switches a request proposes: ``CONNECT`` opens a tunnel (RFC 9110
    §9.3.6); an ``Upgrade`` field asks for another protocol, but only in HTTP/1.1 (§7.8:
    "A server that receives an Upgrade header field in an HTTP/1.0 request MUST ignore
    that Upgrade field")."""
    proposals = _CONNECT if method == b"CONNECT" else NO_SWITCH
    if upgrade and http11:
        proposals |= _UPGRADE
    return proposals


def request_has_body(headers: Headers) -> bool:
    """Whether a request the core has read (its ``Request.headers``) has content (RFC
    9112 §6.3 rules 4 to 6): a Transfer-Encoding, or a Content-Length that is not zero
    (``0``, ``00`` and ``0, 0`` are all zero). Headers the core has not checked may
    raise ``LocalProtocolError`` for a malformed length."""
    lengths = []
    for name, value in headers:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            lengths.append(value)
    return bool(lengths) and content_length(lengths, LocalProtocolError) > 0


def response_has_body(request_method: bytes | None, status: int) -> bool:
    """Whether a response with ``status`` to a request with ``request_method`` has a
    body, whatever its fields say (RFC 9112 §6.3 rules 1 and 2): never after HEAD, and
    never with a 1xx, 204 or 304 status; a 2xx to CONNECT is followed by a tunnel, not a
    body. ``request_method`` is ``None`` when unknown."""
    if request_method == b"HEAD" or status == 204 or status == 304 or status < 200:
        return False
    return request_method != b"CONNECT" or status >= 300


def response_body(
    version: bytes,
    status: int,
    request_method: bytes | None,
    te: list[bytes],
    cl: list[bytes],
    error: Error,
) -> int:
    """The body length of a final response with these Transfer-Encoding and
    Content-Length field values: 0 for none, ``CHUNKED`` or ``CLOSE_DELIMITED``
    (RFC 9112 §6.3); raise if its framing is refused."""
    if not response_has_body(request_method, status):
        return 0  # whatever the fields say
    if te:
        _one_framing(te, cl, "response", error)
        if version != b"1.1":
            raise error("Transfer-Encoding in an HTTP/1.0 response")
        # Rule 4: a final coding other than chunked is delimited by closing.
        return CHUNKED if transfer_codings(te)[-1:] == [b"chunked"] else CLOSE_DELIMITED
    if cl:
        return content_length(cl, error)
    # Rule 8: delimited by close; this also carries a CONNECT tunnel's bytes.
    return CLOSE_DELIMITED


# RFC 9110 §6.5.1: "Many fields cannot be processed outside the header section because
# their evaluation is necessary prior to receiving the content, such as those that
# describe message framing, routing, authentication, request modifiers, response
# controls, or content format. A sender MUST NOT generate a trailer field unless the
# sender knows the corresponding header field name's definition permits the field to be
# sent in trailers." These are the fields of those kinds that RFC 9110, 9111 and 9112
# (and RFC 6265 for cookies) define, by kind; every conditional ("If-...", RFC 9110
# §13.1) is one too, whatever its name.
_NOT_IN_TRAILERS = frozenset(
    {
        # framing, and the connection itself (RFC 9112 §6, §7.1.2; RFC 9110 §7.6.1)
        *HOP_BY_HOP_FIELDS,
        b"content-length",
        b"trailer",
        # routing (RFC 9110 §7.2, §7.6.2)
        b"host",
        b"max-forwards",
        # authentication (RFC 9110 §11.6, §11.7) and state (RFC 6265 §4)
        b"authorization",
        b"proxy-authorization",
        b"www-authenticate",
        b"proxy-authenticate",
        b"cookie",
        b"set-cookie",
        # request modifiers: controls (RFC 9110 §10.1.1, §14.2; RFC 9111 §5.2, §5.4)
        b"expect",
        b"range",
        b"cache-control",
        b"pragma",
        # response controls (RFC 9110 §10.2.2, §10.2.3, §12.5.5; RFC 9111 §5.1, §5.3)
        b"location",
        b"retry-after",
        b"vary",
        b"age",
        b"expires",
        # content format (RFC 9110 §8.3, §8.4, §14.4)
        b"content-type",
        b"content-encoding",
        b"content-range",
    }
)


def allowed_in_trailers(name: bytes) -> bool:
    """Whether a field called ``name`` (any case) may be sent as a trailer: not one that
    RFC 9110 §6.5.1 rules out (framing, routing, authentication, request modifiers,
    response controls, content format, and every ``If-...`` conditional)."""
    name = name.lower()
    return name not in _NOT_IN_TRAILERS and not name.startswith(b"if-")


def check_trailers(trailers: Headers, error: Error) -> None:
    """Raise ``error`` if a trailer field is one RFC 9110 §6.5.1 rules out.

    Refused, not dropped: a sender "MUST NOT generate" such a field, so only a broken or
    a hostile peer sends one, and dropping it would lose what the peer sent without a
    word; RFC 9112 §7.1.2 lets a recipient discard trailers, but a recipient that read
    them as if they were header fields would be misled about framing, routing or the
    content's format, and an error tells it so.
    """
    for name, _ in trailers:
        if not allowed_in_trailers(name):
            raise error(
                f"{name[:40].decode('latin-1')!r} cannot be a trailer field (RFC 9110 §6.5.1)"
            )
