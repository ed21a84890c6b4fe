"""The application interface: one complete request in, one reply out.

An application is any callable ``app(request) -> Reply``. It runs on the loop's thread,
after the whole request body has arrived, and must not block for long. The reply is
a status, headers and either a ``bytes`` body or a ``FileBody`` (an open descriptor,
sent with ``os.sendfile`` and closed by the server). The server adds the framing
(``Content-Length``), the ``Connection`` header and the HTTP version; it drops the body
of a HEAD request and of 204/304 replies. A reply is immutable, so an application may
return the same object for every request (the hello handler does).

Example::

    import driver

    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, ((b"content-type", b"text/plain"),), b"hi\\n")

    driver.serve(app, driver.Config(port=8080))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["App", "FileBody", "HTTPRequest", "Headers", "Reply"]

Headers = tuple[tuple[bytes, bytes], ...]


class HTTPRequest(NamedTuple):
    """A complete request, as the application sees it (immutable; a named tuple
    because it is built for every request and a tuple is the cheapest record)."""

    method: bytes
    """``b"GET"``, ``b"HEAD"``, ... as sent (methods are case-sensitive)."""
    target: bytes
    """The request target as sent, e.g. ``b"/a%20b?x=1"``."""
    headers: Headers
    """Header fields: lower-cased names, stripped values, wire order."""
    http_version: bytes
    """``b"1.0"`` or ``b"1.1"``."""
    body: bytes
    """The whole request body (empty if none)."""
    client: tuple[str, int]
    """The peer's address and port."""

    def header(self, name: bytes, default: bytes | None = None) -> bytes | None:
        """The first value of header ``name`` (lower-case), or ``default``."""
        for key, value in self.headers:
            if key == name:
                return value
        return default


@dataclass(frozen=True, slots=True)
class FileBody:
    """``count`` bytes of the open descriptor ``fd`` from ``offset``; the server closes
    ``fd`` once they are sent (or the connection dies)."""

    fd: int
    offset: int
    count: int


@dataclass(frozen=True, slots=True)
class Reply:
    """What an application answers. ``Content-Length`` is added unless present (and
    dropped from 1xx and 204 replies, which must not carry it); a ``Connection`` header
    is ignored (the server decides persistence). A malformed reply (a status outside
    100-999, a body that is not bytes-like or a ``FileBody``, headers that are not
    pairs of bytes) is logged and answered with 500."""

    status: int
    headers: Headers = ()
    body: bytes | FileBody = b""


App = Callable[[HTTPRequest], Reply]
"""An application: called once per request, on the loop's thread."""
