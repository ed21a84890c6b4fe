"""The server's own small responses: errors, ``100 Continue``, and the last resort.

Error replies are built once per status and reused; ``error_response`` is one on the
wire, with ``Connection: close``. ``fallback_bytes`` is for the one case the core
cannot serialise: a 408 to a client that has not sent a request yet (there is no
request to answer, so the core's state machine has nothing to send).
"""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from typing import Final

import sansio
from sansio import Data, EndOfMessage, InformationalResponse, LocalProtocolError, Response

from .app import Reply
from .reply_events import response_headers

__all__ = ["CONTINUE", "error_reply", "error_response", "fallback_bytes", "reason"]

CONTINUE: Final = InformationalResponse(100, (), b"1.1", b"Continue")
_EOM: Final = EndOfMessage()


def reason(status: int) -> str:
    """The standard reason phrase of ``status`` ("Unknown" if there is none)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@cache
def error_reply(status: int) -> Reply:
    """A small plain-text reply such as ``404 Not Found\\n``."""
    body = f"{status} {reason(status)}\n".encode()
    return Reply(status, ((b"Content-Type", b"text/plain; charset=utf-8"),), body)


def fallback_bytes(status: int, date: bytes) -> bytes:
    """A complete ``HTTP/1.0`` error response (with ``Date``) that closes the connection."""
    body = error_reply(status).body
    assert isinstance(body, bytes)
    return (
        b"HTTP/1.0 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nDate: %s\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (status, reason(status).encode(), date, len(body), body)
    )


def error_response(conn: sansio.Connection, status: int, date: bytes) -> tuple[bytes, int]:
    """The error reply ``status`` serialised by ``conn``, with ``Connection: close`` (the
    connection closes after it: say so, RFC 9112 §9.6; given a "close" option the core
    writes Connection: close and ends keep-alive), and the length of its body. When the
    core has no request to answer, the same reply from ``fallback_bytes``."""
    reply = error_reply(status)
    body = reply.body
    assert isinstance(body, bytes)
    try:
        headers, _, _ = response_headers(status, reply.headers, date)
        headers += ((b"Content-Length", b"%d" % len(body)), (b"Connection", b"close"))
        out = conn.send(Response(status, tuple(headers), b"1.0"))
        out += conn.send(Data(body)) + conn.send(_EOM)
    except LocalProtocolError:
        out = fallback_bytes(status, date)
    return out, len(body)
