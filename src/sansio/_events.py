"""The typed events that cross the core's boundary, in both directions.

Events are frozen, slotted dataclasses so that they are cheap, immutable and hashable.
Headers are tuples of ``(name, value)`` byte pairs: names lower-cased, values with the
surrounding whitespace removed, in wire order. The parser builds events from bytes it has
already validated; ``Connection.send`` validates events built by callers before writing.
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Request(Event):
    """A request head: ``method`` and ``target`` as sent, ``http_version`` like ``b"1.0"``."""

    method: bytes
    target: bytes
    headers: Headers = ()
    http_version: bytes = b"1.0"


@dataclass(frozen=True, slots=True)
class InformationalResponse(Event):
    """A 1xx response head. No body and no ``EndOfMessage`` follow it."""

    status_code: int
    headers: Headers = ()
    http_version: bytes = b"1.1"
    reason: bytes = b""


@dataclass(frozen=True, slots=True)
class Response(Event):
    """A final (2xx-5xx) response head."""

    status_code: int
    headers: Headers = ()
    http_version: bytes = b"1.0"
    reason: bytes = b""


@dataclass(frozen=True, slots=True)
class Data(Event):
    """A piece of a message body, already stripped of any chunked framing."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfMessage(Event):
    """The end of a message body; ``headers`` holds the trailer fields of a chunked body."""

    headers: Headers = field(default=())


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer closed its side of the connection (``receive_data(b"")``)."""
