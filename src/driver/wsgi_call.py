"""One WSGI call: ``start_response``, the ``write`` callable, the head, and the loop-side
steps that turn them into ``Exchange`` calls.

A call runs the application (on a pool thread, or inline on the loop thread) and hands
its response to the ``Exchange`` in *steps* that always run on the loop thread:
``_head_step`` (the head, maybe the first piece, maybe the whole response),
``_write_step``, ``_file_step``, ``_end_step``, ``_error_step`` (a 500 while no head has
gone out) and ``_abort_step`` (after). Subclasses decide how a step reaches the loop
(``_post``) and how the body is pulled from the application.

The head leaves with the first non-empty piece of the body (or at the end), as PEP 3333
asks, so that an application may still replace it through ``exc_info``. When the first
piece is the whole body (the application said so with ``Content-Length``, or returned a
list), head, body and end leave in one step, and the server can send them in one write.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from .app import Exchange, FileBody, Headers, HTTPRequest, Reply
from .replies import asks_to_close
from .responses import error_reply
from .wsgi_input import ClientDisconnected

__all__ = ["Exchange", "FileWrapper", "Head", "WSGICall", "has_body", "parse_head"]

log = logging.getLogger("driver.wsgi")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Write = Callable[[bytes], None]
WSGIApp = Callable[[dict[str, Any], Callable[..., Write]], Iterable[bytes]]


# PEP 3333's hop-by-hop headers: framing and persistence are the server's business
# (a Connection field that says close is passed on: the server honours it).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# RFC 9110 §5.1: field-name = token; §5.5: field-value = VCHAR / obs-text / SP / HTAB.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS = re.compile(r"([1-9][0-9][0-9])(?: (.*))?\Z", re.DOTALL)
_NO_BODY_STATUS = frozenset({204, 304})


def has_body(request: HTTPRequest) -> bool:
    """Whether the request has a body to read (RFC 9112 §6.3: a request has one only
    if it says so, with Transfer-Encoding or a non-zero Content-Length)."""
    for name, value in request.headers:
        if name == b"content-length":
            return value != b"0"
        if name == b"transfer-encoding":
            return True
    return False


class Head:
    """A response head as the application gave it, converted for the ``Exchange``."""

    __slots__ = ("content_length", "headers", "reason", "status")

    def __init__(self, status: int, reason: bytes, headers: Headers, length: int | None) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content_length = length

    def with_length(self, length: int) -> Headers:
        """The headers, with a Content-Length of ``length`` unless the application set
        one or the status forbids one (1xx, 204, 304)."""
        if self.content_length is not None or self.status < 200:
            return self.headers
        if self.status in _NO_BODY_STATUS:
            return self.headers
        return (*self.headers, (b"Content-Length", b"%d" % length))


# Conversions of statuses and header fields seen before: most responses repeat them
# (Content-Type, Cache-Control, ...), and a dict lookup is several times cheaper than
# checking and encoding again. Bounded: only short items, and cleared when full.
_STATUSES: dict[str, tuple[int, bytes]] = {}
_FIELDS: dict[tuple[str, str], tuple[tuple[bytes, bytes], int] | None] = {}
_CACHE_LIMIT = 2048
_CACHED_VALUE_SIZE = 200


def _status(status: object) -> tuple[int, bytes]:
    if type(status) is not str:
        raise TypeError(f"status must be a str, got {status!r}")
    cached = _STATUSES.get(status)
    if cached is not None:
        return cached
    match = _STATUS.match(status)
    if match is None or _CTL.search(status):
        raise ValueError(f"invalid status line {status!r}: expected '200 OK'")
    result = int(match.group(1)), (match.group(2) or "").strip().encode("latin-1")
    if len(_STATUSES) >= _CACHE_LIMIT:
        _STATUSES.clear()
    _STATUSES[status] = result
    return result


def _field(item: object) -> tuple[tuple[bytes, bytes], int] | None:
    """One header field converted, with its Content-Length (-1 if it is another
    field), or None for a hop-by-hop field."""
    if type(item) is not tuple or len(item) != 2:
        raise TypeError(f"header {item!r} is not a (name, value) tuple")
    name, value = item
    if type(name) is not str or type(value) is not str:
        raise TypeError(f"header {item!r}: name and value must be str")
    if not _TOKEN.match(name):
        raise ValueError(f"invalid header name {name!r}")
    if _CTL.search(value):
        raise ValueError(f"invalid character in the value of header {name!r}: {value!r}")
    lower = name.lower()
    result: tuple[tuple[bytes, bytes], int] | None = None
    if lower not in _HOP_BY_HOP:
        stripped = value.strip(" \t")
        length = -1
        if lower == "content-length":
            if not stripped.isdigit() or not stripped.isascii():
                raise ValueError(f"invalid Content-Length {value!r}")
            length = int(stripped)
        result = (lower.encode("ascii"), stripped.encode("latin-1")), length
    elif lower == "connection" and asks_to_close(value.encode("latin-1")):
        result = (b"connection", b"close"), -1
    if len(value) <= _CACHED_VALUE_SIZE:
        if len(_FIELDS) >= _CACHE_LIMIT:
            _FIELDS.clear()
        _FIELDS[item] = result
    return result


def parse_head(status: object, headers: object) -> Head:
    """Check and convert ``start_response``'s arguments (ValueError/TypeError if bad).

    Values are stripped of surrounding spaces and tabs, as a client's parser would (they
    are not part of the value, RFC 9110 §5.5); hop-by-hop fields are dropped."""
    code, reason = _status(status)
    if type(headers) is not list:
        raise TypeError(f"headers must be a list of (name, value) tuples, got {headers!r}")
    converted: list[tuple[bytes, bytes]] = []
    length: int | None = None
    fields = _FIELDS
    for item in headers:
        try:
            known = fields[item]
        except (KeyError, TypeError):  # new, or not a (hashable) tuple at all
            known = _field(item)
        if known is not None:
            converted.append(known[0])
            if known[1] >= 0:
                length = known[1]
    return Head(code, reason, tuple(converted), length)


class FileWrapper:
    """``wsgi.file_wrapper``: a file to send as the body. A regular file with a real
    descriptor goes out with ``sendfile`` from its current position; anything else is
    read in ``blksize`` pieces."""

    def __init__(self, filelike: Any, blksize: int = 64 * 1024) -> None:
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        data: bytes = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    def file_range(self) -> tuple[int, int, int] | None:
        """(descriptor, offset, bytes left) if the file can go out with sendfile."""
        try:
            fd = self.filelike.fileno()
            if not isinstance(fd, int) or fd < 0:
                return None
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            offset = self.filelike.tell()
        except (AttributeError, OSError, ValueError):
            return None
        if not isinstance(offset, int):
            return None
        return fd, offset, max(0, info.st_size - offset)


class WSGICall:
    """The response side of one WSGI call; subclasses run the application."""

    __slots__ = (
        "app",
        "ended",
        "exchange",
        "failed",
        "gone",
        "head",
        "head_posted",
        "result",
        "single",
    )

    def __init__(self, app: WSGIApp, exchange: Exchange) -> None:
        self.app = app
        self.exchange = exchange
        self.head: Head | None = None
        self.head_posted = False  # the head has been handed to the loop
        self.ended = False  # the whole response has been handed to the loop
        self.failed = False
        self.gone = False  # the connection closed: stop producing
        self.result: Iterable[bytes] | None = None
        self.single = False  # the result says it has one item (its first is the body)

    # -- how steps reach the loop (subclasses) ---------------------------------------

    def _post(self, step: Callable[..., None], *args: Any) -> None:
        raise NotImplementedError

    def _send(self, data: bytes) -> None:
        """A body piece after the head (may block in the threaded call)."""
        raise NotImplementedError

    def _finished(self) -> None:
        """The loop-side end of the call: the request body is no longer wanted."""

    # -- PEP 3333 callables ------------------------------------------------------------

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Write:
        if exc_info is not None:
            try:
                if self.head_posted:
                    # Too late to replace the head: the error goes up to the server,
                    # which aborts the connection.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.head is not None:
            raise AssertionError("start_response called a second time without exc_info")
        self.head = parse_head(status, headers)
        return self.write

    def write(self, data: bytes) -> None:
        """PEP 3333's ``write()`` callable (for old-style applications)."""
        if type(data) is not bytes:
            raise TypeError(f"write() takes bytes, got {type(data).__name__}")
        if self.gone:
            raise ClientDisconnected("the client closed the connection")
        if not self.head_posted:
            self._post_head(data, complete=False)
        elif data:
            self._send(data)

    # -- the body, piece by piece ------------------------------------------------------

    def _take_head(self) -> Head:
        head = self.head
        if head is None:
            raise RuntimeError("the WSGI application did not call start_response")
        self.head_posted = True
        return head

    def _post_head(self, data: bytes, complete: bool) -> None:
        head = self._take_head()
        if complete:
            self.ended = True
            self._post(self._head_step, head.status, head.with_length(len(data)), head, data, True)
        else:
            self._post(self._head_step, head.status, head.headers, head, data, False)

    def _piece(self, chunk: bytes) -> None:
        """One item of the application's iterable."""
        if type(chunk) is not bytes:
            raise TypeError(f"the WSGI iterable yielded {type(chunk).__name__}, not bytes")
        if not chunk:
            return
        if not self.head_posted:
            head = self.head
            if head is None:
                raise RuntimeError("the WSGI application did not call start_response")
            complete = self.single or head.content_length == len(chunk)
            self._post_head(chunk, complete=complete)
        elif self.ended:
            raise RuntimeError("the WSGI iterable yielded more than its length said")
        else:
            self._send(chunk)

    def _iterating(self, result: Iterable[bytes]) -> Iterator[bytes]:
        """Start iterating ``result``. One that has a length of 1 (as waitress and
        gunicorn check) holds the whole body in its first item."""
        try:
            self.single = len(result) == 1  # type: ignore[arg-type]
        except Exception:
            self.single = False
        return iter(result)

    def _shortcut(self, result: Iterable[bytes]) -> bool:
        """Send ``result`` in one step if it can be (a list or tuple, or a file with a
        descriptor), unless ``write()`` has already begun the body."""
        if self.head_posted:
            return False
        if type(result) is list or type(result) is tuple:
            self._whole(result)
            return True
        return isinstance(result, FileWrapper) and self._file(result)

    def _whole(self, result: list[bytes] | tuple[bytes, ...]) -> None:
        """A list or tuple is the whole body: one step, with a Content-Length."""
        for chunk in result:
            if type(chunk) is not bytes:
                raise TypeError(f"the WSGI iterable holds {type(chunk).__name__}, not bytes")
        self._post_head(b"".join(result), complete=True)

    def _file(self, wrapper: FileWrapper) -> bool:
        """Send a ``wsgi.file_wrapper`` result with sendfile if it has a real file."""
        where = wrapper.file_range()
        if where is None:
            return False
        fd, offset, count = where
        head = self._take_head()
        if head.content_length is not None:
            count = min(count, head.content_length)
        # The application closes its file when the call ends, maybe before the loop
        # gets to send it: the server gets a descriptor of its own (and closes it).
        fd = os.dup(fd)
        self.ended = True
        self._post(self._file_step, head.status, head.with_length(count), head, fd, offset, count)
        return True

    def _end(self) -> None:
        """The iterable is exhausted."""
        if not self.head_posted:
            self._post_head(b"", complete=True)
        elif not self.ended:
            self.ended = True
            self._post(self._end_step)

    def _fail(self, exc: BaseException) -> None:
        """The application raised ``exc`` (or an error in its result)."""
        request = self.exchange.request
        what = f"{request.method.decode('latin-1')} {request.target.decode('latin-1')!r}"
        if self.gone:
            log.info("client went away during %s (%s: %s)", what, type(exc).__name__, exc)
            return
        if self.failed:
            log.error("WSGI application error on %s", what, exc_info=exc)
            return
        self.failed = True
        if self.ended:
            # The response is complete (an error from close(), or data past the
            # Content-Length, which is dropped): nothing to repair.
            log.error("WSGI application error after its response on %s", what, exc_info=exc)
            return
        log.error("WSGI application error on %s", what, exc_info=exc)
        if self.head_posted:
            self._post(self._abort_step)
        else:
            self._post(self._error_step)
        self.ended = True
        self.head_posted = True

    def _close_result(self) -> None:
        result = self.result
        self.result = None
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except BaseException as exc:
                self._fail(exc)

    # -- steps: these run on the loop thread -------------------------------------------

    def _head_step(
        self, status: int, headers: Headers, head: Head, data: bytes, complete: bool
    ) -> None:
        exchange = self.exchange
        if complete:
            # One call, one buffer: the server writes head and body in one send.
            exchange.respond(Reply(status, headers, data, head.reason))
            self._finished()
            return
        # A head the server refuses (the core's checks) is answered 500 by the server,
        # and the exchange ignores what follows.
        exchange.start_response(status, headers, head.reason)
        if data:
            self._write_step(data)

    def _write_step(self, data: bytes) -> None:
        self.exchange.write(data)

    def _file_step(
        self, status: int, headers: Headers, head: Head, fd: int, offset: int, count: int
    ) -> None:
        exchange = self.exchange
        exchange.start_response(status, headers, head.reason)
        exchange.send_file(FileBody(fd, offset, count))  # closes fd, also when not sent
        exchange.end()
        self._finished()

    def _end_step(self) -> None:
        self.exchange.end()
        self._finished()

    def _error_step(self) -> None:
        self.exchange.respond(error_reply(500))
        self._finished()

    def _abort_step(self) -> None:
        self.exchange.abort()
        self._finished()

    def _stop(self) -> None:
        """The connection is gone: the producer stops (loop thread)."""
        self.gone = True
