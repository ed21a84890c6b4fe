"""h11's events: keyword constructors, ``str`` accepted where h11 accepts it, headers as
``Headers``, ``Data(data, chunk_start, chunk_end)``.

User-built events are converted as h11 converts them; what the grammar and HTTP's
rules allow (a token method, a Host on a 1.1 request, a status in range) is checked by
the core when the event is sent, as ``LocalProtocolError``. Events parsed from the
wire are built through ``parsed_*`` from what the core already validated, with no
checks and no conversion.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._headers import EMPTY, Headers, normalize_and_validate
from ._util import LocalProtocolError, bytesify

__all__ = [
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "InformationalResponse",
    "Request",
    "Response",
]


class Event(ABC):  # noqa: B024  # h11's base class: abstract in name only, as there
    """Base class of h11's events."""

    __slots__ = ()


@dataclass(init=False, frozen=True)
class Request(Event):
    """The start of a request: ``method``, ``target``, ``headers``, ``http_version``."""

    __slots__ = ("headers", "http_version", "method", "target")

    method: bytes
    headers: Headers
    target: bytes
    http_version: bytes

    def __init__(
        self,
        *,
        method: bytes | str,
        headers: Any,
        target: bytes | str,
        http_version: bytes | str = b"1.1",
        _parsed: bool = False,
    ) -> None:
        _set(self, "headers", normalize_and_validate(headers))
        _set(self, "method", method if _parsed else bytesify(method))
        _set(self, "target", target if _parsed else bytesify(target))
        _set(self, "http_version", http_version if _parsed else bytesify(http_version))

    __hash__ = None  # type: ignore[assignment]


@dataclass(init=False, frozen=True)
class _ResponseBase(Event):
    __slots__ = ("headers", "http_version", "reason", "status_code")

    headers: Headers
    http_version: bytes
    reason: bytes
    status_code: int

    def __init__(
        self,
        *,
        headers: Any,
        status_code: int,
        http_version: bytes | str = b"1.1",
        reason: bytes | str = b"",
        _parsed: bool = False,
    ) -> None:
        _set(self, "headers", normalize_and_validate(headers))
        if not isinstance(status_code, int):
            raise LocalProtocolError("status code must be integer")
        _set(self, "status_code", int(status_code))  # an IntEnum (HTTPStatus) becomes an int
        _set(self, "http_version", http_version if _parsed else bytesify(http_version))
        _set(self, "reason", reason if _parsed else bytesify(reason))

    __hash__ = None  # type: ignore[assignment]


@dataclass(init=False, frozen=True)
class InformationalResponse(_ResponseBase):
    """A 1xx response head; no body and no ``EndOfMessage`` follow it."""

    __slots__ = ()
    __hash__ = None


@dataclass(init=False, frozen=True)
class Response(_ResponseBase):
    """A final response head (status 200 to 999)."""

    __slots__ = ()
    __hash__ = None


@dataclass(init=False, frozen=True)
class Data(Event):
    """A piece of a body. ``chunk_start`` and ``chunk_end`` say where a piece of a
    chunked body sits in its chunk; they are ignored by ``send``."""

    __slots__ = ("chunk_end", "chunk_start", "data")

    data: bytes
    chunk_start: bool
    chunk_end: bool

    def __init__(self, data: Any, chunk_start: bool = False, chunk_end: bool = False) -> None:
        _set(self, "data", data)
        _set(self, "chunk_start", chunk_start)
        _set(self, "chunk_end", chunk_end)

    __hash__ = None  # type: ignore[assignment]


@dataclass(init=False, frozen=True)
class EndOfMessage(Event):
    """The end of a message; ``headers`` holds the trailer fields of a chunked body."""

    __slots__ = ("headers",)

    headers: Headers

    def __init__(self, *, headers: Any = None, _parsed: bool = False) -> None:
        _set(self, "headers", EMPTY if headers is None else normalize_and_validate(headers))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ConnectionClosed(Event):
    """The sender has closed its side of the connection."""


_set = object.__setattr__
_new = object.__new__


def _slot_setter(cls: type, name: str) -> Callable[[object, object], None]:
    # Through the slot descriptor: a frozen dataclass's __setattr__ refuses, and
    # object.__setattr__ costs twice as much (the core's events do the same).
    setter: Callable[[object, object], None] = vars(cls)[name].__set__
    return setter


_request_fields = [
    _slot_setter(Request, n) for n in ("method", "target", "headers", "http_version")
]
_response_fields = [
    _slot_setter(_ResponseBase, n) for n in ("status_code", "headers", "http_version", "reason")
]
_data_fields = [_slot_setter(Data, n) for n in ("data", "chunk_start", "chunk_end")]
_end_headers = _slot_setter(EndOfMessage, "headers")


def parsed_request(method: bytes, target: bytes, headers: Headers, version: bytes) -> Request:
    event: Request = _new(Request)
    set_method, set_target, set_headers, set_version = _request_fields
    set_method(event, method)
    set_target(event, target)
    set_headers(event, headers)
    set_version(event, version)
    return event


def parsed_response(
    cls: type[_ResponseBase], status: int, headers: Headers, version: bytes, reason: bytes
) -> Any:
    event = _new(cls)
    set_status, set_headers, set_version, set_reason = _response_fields
    set_status(event, status)
    set_headers(event, headers)
    set_version(event, version)
    set_reason(event, reason)
    return event


def parsed_data(data: bytes, chunk_start: bool, chunk_end: bool) -> Data:
    event: Data = _new(Data)
    set_data, set_start, set_end = _data_fields
    set_data(event, data)
    set_start(event, chunk_start)
    set_end(event, chunk_end)
    return event


def parsed_end_of_message(headers: Headers) -> EndOfMessage:
    event: EndOfMessage = _new(EndOfMessage)
    _end_headers(event, headers)
    return event
