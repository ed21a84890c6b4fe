"""HTTPProtocol: one connection's HTTP, between its transport and the application.

It owns the ``sansio.Connection``, the phases and their timeouts, the application
call, error replies and the access log; it reaches the socket only through its
transport (``driver.interfaces.Transport``). Response writing is in
``driver.response`` (the base class).

Theory of operation. ``_process`` takes events from the core until it must wait: for
bytes (``NEED_DATA``: reading on), for the application (a streaming app that has not
asked for the body, has paused it, or has not finished its response: reading off, the
client's next bytes wait in the kernel), or for the client to drain our output (above
high water: reading off, no new request starts). Whatever ends a wait puts
``_process`` on the loop's ready list (``call_soon``); it never runs down the stack of
the call that ended the wait, so a long pipeline is handled iteratively.

A simple app (``app(request) -> Reply``) that takes a body has it collected (in memory
up to the budget's body share, in a temporary file beyond: ``driver.spool``; the core
bounds it by ``max_body_size``) and is called at the end of the request; one that
declares it takes none (``driver.app.takes_body``) is called at the end of the head,
and the body is discarded while the answer goes out. A streaming app gets an
``HTTPExchange`` at the end of the head. A body nobody reads (the response ended first,
or the app takes none) is discarded up to ``DISCARD_LIMIT`` bytes; beyond that, or if
the client waits for ``100 Continue``, the connection closes after the response.

Phases drive the timeouts (see ``Config``): ``FRESH`` and ``HEAD`` (an absolute
deadline for the request head, from accept or from the first byte), ``BODY`` (between
reads of a body), ``APP`` (waiting for the application: no timeout), ``IDLE`` (kept
alive between requests), ``LINGER`` (after an error response: discard input briefly
so that the client reads the response rather than a RST). A client that stops
reading our output is the transport's business (its write timeout).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import sansio
from sansio import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    InformationalResponse,
    RemoteProtocolError,
    Request,
    Response,
)

from .app import Headers
from .context import ServerContext
from .exchange import HTTPExchange
from .interfaces import Transport
from .origin import log_host, make_request
from .response import ENDED, NONE, ResponseWriter
from .responses import CONTINUE
from .spool import SpooledBody
from .switch import SwitchedConnection, SwitchedProtocol

__all__ = ["DISCARD_LIMIT", "HTTPProtocol"]

log = logging.getLogger("driver")

# Phases (plain ints: compared on the hot path). From LINGER on, no event is handled.
FRESH: Final = 0
HEAD: Final = 1
BODY: Final = 2
APP: Final = 3
IDLE: Final = 4
LINGER: Final = 5
CLOSING: Final = 6

LINGER_SECONDS: Final = 2.0
DISCARD_LIMIT: Final = 1 << 20
# The longest first line of a refused head the access log shows (escaped, as nginx
# logs what it was sent); a longer one is cut and marked with "...".
LOGGED_LINE: Final = 1024
# Requests one connection may start in one round of the loop. A client that pipelines
# hundreds of requests (and perhaps resets) would otherwise have them all answered
# before anyone else is served; past this many the rest wait for the next round.
REQUESTS_PER_ROUND: Final = 4
_NEVER: Final = float("inf")


class HTTPProtocol(ResponseWriter):
    """One client connection's HTTP (implements ``interfaces.ConnectionProtocol``)."""

    __slots__ = (
        "__weakref__",
        "app_paused",
        "body",
        "collecting",
        "deadline",
        "discarded",
        "discarding",
        "eof",
        "head_data",
        "on_data",
        "on_end",
        "origin",
        "phase",
        "reading",
        "req_done",
        "timer_at",
    )

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.conn = sansio.Connection(sansio.SERVER, limits=ctx.limits)
        self.closed = False
        self.request = None
        self.origin = None
        self.response = NONE
        self.exchange = None
        self.items = None
        self.items_source = None
        self.producer = None
        self.write_paused = False
        self.must_close = False
        self.no_body = False
        self.sent = 0
        self.status = 0
        self.processing = False
        self.scheduled = False
        self.gathered = None
        self.flush_scheduled = False
        self.phase = FRESH
        self.deadline = ctx.loop.now + ctx.header_timeout
        self.timer_at = _NEVER
        # A simple app's body (made at its first byte): a body sent in tiny chunks must
        # not cost an object per chunk, nor a large one its size in memory.
        self.body: SpooledBody | None = None
        self.collecting = False  # a simple app's body is being collected
        self.discarding = False  # nobody reads this request's body (takes_body False)
        self.req_done = False
        self.on_data: Callable[[bytes], None] | None = None
        self.on_end: Callable[[], None] | None = None
        self.app_paused = False
        self.discarded = 0
        self.reading = True
        self.eof = False
        # The bytes received in which the current head began (a reference, no copy):
        # the access log shows their first line if the head is refused.
        self.head_data: bytes | None = None

    # -- from the transport -------------------------------------------------------------

    def connection_made(self, transport: Transport) -> None:
        # The header deadline (set in __init__) goes on the heap when the loop
        # registers the connection, after the read it makes at accept.
        self.transport = transport
        self.client = transport.client

    def data_received(self, data: bytes) -> None:
        before = self.phase
        if before >= LINGER:
            return  # discarded: the connection is closing
        self.conn.receive_data(data)
        if before in (IDLE, FRESH):
            # The deadline set at accept stays: it is absolute.
            self.phase = HEAD
            self.head_data = data
        self._process()
        phase = self.phase
        if phase == HEAD:
            if before == IDLE:
                self._arm(self.ctx.header_timeout)
        elif phase == BODY:
            self._arm(self.ctx.body_timeout)

    def eof_received(self) -> None:
        self.eof = True
        self.reading = False
        if self.phase >= LINGER:
            self.transport.close()
            return
        self.conn.receive_data(b"")
        self._process()
        if self.request is None and self.phase < LINGER:
            self._close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.phase = CLOSING
        self._drop_body()  # a timer entry may keep this object until it comes due
        if self.items_source is not None:
            self._drop_body_source()
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            exchange.connection_lost()

    def pause_writing(self) -> None:
        if self.write_paused:
            return  # the producer's pause and resume calls alternate (write_paused says which)
        self.write_paused = True
        producer = self.producer
        if producer is not None:
            producer[0]()

    def resume_writing(self) -> None:
        if not self.write_paused:
            return
        self.write_paused = False
        # The producer hears at once, as in asyncio: a resume deferred to the ready list
        # could be overtaken by the next pause, and the producer would see pause, pause.
        # The transport calls this from its writable handler, not down a protocol stack.
        producer = self.producer
        if producer is not None:
            producer[1]()
        self.ctx.loop.call_soon(self._resume)

    def _resume(self) -> None:
        if self.closed or self.write_paused:
            return
        if self.items is not None:
            self.pull()
        self._schedule()

    @property
    def idle(self) -> bool:
        # Part of a head is owed nothing either: at shutdown it is closed at once
        # rather than holding the process for the grace period.
        return (
            self.request is None
            and not self.transport.get_write_buffer_size()
            and (self.phase <= HEAD or self.phase == IDLE)
        )

    @property
    def reclaimable(self) -> bool:
        return (
            self.phase == IDLE
            and not self.transport.get_write_buffer_size()
            and not self.conn.trailing_data[0]
        )

    # -- timers ---------------------------------------------------------------------

    def _arm(self, timeout: float) -> None:
        deadline = self.ctx.loop.now + timeout
        self.deadline = deadline
        if deadline < self.timer_at:
            self.ctx.loop.schedule(self)

    def on_timeout(self) -> None:
        """The deadline of the current phase has passed."""
        if self.closed:
            return
        phase = self.phase
        ctx = self.ctx
        if phase in (HEAD, FRESH, BODY):
            if phase == BODY and not self._body_wanted():
                self._arm(ctx.body_timeout)  # the app is not reading: not the client's fault
            elif phase != BODY and self.transport.get_write_buffer_size():
                # A pipelined head waits behind an earlier response still being sent: a
                # client that reads it is not late; one that does not meets the write
                # timeout. The head's deadline starts again.
                self._arm(ctx.header_timeout)
            elif self.transport.get_write_buffer_size() or self.response != NONE:
                # An earlier response is still unsent, or this one has begun.
                self.transport.abort()
            else:
                what = "the request body stalled" if phase == BODY else "no complete head in time"
                log.info("request from %s timed out (408): %s", self.client[0], what)
                self.send_error(408)
        elif phase == IDLE:
            if self.transport.get_write_buffer_size():
                self._arm(ctx.keepalive_timeout)  # still sending: the write timeout rules
            else:
                self.transport.close()  # nothing queued: a graceful close (abort resets)
        elif phase >= LINGER:
            self.transport.close()  # graceful: the error response may still be in flight

    # -- the event pump -------------------------------------------------------------

    def _body_wanted(self) -> bool:
        """Whether the request body is to be read now (collected, discarded up to its
        bound, or asked for by a streaming app that has not paused it)."""
        if self.collecting:
            return True
        if self.discarding or self.response == ENDED:
            return not self.must_close
        return self.on_data is not None and not self.app_paused

    def _process(self) -> None:
        """Handle every event the core can give now, until something must wait."""
        self.scheduled = False
        if self.processing or self.closed:
            return
        self.processing = True
        want_read = False
        conn = self.conn
        next_event = conn.next_event
        streaming = self.ctx.streaming
        budget = REQUESTS_PER_ROUND
        try:
            while self.phase < LINGER:
                if self.request is None:
                    if self.write_paused:
                        break
                    if not budget:
                        self._schedule()  # the rest in the next round, after the others
                        break
                    budget -= 1
                    event = next_event()
                    cls = type(event)
                    if cls is Request:
                        self.head_data = None
                        origins = self.ctx.origins
                        if origins is not None:
                            self.origin = origins.resolve(
                                event.headers,  # type: ignore[union-attr]
                                self.client,
                                self.ctx.scheme,
                            )
                        if streaming:
                            self._on_request(event)  # type: ignore[arg-type]
                        else:
                            self.request = event  # type: ignore[assignment]
                            self.req_done = False
                            self.phase = BODY
                            if self.ctx.takes_body:
                                self.collecting = True
                            else:
                                # Answered once no more body is buffered (what is, is
                                # discarded first, so that a malformed body already in
                                # still gets its 400, as nginx does); the rest is
                                # discarded as it comes.
                                self.discarding = True
                    elif cls is ConnectionClosed:
                        self._close()
                        break
                    else:
                        want_read = True  # NEED_DATA
                        break
                elif not self.req_done:
                    collecting = self.collecting
                    if collecting:
                        pass
                    elif self.response == ENDED:
                        if self.must_close:
                            self._next_cycle()  # nobody wants the rest: linger, close
                            break
                    elif self.discarding:
                        if self.must_close and self.response != NONE:
                            break  # past the discard bound: the close follows the answer
                    elif not self._body_wanted():
                        break
                    event = next_event()
                    cls = type(event)
                    if cls is EndOfMessage:
                        self.req_done = True
                        if collecting:
                            self.collecting = False
                            self.call_app(self._take_body())
                        elif self.discarding and self.response == NONE:
                            self.call_app(b"")
                        else:
                            self._on_end()
                    elif cls is Data:
                        if collecting:
                            self._collect(event.data)  # type: ignore[union-attr]
                        else:
                            self._on_data(event.data)  # type: ignore[union-attr]
                    else:
                        # NEED_DATA.
                        if self.discarding and self.response == NONE:
                            # What was buffered is gone: answer now, and say close if
                            # the rest is more than will be discarded.
                            if _declared_length(self.request) - self.discarded > DISCARD_LIMIT:
                                self.must_close = True
                            self.call_app(b"")
                            continue
                        if conn.they_are_waiting_for_100_continue:
                            # A client that sent Expect: 100-continue waits here.
                            self.transport.write(conn.send(CONTINUE))
                        want_read = True
                        break
                elif self.response == ENDED:
                    self._next_cycle()
                else:
                    if self.phase != APP:
                        self.phase = APP
                        self.deadline = _NEVER
                    break
        except RemoteProtocolError as exc:
            self._bad_request(exc)
        self.processing = False
        if self.phase >= LINGER or self.eof:
            return
        if not want_read:
            # Waiting for the app or the client: go on reading (to notice a client
            # that leaves) only while nothing unhandled is buffered, so that at most
            # one read's worth waits in memory and the rest in the kernel.
            want_read = not conn.trailing_data[0]
        if want_read != self.reading:
            self.reading = want_read
            if want_read:
                self.transport.resume_reading()
            else:
                self.transport.pause_reading()

    def _on_request(self, event: Request) -> None:
        self.request = event
        self.req_done = False
        self.phase = BODY
        ctx = self.ctx
        self._arm(ctx.body_timeout)
        request = make_request(ctx, event, b"", self.client, self.origin)
        exchange = HTTPExchange(self, request, ctx.loop, ctx.budget)
        self.exchange = exchange
        try:
            ctx.app.handle_exchange(exchange)  # type: ignore[union-attr]
        except Exception:
            self.app_failed()

    def _collect(self, data: bytes) -> None:
        """A piece of a simple app's request body."""
        body = self.body
        if body is None:
            body = self.body = SpooledBody(self.ctx.budget.body)
        try:
            body.write(data)
        except OSError as exc:  # the temporary directory is full or unwritable
            log.error("cannot store the request body from %s: %s", self.client[0], exc)
            self._drop_body()
            self.collecting = False
            self.send_error(500)

    def _take_body(self) -> bytes:
        body = self.body
        if body is None:
            return b""
        self.body = None
        try:
            return body.getvalue()
        finally:
            body.close()

    def _drop_body(self) -> None:
        body = self.body
        if body is not None:
            self.body = None
            body.close()

    def _on_data(self, data: bytes) -> None:
        """A piece of a streaming app's request body (or of one nobody reads)."""
        if self.discarding or self.response == ENDED:
            self.discarded += len(data)
            if self.discarded > DISCARD_LIMIT:
                # Enough: no more is read, and the connection closes after the answer.
                self.must_close = True
                if self.response == ENDED:
                    self._next_cycle()
        elif self.on_data is not None:
            try:
                self.on_data(data)
            except Exception:
                self.app_failed()

    def _on_end(self) -> None:
        """The end of a streaming app's request body."""
        if self.on_end is not None and self.response != ENDED:
            on_end, self.on_end, self.on_data = self.on_end, None, None
            try:
                on_end()
            except Exception:
                self.app_failed()

    def _next_cycle(self) -> None:
        """The response has ended: close, linger, or make ready for the next request."""
        ctx = self.ctx
        if self.must_close or not self.conn.keep_alive or ctx.loop.stopping:
            if self.req_done:
                self._close()
            else:
                self._linger()
            return
        if not self.req_done:
            return  # the rest of the body is discarded first (see _on_data)
        self.conn.start_next_cycle()
        self.request = None
        self.origin = None
        self.response = NONE
        if self.discarding:
            self.discarding = False
            self.discarded = 0
        if self.exchange is not None:
            self.exchange = None
            self.on_data = self.on_end = None
            self.app_paused = False
            self.producer = None
            self.discarded = 0
        self.phase = IDLE
        deadline = ctx.loop.now + ctx.keepalive_timeout
        self.deadline = deadline
        if deadline < self.timer_at:
            ctx.loop.schedule(self)
        ctx.loop.keep_idle(self.transport)

    # -- the exchange's side of the request ----------------------------------------------

    def read_body(
        self, exchange: HTTPExchange, on_data: Callable[[bytes], None], on_end: Callable[[], None]
    ) -> None:
        if exchange is not self.exchange or self.on_end is not None or self.req_done:
            return
        self.on_data = on_data
        self.on_end = on_end
        self._schedule()

    def app_pause_reading(self, exchange: HTTPExchange) -> None:
        if exchange is self.exchange:
            self.app_paused = True

    def app_resume_reading(self, exchange: HTTPExchange) -> None:
        if exchange is self.exchange and self.app_paused:
            self.app_paused = False
            self._schedule()

    # -- endings ------------------------------------------------------------------------

    def _bad_request(self, exc: RemoteProtocolError) -> None:
        if self.response == NONE:
            log.info("refused a request from %s (%d): %s", self.client[0], exc.status_hint, exc)
            self.send_error(exc.status_hint)
        else:
            log.info("bad request body from %s after the response began: %s", self.client[0], exc)
            self._close()

    def send_error(self, status: int) -> None:
        """Bad input or a timeout: answer ``status`` with ``Connection: close``, then
        linger so that the client reads the answer."""
        self._drop_body()
        self.collecting = False
        self.write_error(status, _first_line(self.head_data) if self.request is None else b"")
        self._linger()

    def _close(self) -> None:
        """Close once the output has left (the transport's write timeout bounds that);
        handle nothing more."""
        self.phase = CLOSING
        self.deadline = _NEVER
        self.transport.close()

    def _linger(self) -> None:
        if self.eof:
            self._close()
            return
        self.phase = LINGER
        self.deadline = self.ctx.loop.now + LINGER_SECONDS
        if self.deadline < self.timer_at:
            self.ctx.loop.schedule(self)
        self.transport.write_eof()
        if not self.reading:
            self.reading = True
            self.transport.resume_reading()

    # -- protocol switch (see driver.switch) ---------------------------------------------

    def switch_protocol(
        self, exchange: HTTPExchange, protocol: SwitchedProtocol, headers: Headers
    ) -> None:
        """Answer 101 (or 2xx to CONNECT) once the request has ended, and hand the
        socket to ``protocol``. Raises if the request did not ask to switch or the
        response has begun (before the head: the caller's exception is a 500)."""
        request = self.request
        if exchange is not self.exchange or request is None or self.response != NONE:
            raise RuntimeError("switch_protocol: the response to this request has begun")
        if request.method != b"CONNECT" and not any(
            name == b"upgrade" for name, _ in request.headers
        ):
            raise ValueError(
                "switch_protocol: the request did not ask to switch protocols "
                "(no Upgrade field, and the method is not CONNECT)"
            )
        if self.req_done:
            self._switch(protocol, headers)
            return
        # The switch happens at the end of the request; what is left of its body is
        # the old protocol's, and nobody reads it.
        self.on_data = _ignore
        self.on_end = lambda: self._switch(protocol, headers)
        self.app_paused = False
        self._schedule()

    def _switch(self, protocol: SwitchedProtocol, headers: Headers) -> None:
        request = self.request
        if self.closed or request is None:
            return
        event: InformationalResponse | Response
        if request.method == b"CONNECT":
            event = Response(200, headers, request.http_version, b"Connection Established")
        else:
            event = InformationalResponse(101, headers, b"1.1", b"Switching Protocols")
        data = self.conn.send(event)  # the core checks the move (SWITCHED_PROTOCOL)
        rest, eof = self.conn.trailing_data
        exchange = self.exchange
        self.exchange = None
        if exchange is not None:
            exchange.finished = True
        # This HTTP protocol is done: nothing it still has on the timer heap or the
        # ready list acts, and the socket's events go to the new protocol.
        self.closed = True
        self.phase = CLOSING
        self.deadline = _NEVER
        self.status = event.status_code
        access_log = self.ctx.access_log
        if access_log is not None:
            access_log.log(log_host(self.client, self.origin), request, event.status_code, 0)
        switched = SwitchedConnection(protocol)
        transport = self.transport
        transport.set_protocol(switched)
        transport.write(data)
        switched.connection_made(transport)
        if rest:
            switched.data_received(rest)
        if eof or self.eof:
            switched.eof_received()
        elif not self.reading:
            transport.resume_reading()


def _declared_length(request: Request | None) -> int:
    """The request's Content-Length (the core has checked it), or 0."""
    if request is not None:
        for name, value in request.headers:
            if name == b"content-length":
                return int(value)
    return 0


def _first_line(data: bytes | None) -> bytes:
    """The first line of ``data`` (empty lines before it skipped, as the core does),
    at most ``LOGGED_LINE`` bytes of it."""
    if not data:
        return b""
    line = data[: LOGGED_LINE + 64].lstrip(b"\r\n").partition(b"\n")[0].rstrip(b"\r")
    return line[:LOGGED_LINE] + b"..." if len(line) > LOGGED_LINE else line


def _ignore(data: bytes) -> None:
    """A request body nobody reads (the rest of it before a protocol switch)."""
