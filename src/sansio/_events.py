"""The typed events that cross the core's boundary, in both directions.

Events are frozen, slotted dataclasses so that they are cheap, immutable and hashable.
Headers are tuples of ``(name, value)`` byte pairs: names lower-cased, values with the
surrounding whitespace removed, in wire order.

Events built by user code are checked and normalised as they are built, as h11 does:
bytes-like fields become ``bytes``, headers (any iterable of pairs) become a tuple of
``(bytes, bytes)`` tuples, and a wrong type is a ``TypeError`` naming the field, here
rather than deep inside ``send``. What the grammar allows (a token, no CR or LF, a
status in range) is ``send``'s to check: it raises ``LocalProtocolError`` and writes
nothing. The parser builds its events from bytes it has already validated, through the
``parsed_*`` functions below, which skip the checks.

The events have hand-written ``__init__`` methods that store through the slot
descriptors: a frozen dataclass's generated ``__init__`` goes through
``object.__setattr__`` and costs about twice as much.

``raw_names`` (on the head events and ``EndOfMessage``) holds the field names exactly as
received, for a connection made with ``keep_raw_names=True``, and is ``None`` everywhere
else; it takes no part in ``==``, ``hash`` or ``repr``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = [
    "BytesLike",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "Headers",
    "HeadersLike",
    "InformationalResponse",
    "RawNames",
    "Request",
    "Response",
    "parsed_data",
    "parsed_end_of_message",
    "parsed_informational",
    "parsed_request",
    "parsed_response",
]

Headers = tuple[tuple[bytes, bytes], ...]
BytesLike = bytes | bytearray | memoryview
"""What user code may pass for a bytes field; the event stores ``bytes``."""
HeadersLike = Iterable[tuple[BytesLike, BytesLike]]
"""What user code may pass as headers: any iterable of (name, value) pairs of bytes-like
objects; the event stores it as ``Headers``."""
RawNames = tuple[bytes, ...]
"""Field names exactly as received, one per field of ``headers``, in the same order."""

_RAW_NAMES = field(default=None, compare=False, repr=False)


class Event:
    """Base class of every event."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, init=False)
class Request(Event):
    """A request head: ``method`` and ``target`` as sent, ``http_version`` like ``b"1.0"``."""

    method: bytes
    target: bytes
    headers: Headers = ()
    http_version: bytes = b"1.0"
    raw_names: RawNames | None = _RAW_NAMES

    def __init__(
        self,
        method: BytesLike,
        target: BytesLike,
        headers: HeadersLike = (),
        http_version: BytesLike = b"1.0",
        raw_names: Iterable[BytesLike] | None = None,
    ) -> None:
        _set_method(self, _bytes(method, "Request.method"))
        _set_target(self, _bytes(target, "Request.target"))
        _set_request_headers(self, fields := _headers(headers, "Request"))
        _set_request_version(self, _bytes(http_version, "Request.http_version"))
        _set_request_raw(
            self, None if raw_names is None else _raw_names(raw_names, fields, "Request")
        )


@dataclass(frozen=True, slots=True, init=False)
class InformationalResponse(Event):
    """A 1xx response head. No body and no ``EndOfMessage`` follow it."""

    status_code: int
    headers: Headers = ()
    http_version: bytes = b"1.1"
    reason: bytes = b""
    raw_names: RawNames | None = _RAW_NAMES

    def __init__(
        self,
        status_code: int,
        headers: HeadersLike = (),
        http_version: BytesLike = b"1.1",
        reason: BytesLike = b"",
        raw_names: Iterable[BytesLike] | None = None,
    ) -> None:
        _set_info_status(self, _status(status_code, "InformationalResponse"))
        _set_info_headers(self, fields := _headers(headers, "InformationalResponse"))
        _set_info_version(self, _bytes(http_version, "InformationalResponse.http_version"))
        _set_info_reason(self, _bytes(reason, "InformationalResponse.reason"))
        _set_info_raw(
            self,
            None if raw_names is None else _raw_names(raw_names, fields, "InformationalResponse"),
        )


@dataclass(frozen=True, slots=True, init=False)
class Response(Event):
    """A final (2xx-5xx) response head."""

    status_code: int
    headers: Headers = ()
    http_version: bytes = b"1.0"
    reason: bytes = b""
    raw_names: RawNames | None = _RAW_NAMES

    def __init__(
        self,
        status_code: int,
        headers: HeadersLike = (),
        http_version: BytesLike = b"1.0",
        reason: BytesLike = b"",
        raw_names: Iterable[BytesLike] | None = None,
    ) -> None:
        _set_status(self, _status(status_code, "Response"))
        _set_response_headers(self, fields := _headers(headers, "Response"))
        _set_response_version(self, _bytes(http_version, "Response.http_version"))
        _set_reason(self, _bytes(reason, "Response.reason"))
        _set_response_raw(
            self, None if raw_names is None else _raw_names(raw_names, fields, "Response")
        )


@dataclass(frozen=True, slots=True, init=False)
class Data(Event):
    """A piece of a message body, already stripped of any chunked framing.

    User code may give any bytes-like object (a ``memoryview`` of a mapped file, say);
    it is kept as given, not copied.
    """

    data: bytes

    def __init__(self, data: BytesLike) -> None:
        if type(data) is not bytes and not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"Data needs bytes, not {type(data).__name__}")
        _set_data(self, data)  # as given: a copy would defeat a memoryview


