"""HTTPExchange: one request and its response, the whole of it.

The connection's protocol (``driver.protocol``) makes one per request, at the end of
its head, and holds it until the response has ended and the request has been read (or
the connection goes). The exchange owns everything about that request: its body (given
to a streaming app as it arrives, collected for a simple app, or discarded), the
``100 Continue`` it may be owed, and every way of answering it. It is what a streaming
app is handed (it implements ``driver.app.Exchange``); for a simple app it calls the
app and sends its ``Reply``. The protocol only pumps the core's events into it and asks
it where it stands; it tells the protocol when to run again (``schedule``), and never
sets the protocol's state, nor the protocol its.

Framing is the core's: a known length goes out as ``Content-Length``; without one the
core chunks for HTTP/1.1 peers and delimits by closing for HTTP/1.0 ones. An iterable
body is pulled only while the transport is below its high-water mark (``pull``; the
protocol's ``resume_writing`` pulls on), its small items gathered into writes of up to
the budget's gather share (``driver.gather``), and a streaming app's small ``write``
calls are gathered the same way until the loop's next round (``write_body``): one chunk
and one ``send`` for many items, and never an item held back waiting for the next one.
A producer yields to other connections after ``PULL_STEPS`` writes in one go.

A body nobody reads (the response ended first, or a simple app takes none) is
discarded up to ``DISCARD_LIMIT`` bytes; beyond that, or if the client waits for
``100 Continue``, the connection closes after the response.

Errors: anything wrong before the head leaves (a malformed reply, a header value the
core refuses, an app exception, a Content-Length the body contradicts) is logged and
answered with 500; after the head has left, the connection is aborted and it is logged.

Longer than the ~400 lines a module should be, on purpose: one request's state is one
object (no class over two files, no object setting another's flags), and its response
paths (whole replies, iterables, files, streamed writes, the server's own errors) share
that state; splitting them would bring back the two half-objects this replaced.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Final, Protocol

import sansio
from sansio import Data, EndOfMessage, LocalProtocolError, Request, Response

from .app import FileBody, Headers, HTTPRequest, Reply
from .gather import gather
from .interfaces import Loop, Transport
from .origin import log_host, make_request
from .reply_events import Prepared, close_body, prepare, response_headers
from .server_replies import CONTINUE, error_reply, error_response
from .spool import SpooledBody
from .switch import SwitchedProtocol

if TYPE_CHECKING:
    from .context import ServerContext

__all__ = ["DISCARD_LIMIT", "ENDED", "NONE", "PULL_STEPS", "STARTED", "HTTPExchange", "Host"]

log = logging.getLogger("driver")

# Response states.
NONE: Final = 0
STARTED: Final = 1
ENDED: Final = 2

DISCARD_LIMIT: Final = 1 << 20
_EOM: Final = EndOfMessage()
_CLOSE: Final = (b"Connection", b"close")
# The largest bytes body kept for the same-reply hot path (hello, small files): the
# memo outlives the response, so a large download must not stay referenced by it.
# StaticFiles' default inline_limit, whose replies its cache keeps anyway.
_MEMO_LIMIT: Final = 64 * 1024
# One pull of an iterable body yields to the other connections after PULL_STEPS gathered
# writes or PULL_SECONDS, whichever comes first. The steps: a fast generator to a fast
# client would otherwise be pulled to its end in one go (the transport's WRITE_BUDGET is
# the same rule for bytes already queued). The seconds: a costly iterable (a listing of
# 100,000 entries) read as fast as it is made never pauses, and would otherwise hold every
# other client for the whole body (0.3 s); with 4 such listings the loop's longest round
# took 13.9 ms of CPU at 1 ms, 7-9 ms at 0.5 ms (bench/stress.py's listing row).
PULL_STEPS: Final = 64
PULL_SECONDS: Final = 0.0005


class Host(Protocol):
    """What an exchange uses of its connection's protocol (``driver.protocol``)."""

    ctx: ServerContext
    conn: sansio.Connection
    transport: Transport
    client: tuple[str, int]
    write_paused: bool
    processing: bool  # inside the event pump: it will look at the exchange itself

    @property
    def exchange(self) -> HTTPExchange | None: ...
    def schedule(self) -> None:
        """Run the event pump from the loop (never down the current stack)."""

    def resume(self) -> None:
        """Go on producing after a pause or a round's end (from the loop)."""

    def send_error(self, status: int) -> None:
        """Answer ``status`` and close (the exchange cannot go on)."""

    def switch(self, exchange: HTTPExchange, protocol: SwitchedProtocol, headers: Headers) -> None:
        """Answer 101 (or 2xx to CONNECT) and hand the socket to ``protocol``."""


