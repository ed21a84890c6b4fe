"""The typed events that cross the core's boundary, in both directions.

Events are frozen, slotted dataclasses so that they are cheap, immutable and hashable.
Headers are tuples of ``(name, value)`` byte pairs: names lower-cased, values with the
surrounding whitespace removed, in wire order. The parser builds events from bytes it has
already validated; ``Connection.send`` validates events built by callers before writing.

The hot events have hand-written ``__init__`` methods that store through the slot
descriptors: a frozen dataclass's generated ``__init__`` goes through
``object.__setattr__`` and costs about twice as much, on every request the parser reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "Headers",
    "InformationalResponse",
    "Request",
    "Response",
]

Headers = tuple[tuple[bytes, bytes], ...]


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

    def __init__(
        self, method: bytes, target: bytes, headers: Headers = (), http_version: bytes = b"1.0"
    ) -> None:
        _set_method(self, method)
        _set_target(self, target)
        _set_request_headers(self, headers)
        _set_request_version(self, http_version)


@dataclass(frozen=True, slots=True)
class InformationalResponse(Event):
    """A 1xx response head. No body and no ``EndOfMessage`` follow it."""

    status_code: int
    headers: Headers = ()
    http_version: bytes = b"1.1"
    reason: bytes = b""


@dataclass(frozen=True, slots=True, init=False)
class Response(Event):
    """A final (2xx-5xx) response head."""

    status_code: int
    headers: Headers = ()
    http_version: bytes = b"1.0"
    reason: bytes = b""

    def __init__(
        self,
        status_code: int,
        headers: Headers = (),
        http_version: bytes = b"1.0",
        reason: bytes = b"",
    ) -> None:
        _set_status(self, status_code)
        _set_response_headers(self, headers)
        _set_response_version(self, http_version)
        _set_reason(self, reason)


@dataclass(frozen=True, slots=True, init=False)
class Data(Event):
    """A piece of a message body, already stripped of any chunked framing."""

    data: bytes

    def __init__(self, data: bytes) -> None:
        _set_data(self, data)


@dataclass(frozen=True, slots=True)
class EndOfMessage(Event):
    """The end of a message body; ``headers`` holds the trailer fields of a chunked body."""

    headers: Headers = field(default=())


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer closed its side of the connection (``receive_data(b"")``)."""


def _slot_setter(cls: type, name: str) -> Callable[[object, object], None]:
    setter: Callable[[object, object], None] = vars(cls)[name].__set__
    return setter


_set_method = _slot_setter(Request, "method")
_set_target = _slot_setter(Request, "target")
_set_request_headers = _slot_setter(Request, "headers")
_set_request_version = _slot_setter(Request, "http_version")
_set_status = _slot_setter(Response, "status_code")
_set_response_headers = _slot_setter(Response, "headers")
_set_response_version = _slot_setter(Response, "http_version")
_set_reason = _slot_setter(Response, "reason")
_set_data = _slot_setter(Data, "data")
