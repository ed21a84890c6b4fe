"""HTTPProtocol: one connection's HTTP, between its transport and the application.

It owns the ``sansio.Connection``, the event pump, the phases and their timeouts,
keep-alive and the protocol switch; it reaches the socket only through its transport
(``driver.interfaces.Transport``). Each request is an ``HTTPExchange``
(``driver.exchange``), made at the end of its head and held by composition until the
next cycle: the exchange owns the request body, the response and its access log line;
the protocol pumps the core's events into it and asks it where it stands.

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
declares it takes none (``driver.app.takes_body``) is called once no more body is
buffered, and the rest is discarded while the answer goes out. A streaming app gets
the ``HTTPExchange`` at the end of the head.

Phases drive the timeouts (see ``Config``): ``FRESH`` and ``HEAD`` (an absolute
deadline for the request head, from accept or from the first byte), ``BODY`` (between
reads of a body), ``APP`` (waiting for the application: no timeout), ``IDLE`` (kept
alive between requests), ``LINGER`` (after an error response: discard input briefly
so that the client reads the response rather than a RST). A client that stops
reading our output is the transport's business (its write timeout).

(A little over 400 lines, most of them this docstring and the comments on the pump.)
"""

from __future__ import annotations

import logging
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
from .exchange import DISCARD_LIMIT, ENDED, NONE, HTTPExchange
from .interfaces import Transport
from .server_replies import error_response
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
# The longest first line of a refused head the access log shows (escaped, as nginx
# logs what it was sent); a longer one is cut and marked with "...".
LOGGED_LINE: Final = 1024
# Requests one connection may start in one round of the loop. A client that pipelines
# hundreds of requests (and perhaps resets) would otherwise have them all answered
# before anyone else is served; past this many the rest wait for the next round.
REQUESTS_PER_ROUND: Final = 4
_NEVER: Final = float("inf")


