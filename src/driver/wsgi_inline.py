"""A WSGI call on the loop thread (``--threads 0``), for applications known not to block.

The loop must never wait, so the request body is gathered first (in memory up to
``SPOOL_SIZE``, then in a temporary file, so a large upload does not cost its size in
RAM) and the application runs once it is complete, with ``wsgi.input`` a plain file.
The response iterable is pulled on the loop thread only while the connection's output
is below its high-water mark; ``resume_writing`` schedules the next pull (through
``call_soon``, never down the stack). The ``write()`` callable cannot block here: what
it is given is queued at once.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from .app import Exchange
from .wsgi_call import WSGIApp, WSGICall, has_body
from .wsgi_input import EMPTY_INPUT

__all__ = ["SPOOL_SIZE", "InlineCall"]

SPOOL_SIZE = 1024 * 1024

EnvironFactory = Callable[[Any, object], dict[str, Any]]


class InlineCall(WSGICall):
    """One request's WSGI call, run on the loop thread."""

    __slots__ = ("_body", "_environ", "_iterator", "_pull_scheduled", "_pulling")

    def __init__(self, app: WSGIApp, exchange: Exchange, environ: EnvironFactory) -> None:
        super().__init__(app, exchange)
        self._environ = environ
        self._body: IO[bytes] | None = None
        self._iterator: Iterator[bytes] | None = None
        self._pull_scheduled = False
        self._pulling = False

    def attach(self) -> None:
        """Hook the call to its exchange; the application runs once the body is in."""
        exchange = self.exchange
        exchange.on_close(self._connection_lost)
        exchange.set_producer(_nothing, self._resume_writing)
        if has_body(exchange.request):
            exchange.read_body(self._body_data, self._body_end)
        else:
            self._body_end()

    def _body_data(self, data: bytes) -> None:
        if self._body is None:
            # Closed by _done(), when the call ends (not a with-block: it spans callbacks).
            self._body = tempfile.SpooledTemporaryFile(SPOOL_SIZE)  # noqa: SIM115
        self._body.write(data)

    def _body_end(self) -> None:
        body = self._body
        wsgi_input: object
        if body is None:
            wsgi_input = EMPTY_INPUT
        else:
            body.seek(0)
            wsgi_input = body
        self._pulling = True
        try:
            environ = self._environ(self.exchange.request, wsgi_input)
            result = self.result = self.app(environ, self.start_response)
            if not self._shortcut(result):
                self._iterator = self._iterating(result)
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._pulling = False
        if self._iterator is None or self.gone:
            self._done()
        else:
            self._pull()

    def _pull(self) -> None:
        """Pull the iterable while the connection takes more."""
        self._pull_scheduled = False
        iterator = self._iterator
        if iterator is None:
            return
        exchange = self.exchange
        self._pulling = True
        try:
            # Closed is seen here before our on_close callback has run.
            while not self.gone and not exchange.closed:
                if exchange.writing_paused:
                    return  # _resume_writing pulls again
                try:
                    chunk = next(iterator)
                except StopIteration:
                    self._end()
                    break
                self._piece(chunk)
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._pulling = False
        self._done()

    def _done(self) -> None:
        self._iterator = None
        self._close_result()
        if self._body is not None:
            self._body.close()
            self._body = None

    def _post(self, step: Callable[..., None], *args: Any) -> None:
        step(*args)  # already on the loop thread

    def _send(self, data: bytes) -> None:
        self._write_step(data)

    def _resume_writing(self) -> None:
        if self._iterator is not None and not self._pull_scheduled:
            self._pull_scheduled = True
            self.exchange.loop.call_soon(self._pull)

    def _connection_lost(self) -> None:
        self.gone = True
        # While application code runs (the close came from inside a write), the
        # caller finishes the call when it returns.
        if not self._pulling:
            self._done()


def _nothing() -> None:
    """pause_writing: the pull loop reads ``Exchange.writing_paused`` itself."""
