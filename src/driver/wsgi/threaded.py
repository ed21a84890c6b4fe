"""A WSGI call on a pool thread; its steps reach the loop through a ``StepQueue``.

The pool thread runs the application and pulls its iterable; every ``Exchange`` call
happens on the loop thread, in steps posted to the adapter's thread-safe ``StepQueue``
(``driver.wsgi.steps``), which wakes the loop with one ``call_soon_threadsafe`` (an
eventfd write) for however many steps were posted before the loop ran them, so a busy
server wakes once per batch, not per step.

Flow control, both ways, with the worker blocking and the loop never waiting:

- request body: ``WSGIInput`` pauses the socket once the budget's body share waits
  unread, and the worker's reads resume it;
- response body: the worker appends each piece (an item, a ``write()`` call) to one
  deque and posts one step for however many it appended before the loop ran it; the
  loop takes what is there, joined, as one write and one chunk. A slow producer's
  piece goes at once (the first piece of a batch posts the step), nothing waits for
  the next. The worker blocks while the connection's output is above its high water
  (``pause_writing``/``resume_writing`` through ``Exchange.set_producer``) or while it
  has ``OUTPUT_SHARE`` gather shares posted that the loop has not taken, counting each
  piece's object (``PIECE_COST``), so a generator of any size, of any item size, costs
  a bounded part of the connection's budget.

  The deque has one writer (the worker) and one reader (the loop), and its ``append``
  and ``popleft`` are atomic: the per-piece path takes no lock. Each side keeps its own
  running total (bytes posted, bytes taken), so the worker reads what is in flight
  without a lock too; it takes the lock only to wait. Measured (``bench/stress.py``
  budget-items, 16-byte items): 14 MB/s with a lock and a shared ``bytearray`` per
  piece, against the figure in the README with this.

If the connection closes (client gone, timeout, end of the shutdown grace period), the
worker wakes, stops iterating and calls the result's ``close()``.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import sansio

from ..app import Exchange, Headers
from .call import WSGIApp, WSGICall
from .environ import EnvironFactory
from .head import Head
from .input import EMPTY_INPUT, ClientDisconnected, WSGIInput
from .steps import StepQueue

__all__ = ["OUTPUT_SHARE", "ThreadedCall"]

log = logging.getLogger("driver.wsgi")

OUTPUT_SHARE = 2
"""Gather shares a worker may have posted and the loop not yet taken before it waits:
the gather and the spare share of the budget (``driver.budget``)."""
PIECE_COST = sys.getsizeof(b"") + 8
"""What a posted piece costs besides its bytes: its object header and a deque slot."""


class ThreadedCall(WSGICall):
    """One request's WSGI call, run by ``run()`` on a pool thread."""

    __slots__ = (
        "_cond",
        "_environ",
        "_limit",
        "_lock",
        "_out",
        "_out_posted",
        "_outbox",
        "_paused",
        "_posted",
        "_taken",
        "wsgi_input",
    )

    def __init__(
        self, app: WSGIApp, exchange: Exchange, outbox: StepQueue, environ: EnvironFactory
    ) -> None:
        super().__init__(app, exchange)
        self._outbox = outbox
        self._environ = environ
        self._lock = threading.Lock()
        self._cond: threading.Condition | None = None  # made by the first wait
        self._paused = False  # the connection's output is above high water
        self._out: deque[bytes] = deque()  # pieces the loop has not taken yet
        self._out_posted = False  # a step that takes _out is posted
        self._posted = 0  # cost of the pieces appended (written by the worker only)
        self._taken = 0  # cost of the pieces taken (written by the loop only)
        self._limit = OUTPUT_SHARE * exchange.budget.gather
        # Requests without a body (most) share one empty stream: nothing to feed,
        # nothing to discard.
        self.wsgi_input: WSGIInput | None = None
        if sansio.request_has_body(exchange.request.headers):
            self.wsgi_input = WSGIInput(
                exchange.pause_reading, self._resume_reading, exchange.budget.body
            )

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
                self._iterate(self._iterating(result))
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._close_result()

    def _post(self, step: Callable[..., None], *args: Any) -> None:
        self._outbox.post(step, *args)

    def _iterate(self, iterator: Iterator[bytes]) -> None:
        for chunk in iterator:  # up to the head, which leaves with the first piece
            if self.gone:
                return
            self._piece(chunk)
            if self.head_posted:
                break
        else:
            self._end()
            return
        if self.ended:  # the first piece was the whole body: anything more is an error
            for chunk in iterator:
                self._piece(chunk)
            self._end()
            return
        # The hot loop of a streamed body: the per-piece work of _send, inlined. It
        # counts what it appends locally (``added``) and adds it to ``_posted`` when it
        # checks for room, so that a write() call from inside the iterable (which
        # counts itself in ``_posted``) is not lost from the count.
        append = self._out.append
        added = 0
        room = self._taken + self._limit - self._posted
        for chunk in iterator:
            if type(chunk) is not bytes:
                raise TypeError(f"the WSGI iterable yielded {type(chunk).__name__}, not bytes")
            if not chunk:
                continue
            append(chunk)
            added += len(chunk) + PIECE_COST
            if not self._out_posted:
                self._out_posted = True
                self._outbox.post(self._take_step)
            if added >= room:
                self._posted += added
                added = 0
                self._wait_for_room()
                room = self._taken + self._limit - self._posted
        self._posted += added
        if not self.gone:
            self._end()

    def _send(self, data: bytes) -> None:
        """A piece after the head (the ``write()`` callable)."""
        if self.gone or self._paused or self._posted - self._taken >= self._limit:
            self._wait_for_room()
        self._out.append(data)
        self._posted += len(data) + PIECE_COST
        if not self._out_posted:
            self._out_posted = True
            self._outbox.post(self._take_step)

    def _wait_for_room(self) -> None:
        """Block while the connection is paused or too much is in flight; raise
        ``ClientDisconnected`` if it is gone."""
        with self._lock:
            # Made before the condition is checked: the loop reads ``_cond`` without
            # the lock after it updates ``_taken``, so a condition made after the check
            # could miss the only notify that would come.
            if self._cond is None:
                self._cond = threading.Condition(self._lock)
            while not self.gone and (self._paused or self._posted - self._taken >= self._limit):
                self._cond.wait()
        if self.gone:
            raise ClientDisconnected("the client closed the connection")

    def _resume_reading(self) -> None:
        # Called by WSGIInput on the reader's thread.
        self._outbox.post(self._resume_reading_step)

    # -- the loop thread ---------------------------------------------------------------

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

    def _take_step(self) -> None:
        """Write what the worker has appended, as one piece."""
        # Cleared first: a piece appended from here on posts another step (which may
        # find it taken already by this one, and write nothing).
        self._out_posted = False
        out = self._out
        count = len(out)
        if not count:
            return
        popleft = out.popleft
        data = popleft() if count == 1 else b"".join([popleft() for _ in range(count)])
        # Write first: if that crosses the high-water mark, pause_writing runs now, so
        # the worker wakes to a paused connection rather than appending more.
        self._write_step(data)
        self._taken += len(data) + count * PIECE_COST
        if self._cond is not None:  # a worker has waited: it may be waiting now
            with self._lock:
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