class HTTPProtocol:
    """One client connection's HTTP (implements ``interfaces.ConnectionProtocol``)."""

    __slots__ = (
        "__weakref__",
        "client",
        "closed",
        "conn",
        "ctx",
        "deadline",
        "eof",
        "exchange",
        "head_data",
        "phase",
        "processing",
        "reading",
        "scheduled",
        "timer_at",
        "transport",
        "write_paused",
    )

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.conn = sansio.Connection(sansio.SERVER, limits=ctx.limits)
        self.closed = False
        # The request in progress (from the end of its head to the next cycle).
        self.exchange: HTTPExchange | None = None
        self.write_paused = False
        self.processing = False  # inside _process
        self.scheduled = False  # _process is on the ready list
        self.phase = FRESH
        self.deadline = ctx.loop.now + ctx.header_timeout
        self.timer_at = _NEVER
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
        self.client: tuple[str, int] = transport.client

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
        if self.exchange is None and self.phase < LINGER:
            self._close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.phase = CLOSING
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            exchange.connection_lost()

    def pause_writing(self) -> None:
        if self.write_paused:
            return  # the producer's pause and resume calls alternate (write_paused says which)
        self.write_paused = True
        exchange = self.exchange
        if exchange is not None:
            exchange.pause_producer()

    def resume_writing(self) -> None:
        if not self.write_paused:
            return
        self.write_paused = False
        # The producer hears at once, as in asyncio: a resume deferred to the ready list
        # could be overtaken by the next pause, and the producer would see pause, pause.
        # The transport calls this from its writable handler, not down a protocol stack.
        exchange = self.exchange
        if exchange is not None:
            exchange.resume_producer()
        self.ctx.loop.call_soon(self.resume)

    def resume(self) -> None:
        """Go on producing after a pause, or after a round's share (from the loop)."""
        if self.closed or self.write_paused:
            return
        exchange = self.exchange
        if exchange is not None and exchange.items is not None:
            exchange.pull()
        self.schedule()

    def schedule(self) -> None:
        """Run ``_process`` from the loop (never down the current stack)."""
        if not self.scheduled and not self.closed:
            self.scheduled = True
            self.ctx.loop.call_soon(self._process)

    @property
    def idle(self) -> bool:
        # Part of a head is owed nothing either: at shutdown it is closed at once
        # rather than holding the process for the grace period.
        return (
            self.exchange is None
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
        exchange = self.exchange
        if phase in (HEAD, FRESH, BODY):
            if phase == BODY and exchange is not None and not exchange.body_wanted():
                self._arm(ctx.body_timeout)  # the app is not reading: not the client's fault
            elif phase != BODY and self.transport.get_write_buffer_size():
                # A pipelined head waits behind an earlier response still being sent: a
                # client that reads it is not late; one that does not meets the write
                # timeout. The head's deadline starts again.
                self._arm(ctx.header_timeout)
            elif self.transport.get_write_buffer_size() or (
                exchange is not None and exchange.response != NONE
            ):
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
                exchange = self.exchange
                if exchange is None:
                    if self.write_paused:
                        break
                    if not budget:
                        self.schedule()  # the rest in the next round, after the others
                        break
                    budget -= 1
                    event = next_event()
                    cls = type(event)
                    if cls is Request:
                        self.head_data = None
                        self.phase = BODY
                        exchange = self.exchange = HTTPExchange(self, event)  # type: ignore[arg-type]
                        if streaming:
                            self._arm(self.ctx.body_timeout)
                            exchange.start()
                    elif cls is ConnectionClosed:
                        self._close()
                        break
                    else:
                        want_read = True  # NEED_DATA
                        break
                elif not exchange.req_done:
                    if exchange.collecting:
                        pass
                    elif exchange.response == ENDED:
                        if exchange.must_close:
                            self._next_cycle(exchange)  # nobody wants the rest: linger, close
                            break
                    elif exchange.discarding:
                        if exchange.must_close and exchange.response != NONE:
                            break  # past the discard bound: the close follows the answer
                    elif not exchange.body_wanted():
                        break
                    event = next_event()
                    cls = type(event)
                    if cls is EndOfMessage:
                        exchange.body_ended()
                    elif cls is Data:
                        exchange.body_data(event.data)  # type: ignore[union-attr]
                    elif not exchange.body_awaited():  # NEED_DATA
                        want_read = True
                        break
                elif exchange.response == ENDED:
                    self._next_cycle(exchange)
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

    def _next_cycle(self, exchange: HTTPExchange) -> None:
        """The response has ended: close, linger, or make ready for the next request."""
        ctx = self.ctx
        if exchange.must_close or not self.conn.keep_alive or ctx.loop.stopping:
            if exchange.req_done:
                self._close()
            else:
                self._linger()
            return
        if not exchange.req_done:
            return  # the rest of the body is discarded first (see HTTPExchange.body_data)
        self.conn.start_next_cycle()
        self.exchange = None
        self.phase = IDLE
        deadline = ctx.loop.now + ctx.keepalive_timeout
        self.deadline = deadline
        if deadline < self.timer_at:
            ctx.loop.schedule(self)
        ctx.loop.keep_idle(self.transport)

    # -- endings ------------------------------------------------------------------------

    def _bad_request(self, exc: RemoteProtocolError) -> None:
        exchange = self.exchange
        if exchange is None or exchange.response == NONE:
            log.info("refused a request from %s (%d): %s", self.client[0], exc.status_hint, exc)
            self.send_error(exc.status_hint)
        else:
            log.info("bad request body from %s after the response began: %s", self.client[0], exc)
            self._close()

    def send_error(self, status: int) -> None:
        """Bad input or a timeout: answer ``status`` with ``Connection: close``, then
        linger so that the client reads the answer."""
        exchange = self.exchange
        if exchange is not None:
            exchange.write_error(status)
        else:
            # No request was parsed: the access log shows what the client sent of it.
            ctx = self.ctx
            out, size = error_response(self.conn, status, ctx.date)
            self.transport.write(out)
            if ctx.access_log is not None:
                ctx.access_log.log_error(self.client[0], status, size, _first_line(self.head_data))
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

    def switch(self, exchange: HTTPExchange, protocol: SwitchedProtocol, headers: Headers) -> None:
        """Answer 101 (or 2xx to CONNECT) to ``exchange``'s request, which has ended,
        and hand the socket to ``protocol`` (``HTTPExchange.switch_protocol`` checked
        that the request asked for it)."""
        if self.closed or exchange is not self.exchange:
            return
        request = exchange.head
        event: InformationalResponse | Response
        if request.method == b"CONNECT":
            event = Response(200, headers, request.http_version, b"Connection Established")
        else:
            event = InformationalResponse(101, headers, b"1.1", b"Switching Protocols")
        data = self.conn.send(event)  # the core checks the move (SWITCHED_PROTOCOL)
        rest, eof = self.conn.trailing_data
        self.exchange = None
        exchange.switched(event.status_code)
        # This HTTP protocol is done: nothing it still has on the timer heap or the
        # ready list acts, and the socket's events go to the new protocol.
        self.closed = True
        self.phase = CLOSING
        self.deadline = _NEVER
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


def _first_line(data: bytes | None) -> bytes:
    """The first line of ``data`` (empty lines before it skipped, as the core does),
    at most ``LOGGED_LINE`` bytes of it."""
    if not data:
        return b""
    line = data[: LOGGED_LINE + 64].lstrip(b"\r\n").partition(b"\n")[0].rstrip(b"\r")
    return line[:LOGGED_LINE] + b"..." if len(line) > LOGGED_LINE else line
