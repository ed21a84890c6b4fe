"""A WSGI call on a pool thread, and the outbox that carries its steps to the loop.

The pool thread runs the application and pulls its iterable; every ``Exchange`` call
happens on the loop thread, in steps posted to the ``Outbox``. The outbox wakes the
loop with one ``call_soon_threadsafe`` (an eventfd write) for however many steps were
posted before the loop ran them, so a busy server wakes once per batch, not per step.

Flow control, both ways, with the worker blocking and the loop never waiting:

- request body: ``WSGIInput`` pauses the socket past its high-water mark and the
  worker's reads resume it;
- response body: the worker blocks while the connection's output is above its high
  water (``pause_writing``/``resume_writing`` through ``Exchange.set_producer``) or while
  it has posted more than ``OUTPUT_HIGH_WATER`` bytes the loop has not yet queued, so
  a generator of any size costs a few hundred KiB.

If the connection closes (client gone, timeout, end of the shutdown grace period), the
worker wakes, stops iterating and calls the result's ``close()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .app import Exchange, Headers
from .wsgi_call import Head, WSGIApp, WSGICall, has_body
from .wsgi_input import EMPTY_INPUT, ClientDisconnected, WSGIInput

__all__ = ["OUTPUT_HIGH_WATER", "Outbox", "ThreadedCall"]

log = logging.getLogger("driver.wsgi")

OUTPUT_HIGH_WATER = 256 * 1024

EnvironFactory = Callable[[Any, object], dict[str, Any]]


class Outbox:
    """Callables posted from any thread, run in order on the loop thread."""

    __slots__ = ("_lock", "_scheduled", "_steps", "loop")

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._steps: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._scheduled = False

    def post(self, step: Callable[..., None], *args: Any) -> None:
        with self._lock:
            self._steps.append((step, args))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._run)
        except (RuntimeError, OSError) as exc:  # the loop is gone: nothing runs any more
            log.debug("WSGI step dropped, the loop is closed: %s", exc)

    def _run(self) -> None:
        with self._lock:
            steps = self._steps
            self._steps = []
            self._scheduled = False
        for step, args in steps:
            try:
                step(*args)
            except Exception:
                log.exception("error in a WSGI response step")


class ThreadedCall(WSGICall):
    """One request's WSGI call, run by ``run()`` on a pool thread."""

    __slots__ = (
        "_cond",
        "_environ",
        "_in_flight",
        "_lock",
        "_outbox",
        "_paused",
        "_watching",
        "wsgi_input",
    )

    def __init__(
        self, app: WSGIApp, exchange: Exchange, outbox: Outbox, environ: EnvironFactory
    ) -> None:
        super().__init__(app, exchange)
        self._outbox = outbox
        self._environ = environ
        self._lock = threading.Lock()
        self._cond: threading.Condition | None = None  # made by the first wait
        self._paused = False  # the connection's output is above high water
        self._watching = False  # on_close done
        self._in_flight = 0  # body bytes posted and not yet handed to the exchange
        # Requests without a body (most) share one empty stream: nothing to feed,
        # nothing to discard.
        self.wsgi_input: WSGIInput | None = None
        if has_body(exchange.request):
            self.wsgi_input = WSGIInput(exchange.pause_reading, self._resume_reading)

    def attach(self) -> None:
        """Hook the call to its exchange (loop thread, before ``run`` is submitted)."""
        exchange = self.exchange
        wsgi_input = self.wsgi_input
        if wsgi_input is not None:
            self._watch_close()  # a reader waiting for the body must learn of a close
            exchange.read_body(wsgi_input.feed, wsgi_input.feed_eof)

    # -- the pool thread ---------------------------------------------------------------

    def run(self) -> None:
        try:
            environ = self._environ(self.exchange.request, self.wsgi_input or EMPTY_INPUT)
            result = self.result = self.app(environ, self.start_response)
            if not self._shortcut(result):
                for chunk in self._iterating(result):
                    if self.gone:
                        break
                    self._piece(chunk)
                else:
                    self._end()
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._close_result()

    def _post(self, step: Callable[..., None], *args: Any) -> None:
        self._outbox.post(step, *args)

    def _send(self, data: bytes) -> None:
        with self._lock:
            while (self._paused or self._in_flight >= OUTPUT_HIGH_WATER) and not self.gone:
                if self._cond is None:
                    self._cond = threading.Condition(self._lock)
                self._cond.wait()
            if self.gone:
                raise ClientDisconnected("the client closed the connection")
            self._in_flight += len(data)
        self._outbox.post(self._queued_write_step, data)

    def _resume_reading(self) -> None:
        # Called by WSGIInput on the reader's thread.
        self._outbox.post(self._resume_reading_step)

    # -- the loop thread ---------------------------------------------------------------

    def _watch_close(self) -> None:
        if not self._watching:
            self._watching = True
            self.exchange.on_close(self._connection_lost)

    def _head_step(
        self, status: int, headers: Headers, head: Head, data: bytes, complete: bool
    ) -> None:
        if not complete:
            # A streamed body: from now on the worker follows the connection's flow
            # control and stops if it closes. (A whole response never waits, so most
            # calls skip this.)
            self._watch_close()
            exchange = self.exchange
            exchange.set_producer(self._pause_writing, self._resume_writing)
            with self._lock:
                self._paused = exchange.writing_paused
        super()._head_step(status, headers, head, data, complete)

    def _queued_write_step(self, data: bytes) -> None:
        # Write first: if that crosses the high-water mark, pause_writing runs now, so
        # the worker wakes to a paused connection rather than posting more.
        self._write_step(data)
        with self._lock:
            self._in_flight -= len(data)
            if self._cond is not None:
                self._cond.notify()

    def _resume_reading_step(self) -> None:
        if not self.exchange.closed:
            self.exchange.resume_reading()

    def _pause_writing(self) -> None:
        with self._lock:
            self._paused = True

    def _resume_writing(self) -> None:
        with self._lock:
            self._paused = False
            if self._cond is not None:
                self._cond.notify()

    def _connection_lost(self) -> None:
        if self.wsgi_input is not None:
            self.wsgi_input.abort()
        self._stop()

    def _stop(self) -> None:
        with self._lock:
            self.gone = True
            if self._cond is not None:
                self._cond.notify()

    def _finished(self) -> None:
        wsgi_input = self.wsgi_input
        if wsgi_input is not None and wsgi_input.discard() and not self.exchange.closed:
            self.exchange.resume_reading()
