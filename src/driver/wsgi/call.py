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
``start_response``'s arguments are checked and converted by ``driver.wsgi.head``.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from ..app import Exchange, FileBody, Headers, Reply
from ..server_replies import error_reply
from .head import Head, parse_head
from .input import ClientDisconnected

__all__ = ["Exchange", "FileWrapper", "WSGICall"]

log = logging.getLogger("driver.wsgi")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Write = Callable[[bytes], None]
WSGIApp = Callable[[dict[str, Any], Callable[..., Write]], Iterable[bytes]]


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
        "watching",
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
        self.watching = False  # on_close done

    # -- how steps reach the loop (subclasses) ---------------------------------------

    def _post(self, step: Callable[..., None], *args: Any) -> None:
        raise NotImplementedError

    def _send(self, data: bytes) -> None:
        """A body piece after the head (may block in the threaded call)."""
        raise NotImplementedError

    def _finished(self) -> None:
        """The loop-side end of the call: the request body is no longer wanted."""

    def _connection_lost(self) -> None:
        """The connection closed (loop thread, from ``Exchange.on_close``)."""
        raise NotImplementedError

    def _watch_close(self) -> None:
        """Hear of a close (once): only calls that wait for something need to."""
        if not self.watching:
            self.watching = True
            self.exchange.on_close(self._connection_lost)

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