@dataclass(frozen=True, slots=True, init=False)
class EndOfMessage(Event):
    """The end of a message body; ``headers`` holds the trailer fields of a chunked body."""

    headers: Headers = ()
    raw_names: RawNames | None = _RAW_NAMES

    def __init__(
        self, headers: HeadersLike = (), raw_names: Iterable[BytesLike] | None = None
    ) -> None:
        _set_trailers(self, fields := _headers(headers, "EndOfMessage") if headers else ())
        _set_trailers_raw(
            self, None if raw_names is None else _raw_names(raw_names, fields, "EndOfMessage")
        )


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer closed its side of the connection (``receive_data(b"")``)."""


# -- checks and normalisation for events built by user code -----------------------------


def _bytes(value: object, what: str) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, BytesLike):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {type(value).__name__}: {value!r:.60}")


def _status(value: object, what: str) -> int:
    if type(value) is not int:  # not a bool, not a str: both are common slips
        raise TypeError(f"{what}.status_code must be an int, not {type(value).__name__}")
    return value


def _headers(headers: object, what: str) -> Headers:
    if type(headers) is tuple:
        for pair in headers:
            if (
                type(pair) is not tuple
                or len(pair) != 2
                or type(pair[0]) is not bytes
                or type(pair[1]) is not bytes
            ):
                break
        else:
            return headers  # the common case: already a tuple of pairs of bytes
    if isinstance(headers, _NOT_A_PAIR) or not isinstance(headers, Iterable):
        raise TypeError(
            f"{what} headers must be (name, value) pairs of bytes, "
            f"not {type(headers).__name__}: {headers!r:.60}"
        )
    out = []
    for pair in headers:
        items = (
            () if isinstance(pair, _NOT_A_PAIR) or not isinstance(pair, Iterable) else tuple(pair)
        )
        if len(items) != 2:
            raise TypeError(
                f"{what} headers must be (name, value) pairs of bytes, got {pair!r:.60}"
            )
        name, value = items
        out.append((_bytes(name, f"a {what} header name"), _bytes(value, f"a {what} header value")))
    return tuple(out)


_NOT_A_PAIR = str | bytes | bytearray | memoryview  # iterable, but not as (name, value)


def _raw_names(names: object, headers: Headers, what: str) -> RawNames:
    if isinstance(names, _NOT_A_PAIR) or not isinstance(names, Iterable):
        raise TypeError(
            f"{what}.raw_names must be an iterable of bytes, not {type(names).__name__}"
        )
    out = tuple(_bytes(name, f"a {what}.raw_names item") for name in names)
    if len(out) != len(headers):
        raise ValueError(f"{what}.raw_names has {len(out)} names for {len(headers)} header fields")
    for raw, (name, _) in zip(out, headers):
        if raw.lower() != name.lower():
            raise ValueError(f"{what}.raw_names item {raw!r} does not name the field {name!r}")
    return out


# -- events the parser builds from validated bytes: no checks ---------------------------

_new = object.__new__


def _slot_setter(cls: type, name: str) -> Callable[[object, object], None]:
    setter: Callable[[object, object], None] = vars(cls)[name].__set__
    return setter


_set_method = _slot_setter(Request, "method")
_set_target = _slot_setter(Request, "target")
_set_request_headers = _slot_setter(Request, "headers")
_set_request_version = _slot_setter(Request, "http_version")
_set_info_status = _slot_setter(InformationalResponse, "status_code")
_set_info_headers = _slot_setter(InformationalResponse, "headers")
_set_info_version = _slot_setter(InformationalResponse, "http_version")
_set_info_reason = _slot_setter(InformationalResponse, "reason")
_set_status = _slot_setter(Response, "status_code")
_set_response_headers = _slot_setter(Response, "headers")
_set_response_version = _slot_setter(Response, "http_version")
_set_reason = _slot_setter(Response, "reason")
_set_data = _slot_setter(Data, "data")
_set_trailers = _slot_setter(EndOfMessage, "headers")
_set_request_raw = _slot_setter(Request, "raw_names")
_set_info_raw = _slot_setter(InformationalResponse, "raw_names")
_set_response_raw = _slot_setter(Response, "raw_names")
_set_trailers_raw = _slot_setter(EndOfMessage, "raw_names")


def parsed_request(
    method: bytes, target: bytes, headers: Headers, version: bytes, raw_names: RawNames | None
) -> Request:
    event: Request = _new(Request)
    _set_method(event, method)
    _set_target(event, target)
    _set_request_headers(event, headers)
    _set_request_version(event, version)
    _set_request_raw(event, raw_names)
    return event


def parsed_informational(
    status: int, headers: Headers, version: bytes, reason: bytes, raw_names: RawNames | None
) -> InformationalResponse:
    event: InformationalResponse = _new(InformationalResponse)
    _set_info_status(event, status)
    _set_info_headers(event, headers)
    _set_info_version(event, version)
    _set_info_reason(event, reason)
    _set_info_raw(event, raw_names)
    return event


def parsed_response(
    status: int, headers: Headers, version: bytes, reason: bytes, raw_names: RawNames | None
) -> Response:
    event: Response = _new(Response)
    _set_status(event, status)
    _set_response_headers(event, headers)
    _set_response_version(event, version)
    _set_reason(event, reason)
    _set_response_raw(event, raw_names)
    return event


def parsed_data(data: bytes) -> Data:
    event: Data = _new(Data)
    _set_data(event, data)
    return event


def parsed_end_of_message(trailers: Headers, raw_names: RawNames | None) -> EndOfMessage:
    event: EndOfMessage = _new(EndOfMessage)
    _set_trailers(event, trailers)
    _set_trailers_raw(event, raw_names)
    return event
