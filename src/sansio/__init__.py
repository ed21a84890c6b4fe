"""sansio: a sans-IO HTTP/1.0 protocol core, with the HTTP/1.1 framing real clients send.

Bytes in, typed events out; events in, bytes out. No sockets, threads or clocks::

    import sansio

    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET / HTTP/1.0\\r\\n\\r\\n")
    request = conn.next_event()          # Request(method=b"GET", target=b"/", ...)
    assert conn.next_event() == sansio.EndOfMessage()
    wire = conn.send(sansio.Response(200, ((b"Content-Length", b"2"),)))
    wire += conn.send(sansio.Data(b"hi")) + conn.send(sansio.EndOfMessage())
"""

from ._connection import Connection
from ._errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from ._events import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    Headers,
    InformationalResponse,
    RawNames,
    Request,
    Response,
)
from ._framing import HOP_BY_HOP_FIELDS, allowed_in_trailers, request_has_body, response_has_body
from ._limits import Limits
from ._prepared import PreparedResponse
from ._state import (
    CLIENT,
    CLOSED,
    DONE,
    ERROR,
    IDLE,
    MIGHT_SWITCH_PROTOCOL,
    MUST_CLOSE,
    NEED_DATA,
    PAUSED,
    PEER_TRANSITIONS,
    SEND_BODY,
    SEND_RESPONSE,
    SERVER,
    SWITCHED_PROTOCOL,
    TRANSITIONS,
    Role,
    Sentinel,
    State,
)
from ._targets import target_path
from ._writers import field_error

__all__ = [
    "CLIENT",
    "CLOSED",
    "DONE",
    "ERROR",
    "HOP_BY_HOP_FIELDS",
    "IDLE",
    "MIGHT_SWITCH_PROTOCOL",
    "MUST_CLOSE",
    "NEED_DATA",
    "PAUSED",
    "PEER_TRANSITIONS",
    "SEND_BODY",
    "SEND_RESPONSE",
    "SERVER",
    "SWITCHED_PROTOCOL",
    "TRANSITIONS",
    "Connection",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "Headers",
    "InformationalResponse",
    "Limits",
    "LocalProtocolError",
    "PreparedResponse",
    "ProtocolError",
    "RawNames",
    "RemoteProtocolError",
    "Request",
    "Response",
    "Role",
    "Sentinel",
    "State",
    "allowed_in_trailers",
    "field_error",
    "request_has_body",
    "response_has_body",
    "target_path",
]

__version__ = "0.1.0"
