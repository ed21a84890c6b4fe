"""The application interface: simple apps (a request in, a reply out) and streaming apps.

A simple application is any callable ``app(request) -> Reply``. It runs on the loop's
thread, after the whole request body has arrived (up to ``Config.max_body_size``; held
in memory up to the connection budget's body share, in a temporary file beyond), and
must not block for long. An application that never reads the body says so with a
``takes_body = False`` attribute (``@takes_no_body`` sets it on a function): it is
then called as soon as the head is complete, with an empty ``request.body``, and the
body is discarded while its answer goes out, never stored (static files and ``--hello``
do this); past ``driver.exchange.DISCARD_LIMIT`` (1 MiB) of discarded body, the
connection closes after the answer. The reply is a status, headers and a body: ``bytes``, a
``FileBody`` (an open descriptor, sent with ``os.sendfile`` and closed by the server),
or an iterable of ``bytes`` pulled one item at a time only while the connection's
queued output is below its high-water mark. The server adds the framing
(``Content-Length`` when the length is known, else chunked to HTTP/1.1 peers and
close-delimited to HTTP/1.0 ones), ``Date``, the ``Connection`` header and the HTTP
version; it drops the body of a HEAD request and of 204/304 replies. A reply is
immutable, so an application may return the same object for every request.

A streaming application has ``handle_exchange(exchange)``, called as soon as the
request head is complete: the ``Exchange`` delivers the body as it arrives and takes
the response in pieces, with asyncio-style flow control both ways (see
``driver.protocol`` for how both kinds are served).

Example::

    import driver

    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, ((b"content-type", b"text/plain"),), b"hi\\n")

    driver.serve(app, driver.Config(port=8080))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeVar

from .budget import Budget
from .interfaces import Loop
from .switch import SwitchedProtocol

__all__ = [
    "App",
    "Body",
    "Exchange",
    "FileBody",
    "HTTPRequest",
    "Headers",
    "Reply",
    "StreamingApp",
    "app_takes_body",
    "is_streaming",
    "takes_no_body",
]

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
    """The whole request body (empty if none, and for an app that takes none)."""
    client: tuple[str, int]
    """The client's address and port: the peer's (``("unix:", 0)`` on a Unix socket),
    or the one trusted proxies in front report (port 0 if they give none)."""
    scheme: str = "http"
    """``"https"`` when the connection speaks TLS, or a trusted proxy says the client
    used it (``driver.forwarded``)."""
    host: str | None = None
    """The ``Host`` the client asked a trusted proxy for (``X-Forwarded-Host`` or
    ``Forwarded: host=``, a port only if not the scheme's default), or ``None``: the
    request's own ``Host`` header stands."""
    server_port: int | None = None
    """The port the client connected to, as a trusted proxy says (``None``: ours)."""
    root_path: str = ""
    """``--root-path`` when the request's path is under it (the WSGI ``SCRIPT_NAME``),
    else ``""``."""
    peer: tuple[str, int] | None = None
    """The connection's own peer (the proxy) when ``client`` comes from trusted proxy
    headers, else ``None``: ``client`` is the peer."""

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


Body = bytes | bytearray | memoryview | FileBody | Iterable[bytes]
"""What a ``Reply`` may carry."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What an application answers. ``Content-Length`` is added for a bytes or file
    body unless present (and dropped from 1xx and 204 replies, which must not carry
    it); one the app set is checked against the body (a mismatch found before the head
    leaves is a 500; after, the connection is aborted). ``Connection``,
    ``Keep-Alive`` and ``Transfer-Encoding`` headers are ignored (the server decides
    framing and persistence). ``reason`` is the reason phrase (``b""``: the standard
    one). A malformed reply (a status outside 100-999, a body of another type,
    headers that are not pairs of bytes, a value with CR/LF) is logged and answered
    with 500. An iterable body is pulled on the loop thread, must not block, and its
    ``close()`` (if any) is called when it is exhausted or the connection dies."""

    status: int
    headers: Headers = ()
    body: Body = b""
    reason: bytes = b""


App = Callable[[HTTPRequest], Reply]
"""A simple application: called once per request, on the loop's thread."""

_App = TypeVar("_App")


def takes_no_body(app: _App) -> _App:
    """Declare that the simple application ``app`` never reads ``request.body`` (sets
    ``app.takes_body = False``): it is called at the end of the head, and the body is
    discarded, never stored. Returns ``app``, so it works as a decorator."""
    setattr(app, "takes_body", False)  # noqa: B010 - an attribute mypy cannot see on a function
    return app


def app_takes_body(app: object) -> bool:
    """Whether a simple application reads ``request.body``: unless it carries
    ``takes_body = False``, it does."""
    return getattr(app, "takes_body", True) is not False


class Exchange(Protocol):
    """One request and its response, handed to a streaming app (implemented by
    ``driver.protocol``). Loop thread only; every method is a silent no-op once the
    connection is gone (``closed``)."""

    request: HTTPRequest
    """The head; ``request.body`` is ``b""`` (the body streams through ``read_body``)."""
    loop: Loop
    closed: bool
    """The connection is gone (client left, timeout, shutdown grace over)."""
    budget: Budget
    """The connection's memory budget (``driver.budget``): ``budget.body`` is what an
    application should buffer of the request body before pausing it, ``budget.gather``
    the size of write worth gathering small pieces into."""

    @property
    def writing_paused(self) -> bool:
        """Queued output is above the high-water mark."""

    def read_body(self, on_data: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        """Receive the body: ``on_data(piece)`` for each non-empty piece as it arrives,
        then ``on_end()`` once (soon, if there is no body). Call at most once. The
        callbacks come from the loop, never from inside ``read_body``."""

    def pause_reading(self) -> None:
        """Stop reading the socket (the consumer is full)."""

    def resume_reading(self) -> None: ...

    def respond(self, reply: Reply) -> None:
        """The whole response at once."""

    def start_response(self, status: int, headers: Headers, reason: bytes = b"") -> None: ...

    def write(self, data: bytes) -> None:
        """A piece of the body. Small pieces are gathered (up to ``budget.gather``
        bytes, sent in the loop's next round at the latest) into one chunk and one
        ``send``. Queued even above high water: producers follow
        ``pause_writing``/``resume_writing``; beyond the budget, what a producer writes
        on regardless is spilled to a temporary file, not held in memory."""

    def send_file(self, body: FileBody) -> None:
        """A piece of the body by sendfile; the server closes the fd."""

    def end(self) -> None:
        """The response is complete."""

    def abort(self) -> None:
        """Drop the connection (the app failed after the head went out)."""

    def set_producer(
        self, pause_writing: Callable[[], None], resume_writing: Callable[[], None]
    ) -> None:
        """``pause_writing()`` when queued output rises above high water,
        ``resume_writing()`` when it drains below low water."""

    def on_close(self, callback: Callable[[], None]) -> None:
        """``callback()`` once if the connection closes before ``end()``."""

    def switch_protocol(self, protocol: SwitchedProtocol, headers: Headers = ()) -> None:
        """Answer ``101 Switching Protocols`` with ``headers`` (or ``200 Connection
        Established`` to CONNECT) once the request has ended, and hand the socket to
        ``protocol`` (asyncio-style: ``connection_made(transport)``,
        ``data_received``, ``eof_received``, ``connection_lost``; see
        ``driver.switch``). Raises if the request did not ask to switch (no
        ``Upgrade``, not CONNECT) or the response has begun."""


class StreamingApp(Protocol):
    """An application that handles each exchange as it happens."""

    def handle_exchange(self, exchange: Exchange) -> None: ...


def is_streaming(app: object) -> bool:
    """Whether ``app`` is a streaming app (it has ``handle_exchange``)."""
    return hasattr(app, "handle_exchange")