class HTTPExchange:
    """One request and its response (implements ``driver.app.Exchange``)."""

    __slots__ = (
        "_close_callbacks",
        "_protocol",
        "app_paused",
        "body",
        "budget",
        "client",
        "closed",
        "collecting",
        "conn",
        "ctx",
        "discarded",
        "discarding",
        "ended",
        "finished",
        "flush_scheduled",
        "gathered",
        "head",
        "items",
        "items_source",
        "loop",
        "must_close",
        "no_body",
        "on_data",
        "on_end",
        "origin",
        "producer",
        "req_done",
        "request",
        "response",
        "sent",
        "status",
        "transport",
    )

    def __init__(self, protocol: Host, head: Request) -> None:
        self._protocol = protocol
        ctx = self.ctx = protocol.ctx
        self.conn = protocol.conn
        self.transport = protocol.transport
        self.client = client = protocol.client
        self.loop: Loop = ctx.loop
        self.budget = ctx.budget
        self.head = head
        # Trusted proxies' word on who and where the client is: read once, here.
        origins = ctx.origins
        self.origin = None if origins is None else origins.resolve(head.headers, client, ctx.scheme)
        self.request: HTTPRequest = make_request(ctx, head, b"", client, self.origin)
        self.response = NONE
        self.status = 0
        self.sent = 0
        self.no_body = False
        self.must_close = False
        self.items: Iterator[bytes] | None = None
        self.items_source: object = None
        self.gathered: bytearray | None = None  # a streaming app's small writes, not yet sent
        self.flush_scheduled = False  # _flush_soon is on the ready list
        self.producer: tuple[Callable[[], None], Callable[[], None]] | None = None
        self.req_done = False  # the request (its body included) has been read
        # A simple app's body (made at its first byte): a body sent in tiny chunks must
        # not cost an object per chunk, nor a large one its size in memory.
        self.body: SpooledBody | None = None
        # A simple app's body is collected, or (one that takes none) discarded: it is
        # answered once no more body is buffered (what is, is discarded first, so that a
        # malformed body already in still gets its 400, as nginx does), and the rest is
        # discarded as it comes. A streaming app is handed the exchange (``start``).
        simple = not ctx.streaming
        self.collecting = simple and ctx.takes_body
        self.discarding = simple and not ctx.takes_body
        self.discarded = 0
        self.on_data: Callable[[bytes], None] | None = None
        self.on_end: Callable[[], None] | None = None
        self.app_paused = False
        self.closed = False  # the connection is gone
        self.finished = False  # no more response calls are taken
        self.ended = False  # the response was sent whole
        self._close_callbacks: list[Callable[[], None]] | None = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "finished" if self.finished else "open"
        return f"<HTTPExchange {self.head.method!r} {self.head.target!r} {state}>"

    # -- from the protocol: the request ----------------------------------------------------

    def start(self) -> None:
        """The head is complete: hand the exchange to the streaming application."""
        try:
            self.ctx.app.handle_exchange(self)  # type: ignore[union-attr]
        except Exception:
            self.app_failed()

    def body_wanted(self) -> bool:
        """Whether the request body is to be read now (collected, discarded up to its
        bound, or asked for by a streaming app that has not paused it)."""
        if self.collecting:
            return True
        if self.discarding or self.response == ENDED:
            return not self.must_close
        return self.on_data is not None and not self.app_paused

    def body_data(self, data: bytes) -> None:
        """A piece of the request body."""
        if self.collecting:
            body = self.body
            if body is None:
                body = self.body = SpooledBody(self.budget.body)
            try:
                body.write(data)
            except OSError as exc:  # the temporary directory is full or unwritable
                log.error("cannot store the request body from %s: %s", self.client[0], exc)
                self._protocol.send_error(500)
        elif self.discarding or self.response == ENDED:
            self.discarded += len(data)
            if self.discarded > DISCARD_LIMIT:
                # Enough: no more is read, and the connection closes after the answer.
                self.must_close = True
        elif self.on_data is not None:
            try:
                self.on_data(data)
            except Exception:
                self.app_failed()

    def body_ended(self) -> None:
        """The end of the request body."""
        self.req_done = True
        if self.collecting:
            self.collecting = False
            self.call_app(self._take_body())
        elif self.discarding and self.response == NONE:
            self.call_app(b"")
        elif self.on_end is not None and self.response != ENDED:
            on_end, self.on_end, self.on_data = self.on_end, None, None
            try:
                on_end()
            except Exception:
                self.app_failed()

    def body_awaited(self) -> bool:
        """No more of the body is buffered. A simple app that takes none is answered
        now (True: go on with the events), saying close if the rest is more than will
        be discarded; a client waiting for ``100 Continue`` is invited (False: read)."""
        if self.discarding and self.response == NONE:
            if _declared_length(self.head) - self.discarded > DISCARD_LIMIT:
                self.must_close = True
            self.call_app(b"")
            return True
        conn = self.conn
        if conn.they_are_waiting_for_100_continue:
            self.transport.write(conn.send(CONTINUE))
        return False

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
        self.collecting = False
        if body is not None:
            self.body = None
            body.close()

    def connection_lost(self) -> None:
        """The connection is gone: release what the response held, and run the
        on_close callbacks (from the loop) unless the response had ended."""
        self.closed = True
        self.finished = True
        self._drop_body()  # a timer entry may keep the protocol until it comes due
        if self.items_source is not None:
            self._drop_body_source()
        callbacks, self._close_callbacks = self._close_callbacks, None
        if callbacks and not self.ended:
            for callback in callbacks:
                self.loop.call_soon(callback)

    def pause_producer(self) -> None:
        producer = self.producer
        if producer is not None:
            producer[0]()

    def resume_producer(self) -> None:
        producer = self.producer
        if producer is not None:
            producer[1]()

    # -- the application call ----------------------------------------------------------

    def call_app(self, payload: bytes) -> None:
        """Run a simple app on the request just completed and send its reply. Called
        from the protocol's event pump only (so the end of the response schedules
        nothing)."""
        head = self.head
        ctx = self.ctx
        version = head.http_version
        request = self.request
        if payload:
            request = make_request(ctx, head, payload, self.client, self.origin)
        try:
            reply = ctx.app(request)  # type: ignore[operator]
        except Exception:
            self.app_failed()
            return
        memo = ctx.memo.get(version)
        if (
            memo is not None
            and memo[0] is reply
            and memo[1].date is ctx.clock.date  # (the property ctx.date, unwrapped)
            and head.method != b"HEAD"
            and not ctx.loop.stopping
            and not self.must_close
            # Answered before the body (an app that takes none): _send_prepared decides.
            and self.req_done
        ):
            # The hot path: the same bytes reply again (hello, a hot small file).
            # ``memo`` only holds replies that passed every check of _send_prepared.
            prepared = memo[1]
            send = self.conn.send
            out = send(prepared.response)
            if prepared.data is not None:
                out += send(prepared.data)
            self.transport.write(out + send(_EOM))
            self.response = ENDED
            self.finished = self.ended = True
            access_log = ctx.access_log
            if access_log is not None:
                access_log.log(
                    log_host(self.client, self.origin),
                    head,
                    prepared.response.status_code,
                    prepared.length,
                )
            return
        self._respond(reply)

    def app_failed(self) -> None:
        """An application raised (called from an ``except`` block)."""
        head = self.head
        log.exception("application error on %s %r", head.method.decode(), head.target)
        self.fail_response()

    def fail_response(self) -> None:
        """500 if the head has not left, else abort."""
        if self.response == NONE:
            self._respond(error_reply(500))
        elif self.response == STARTED:
            self.abort_response()

    def abort_response(self) -> None:
        self._drop_body_source()
        self.gathered = None
        self.finished = True
        self.transport.abort()

    # -- whole replies ---------------------------------------------------------------------

    def _respond(self, reply: Reply) -> None:
        head = self.head
        version = b"1.1" if head.http_version == b"1.1" else b"1.0"
        ctx = self.ctx
        date = ctx.clock.date
        memo = ctx.memo.get(head.http_version)
        try:
            if memo is not None and memo[0] is reply and memo[1].date is date:
                prepared = memo[1]
            else:
                prepared = prepare(reply, version, date)
                body = reply.body
                if (
                    type(body) is bytes
                    and len(body) <= _MEMO_LIMIT
                    and not prepared.mismatch
                    and not prepared.no_body
                    and not prepared.close
                ):
                    # Not a file, nor a buffer that may change: the same object can be
                    # sent again as it is (see call_app).
                    ctx.memo[head.http_version] = (reply, prepared)
        except Exception:
            log.exception("application error on %s %r", head.method.decode(), head.target)
            prepared = prepare(error_reply(500), version, date)
        try:
            self._send_prepared(prepared)
        except LocalProtocolError as exc:
            if self.response != NONE:
                # The head is already serialised: the response cannot be repaired.
                log.error("cannot finish the response to %r: %s", head.target, exc)
                self.abort_response()
                return
            log.error("invalid response to %r: %s", head.target, exc)
            self._send_prepared(prepare(error_reply(500), version, date))

    def _send_prepared(self, prepared: Prepared) -> None:
        head_only = self.head.method == b"HEAD" or prepared.no_body
        file = prepared.file
        items = prepared.items
        first = b""
        ended = False
        if items is not None and not head_only:
            try:
                first, ended = self._first_batch(items)
            except Exception:
                self._drop_body_source()
                self.app_failed()  # the head has not left: a 500
                return
        try:
            if not head_only and (
                prepared.mismatch or (ended and 0 <= prepared.length != len(first))
            ):
                # Caught before the head is written, so that a 500 can still go out.
                raise LocalProtocolError(
                    f"Content-Length says {prepared.length} bytes, the body has another length"
                )
            send = self.conn.send
            response = prepared.response
            if not self.req_done and self.conn.they_are_waiting_for_100_continue:
                self.must_close = True  # do not invite a body nobody will read
            if prepared.close:
                self.must_close = True  # the app's own Connection: close
            if self.ctx.loop.stopping or self.must_close:
                response = Response(
                    response.status_code,
                    (*response.headers, _CLOSE),
                    response.http_version,
                    response.reason,
                )
            out = send(response)
        except BaseException:
            if self.items_source is not None:
                self._drop_body_source()  # its first item was taken
            else:
                close_body(file if file is not None else items)
            raise
        self.response = STARTED
        self.status = response.status_code
        self.no_body = head_only
        transport = self.transport
        if head_only:
            if file is not None:
                os.close(file.fd)  # may raise for a bad fd: nothing has been written yet
            elif items is not None:
                close_body(items)
            transport.write(out + send(_EOM))
            self._finish(0)
        elif file is not None:
            before, after = self.conn.send_body_framing(file.count)
            transport.write(out + before)
            if file.count:
                transport.sendfile(file.fd, file.offset, file.count)
            else:
                close_body(file)  # a 0-byte sendfile would read as "the file shrank"
            transport.write(after + send(_EOM))
            self._finish(file.count)
        elif items is not None:
            self.sent = 0
            if ended:
                # The whole body in one batch: head, body and end in one write.
                self._drop_body_source()
                if first:
                    out += send(Data(first))
                transport.write(out + send(_EOM))
                self._finish(len(first))
            else:
                transport.write(out)
                if first:
                    self._send_data(first)
                self.pull()
        else:
            data = prepared.data
            if data is not None:
                out += send(data)
            transport.write(out + send(_EOM))
            self._finish(prepared.length if data is not None else 0)

    def _first_batch(self, items: Iterable[bytes]) -> tuple[bytes, bool]:
        """The first gathered batch of an iterable body and whether it is the whole
        body, taken before the head leaves so that an iterable that fails at once still
        gets a 500 (PEP 3333: the head goes out with the first non-empty item). It
        raises what the iterable raises; the iterable is ours from here on
        (``_drop_body_source``)."""
        self.items_source = items
        self.items = iterator = iter(items)
        return gather(iterator, self.budget.gather)

    def pull(self) -> None:
        """Take items from the iterable body while the transport is below high water,
        gathered into writes of up to the budget's gather share, for at most
        ``PULL_STEPS`` writes and ``PULL_SECONDS`` in one round."""
        bound = self.budget.gather
        until = time.monotonic() + PULL_SECONDS
        protocol = self._protocol
        for _ in range(PULL_STEPS):
            items = self.items
            if items is None or protocol.write_paused or self.closed:
                return
            try:
                data, ended = gather(items, bound)
            except Exception:
                self.app_failed()
                return
            if data:
                self._send_data(data)
            if ended:
                self._drop_body_source()
                self.end_response()
                return
            if time.monotonic() > until:
                break
        self.loop.call_soon(protocol.resume)  # the rest after the other connections

    def _drop_body_source(self) -> None:
        """Close the iterable body (and its iterator, a generator's ``finally``)."""
        source, items = self.items_source, self.items
        self.items = None
        self.items_source = None
        for body in (items, source) if items is not source else (source,):
            if body is not None:
                try:
                    close_body(body)
                except Exception:
                    log.exception("close() of a response body failed")

    # -- streamed responses ------------------------------------------------------------------

    def _start_response(self, status: int, headers: Headers, reason: bytes) -> None:
        if self.response != NONE:
            return
        ctx = self.ctx
        head = self.head
        try:
            fields, _length, close = response_headers(status, headers, ctx.date)
            if not isinstance(reason, bytes):
                raise TypeError(f"the reason must be bytes, not {type(reason).__name__}")
            if (
                close
                or ctx.loop.stopping
                or (not self.req_done and self.conn.they_are_waiting_for_100_continue)
            ):
                fields.append(_CLOSE)
                self.must_close = True
            version = b"1.1" if head.http_version == b"1.1" else b"1.0"
            out = self.conn.send(Response(status, tuple(fields), version, reason))
        except (TypeError, ValueError, LocalProtocolError):
            log.exception("invalid response head for %r", head.target)
            self._respond(error_reply(500))
            return
        self.response = STARTED
        self.status = status
        self.no_body = head.method == b"HEAD" or not sansio.response_has_body(None, status)
        self.sent = 0
        self.transport.write(out)

    def write_body(self, data: bytes) -> None:
        """A streaming app's piece of the body: a small one is gathered with the next
        ones (sent once they reach the gather share, or in the loop's next round)."""
        if self.response != STARTED or self.closed:
            if self.response == NONE and not self.closed:
                self._before_start("write()")
            return
        if self.no_body or not data:
            return
        gathered = self.gathered
        bound = self.budget.gather
        if len(data) >= bound:
            if gathered:
                self._flush_gathered()
            self._send_data(data)
            return
        if gathered is None:
            gathered = self.gathered = bytearray()
        gathered += data  # a TypeError for what is not bytes-like, as Data() would raise
        if len(gathered) >= bound:
            self._flush_gathered()
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self.flush_scheduled = False
        if self.gathered and self.response == STARTED and not self.closed:
            self._flush_gathered()

    def _flush_gathered(self) -> None:
        gathered = self.gathered
        self.gathered = None
        if gathered:
            self._send_data(bytes(gathered))

    def _send_data(self, data: bytes) -> None:
        try:
            out = self.conn.send(Data(data))
        except LocalProtocolError as exc:
            log.error("aborting the response to %r: %s", self.head.target, exc)
            self.abort_response()
            return
        self.sent += len(data)
        self.transport.write(out)

    def _send_file(self, body: FileBody) -> None:
        if self.response != STARTED or self.closed or self.no_body or not body.count:
            close_body(body)
            if self.response == NONE and not self.closed:
                self._before_start("send_file()")
            return
        if self.gathered:
            self._flush_gathered()  # in order: the pieces written before the file
            if self.closed or self.response != STARTED:
                close_body(body)
                return
        try:
            before, after = self.conn.send_body_framing(body.count)
        except LocalProtocolError as exc:
            close_body(body)
            log.error("aborting the response to %r: %s", self.head.target, exc)
            self.abort_response()
            return
        self.sent += body.count
        transport = self.transport
        if before:
            transport.write(before)
        transport.sendfile(body.fd, body.offset, body.count)
        if after:
            transport.write(after)

    def end_response(self) -> None:
        if self.closed:
            return
        if self.response == NONE:
            self._before_start("end()")
            return
        if self.response != STARTED:
            return
        if self.gathered:
            self._flush_gathered()
            if self.closed or self.response != STARTED:
                return  # the pieces broke the framing: aborted
        try:
            out = self.conn.send(_EOM)
        except LocalProtocolError as exc:
            log.error("aborting the response to %r: %s", self.head.target, exc)
            self.abort_response()
            return
        if out:
            self.transport.write(out)
        self._finish(self.sent)

    def _before_start(self, what: str) -> None:
        """A streaming app wrote before ``start_response``: a bug, answered 500."""
        log.error("%s before start_response() on %r; answering 500", what, self.head.target)
        self._respond(error_reply(500))

    def _finish(self, sent: int) -> None:
        self.response = ENDED
        self.items = None
        self.finished = self.ended = True
        access_log = self.ctx.access_log
        if access_log is not None:
            access_log.log(log_host(self.client, self.origin), self.head, self.status, sent)
        protocol = self._protocol
        if not protocol.processing:
            protocol.schedule()

    # -- the server's own answers --------------------------------------------------------------

    def write_error(self, status: int) -> None:
        """Queue the error reply ``status`` with ``Connection: close`` (bad input, a
        timeout): nothing more of this exchange is sent."""
        self._drop_body()
        self._drop_body_source()
        self.gathered = None
        self.finished = True
        out, size = error_response(self.conn, status, self.ctx.date)
        self.response = ENDED
        self.transport.write(out)
        access_log = self.ctx.access_log
        if access_log is not None:
            access_log.log(log_host(self.client, self.origin), self.head, status, size)

    def switched(self, status: int) -> None:
        """The protocol answered ``status`` (101, or 2xx to CONNECT) and handed the
        socket over: this exchange is done."""
        self.finished = True
        self.status = status
        access_log = self.ctx.access_log
        if access_log is not None:
            access_log.log(log_host(self.client, self.origin), self.head, status, 0)

    # -- driver.app.Exchange: what a streaming application calls ----------------------------

    @property
    def writing_paused(self) -> bool:
        return not self.closed and self._protocol.write_paused

    @property
    def _live(self) -> bool:
        return not self.closed and not self.finished

    def read_body(self, on_data: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        if self.closed or self.on_end is not None or self.req_done:
            return
        self.on_data = on_data
        self.on_end = on_end
        self._protocol.schedule()

    def pause_reading(self) -> None:
        if not self.closed:
            self.app_paused = True

    def resume_reading(self) -> None:
        if not self.closed and self.app_paused and self._protocol.exchange is self:
            self.app_paused = False
            self._protocol.schedule()

    def respond(self, reply: Reply) -> None:
        if self._live:
            self._respond(reply)
        else:
            # Nobody will send it: close a FileBody's fd, call an iterable's close().
            try:
                close_body(getattr(reply, "body", None))
            except Exception:
                log.exception("close() of a response body failed")

    def start_response(self, status: int, headers: Headers, reason: bytes = b"") -> None:
        if self._live:
            self._start_response(status, headers, reason)

    def write(self, data: bytes) -> None:
        if self._live:
            self.write_body(data)

    def send_file(self, body: FileBody) -> None:
        if self._live:
            self._send_file(body)
        else:
            close_body(body)  # "the server closes the fd", sent or not

    def end(self) -> None:
        if self._live:
            self.end_response()

    def abort(self) -> None:
        if self._live:  # a finished response is complete: cutting it would lose its tail
            self.abort_response()

    def set_producer(
        self, pause_writing: Callable[[], None], resume_writing: Callable[[], None]
    ) -> None:
        if self._live:
            self.producer = (pause_writing, resume_writing)

    def on_close(self, callback: Callable[[], None]) -> None:
        if self.ended:
            return
        if self.closed:
            self.loop.call_soon(callback)
        elif self._close_callbacks is None:
            self._close_callbacks = [callback]
        else:
            self._close_callbacks.append(callback)

    def switch_protocol(self, protocol: SwitchedProtocol, headers: Headers = ()) -> None:
        """Answer 101 (or 2xx to CONNECT) once the request has ended, and hand the
        socket to ``protocol``. Raises if the request did not ask to switch or the
        response has begun (before the head: the caller's exception is a 500)."""
        if not self._live:
            return
        head = self.head
        if self.response != NONE:
            raise RuntimeError("switch_protocol: the response to this request has begun")
        if head.method != b"CONNECT" and not any(name == b"upgrade" for name, _ in head.headers):
            raise ValueError(
                "switch_protocol: the request did not ask to switch protocols "
                "(no Upgrade field, and the method is not CONNECT)"
            )
        host = self._protocol
        if self.req_done:
            host.switch(self, protocol, headers)
            return
        # The switch happens at the end of the request; what is left of its body is
        # the old protocol's, and nobody reads it.
        self.on_data = _ignore
        self.on_end = lambda: host.switch(self, protocol, headers)
        self.app_paused = False
        host.schedule()


def _declared_length(request: Request) -> int:
    """The request's Content-Length (the core has checked it), or 0."""
    for name, value in request.headers:
        if name == b"content-length":
            return int(value)
    return 0


def _ignore(data: bytes) -> None:
    """A request body nobody reads (the rest of it before a protocol switch)."""
