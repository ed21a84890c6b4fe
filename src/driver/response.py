"""ResponseWriter: the response half of ``HTTPProtocol`` (one response at a time).

Every way of answering ends here: a simple app's ``Reply``, a streaming app's
``respond`` or ``start_response``/``write``/``send_file``/``end``, and the server's
own error replies. Framing is the core's: a known length goes out as
``Content-Length``; without one the core chunks for HTTP/1.1 peers and delimits by
closing for HTTP/1.0 ones. An iterable body is pulled only while the transport is
below its high-water mark (``pull``; ``resume_writing`` pulls on), its small items
gathered into writes of up to the budget's gather share (``driver.gather``), and a
streaming app's small ``write`` calls are gathered the same way until the loop's next
round (``write_body``): one chunk and one ``send`` for many items, and never an item
held back waiting for the next one. A producer yields to other connections after
``PULL_STEPS`` writes in one go.

Errors: anything wrong before the head leaves (a malformed reply, a header value the
core refuses, an app exception, a Content-Length the body contradicts) is logged and
answered with 500; after the head has left, the connection is aborted and it is logged.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from typing import Final

import sansio
from sansio import Data, EndOfMessage, LocalProtocolError, Request, Response

from .app import FileBody, Headers, Reply
from .context import ServerContext
from .exchange import HTTPExchange, Producer
from .forwarded import RequestOrigin
from .gather import gather
from .interfaces import Transport
from .origin import log_host, make_request
from .replies import Prepared, close_body, prepare, response_headers
from .responses import error_reply, fallback_bytes

__all__ = ["ENDED", "NONE", "STARTED", "ResponseWriter"]

log = logging.getLogger("driver")

# Response states.
NONE: Final = 0
STARTED: Final = 1
ENDED: Final = 2

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


class ResponseWriter:
    __slots__ = (
        "client",
        "closed",
        "conn",
        "ctx",
        "exchange",
        "flush_scheduled",
        "gathered",
        "items",
        "items_source",
        "must_close",
        "no_body",
        "processing",
        "producer",
        "request",
        "response",
        "scheduled",
        "sent",
        "status",
        "transport",
        "write_paused",
    )

    # Set by HTTPProtocol.__init__ (one constructor: a connection is built per request
    # in HTTP/1.0).
    ctx: ServerContext
    conn: sansio.Connection
    transport: Transport
    client: tuple[str, int]
    origin: RequestOrigin | None  # this request's, from trusted proxy headers (driver.origin)
    closed: bool
    request: Request | None
    response: int
    exchange: HTTPExchange | None
    items: Iterator[bytes] | None
    items_source: object
    producer: Producer | None
    write_paused: bool
    must_close: bool
    no_body: bool
    sent: int
    status: int
    processing: bool  # inside _process
    scheduled: bool  # _process is on the ready list
    req_done: bool  # the request has ended (HTTPProtocol's)
    gathered: bytearray | None  # a streaming app's small writes, not yet sent
    flush_scheduled: bool  # _flush_soon is on the ready list

    def _process(self) -> None:
        raise NotImplementedError

    def _resume(self) -> None:
        """Go on producing after a pause (``HTTPProtocol``)."""
        raise NotImplementedError

    def _schedule(self) -> None:
        """Run ``_process`` from the loop (never down the current stack)."""
        if not self.scheduled and not self.closed:
            self.scheduled = True
            self.ctx.loop.call_soon(self._process)

    # -- the application call ---------------------------------------------------------

    def call_app(self, payload: bytes) -> None:
        """Run a simple app on the request just completed and send its reply.
        Called from ``_process`` only (so the end of the response schedules nothing)."""
        request = self.request
        assert request is not None
        ctx = self.ctx
        version = request.http_version
        try:
            reply = ctx.app(  # type: ignore[operator]
                make_request(ctx, request, payload, self.client, self.origin)
            )
        except Exception:
            self.app_failed()
            return
        memo = ctx.memo.get(version)
        if (
            memo is not None
            and memo[0] is reply
            and memo[1].date is ctx.date
            and request.method != b"HEAD"
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
            access_log = ctx.access_log
            if access_log is not None:
                access_log.log(
                    log_host(self.client, self.origin),
                    request,
                    prepared.response.status_code,
                    prepared.length,
                )
            return
        self.respond(reply)

    def app_failed(self) -> None:
        """An application raised (called from an ``except`` block)."""
        request = self.request
        assert request is not None
        log.exception("application error on %s %r", request.method.decode(), request.target)
        self.fail_response()

    def fail_response(self) -> None:
        """500 if the head has not left, else abort."""
        if self.response == NONE:
            self.respond(error_reply(500))
        elif self.response == STARTED:
            self.abort_response()

    def abort_response(self) -> None:
        self._drop_body_source()
        self.gathered = None
        exchange = self.exchange
        if exchange is not None:
            exchange.finished = True
        self.transport.abort()

    def abort_exchange(self, exchange: HTTPExchange) -> None:
        if exchange is self.exchange:
            self.abort_response()

    # -- whole replies --------------------------------------------------------------------

    def respond(self, reply: Reply) -> None:
        request = self.request
        assert request is not None
        version = b"1.1" if request.http_version == b"1.1" else b"1.0"
        ctx = self.ctx
        date = ctx.date
        memo = ctx.memo.get(request.http_version)
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
                    ctx.memo[request.http_version] = (reply, prepared)
        except Exception:
            log.exception("application error on %s %r", request.method.decode(), request.target)
            prepared = prepare(error_reply(500), version, date)
        try:
            self._send_prepared(request, prepared)
        except LocalProtocolError as exc:
            if self.response != NONE:
                # The head is already serialised: the response cannot be repaired.
                log.error("cannot finish the response to %r: %s", request.target, exc)
                self.abort_response()
                return
            log.error("invalid response to %r: %s", request.target, exc)
            self._send_prepared(request, prepare(error_reply(500), version, date))

    def _send_prepared(self, request: Request, prepared: Prepared) -> None:
        head_only = request.method == b"HEAD" or prepared.no_body
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
        if head_only:
            if file is not None:
                os.close(file.fd)  # may raise for a bad fd: nothing has been written yet
            elif items is not None:
                close_body(items)
            self.transport.write(out + send(_EOM))
            self._finish(0)
        elif file is not None:
            before, after = self.conn.send_body_framing(file.count)
            self.transport.write(out + before)
            if file.count:
                self.transport.sendfile(file.fd, file.offset, file.count)
            else:
                close_body(file)  # a 0-byte sendfile would read as "the file shrank"
            self.transport.write(after + send(_EOM))
            self._finish(file.count)
        elif items is not None:
            self.sent = 0
            if ended:
                # The whole body in one batch: head, body and end in one write.
                self._drop_body_source()
                if first:
                    out += send(Data(first))
                self.transport.write(out + send(_EOM))
                self._finish(len(first))
            else:
                self.transport.write(out)
                if first:
                    self._send_data(first)
                self.pull()
        else:
            data = prepared.data
            if data is not None:
                out += send(data)
            self.transport.write(out + send(_EOM))
            self._finish(prepared.length if data is not None else 0)

    def _first_batch(self, items: Iterable[bytes]) -> tuple[bytes, bool]:
        """The first gathered batch of an iterable body and whether it is the whole
        body, taken before the head leaves so that an iterable that fails at once still
        gets a 500 (PEP 3333: the head goes out with the first non-empty item). It
        raises what the iterable raises; the iterable is ours from here on
        (``_drop_body_source``)."""
        self.items_source = items
        self.items = iterator = iter(items)
        return gather(iterator, self.ctx.budget.gather)

    def pull(self) -> None:
        """Take items from the iterable body while the transport is below high water,
        gathered into writes of up to the budget's gather share, for at most
        ``PULL_STEPS`` writes and ``PULL_SECONDS`` in one round."""
        bound = self.ctx.budget.gather
        until = time.monotonic() + PULL_SECONDS
        for _ in range(PULL_STEPS):
            items = self.items
            if items is None or self.write_paused or self.closed:
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
        self.ctx.loop.call_soon(self._resume)  # the rest after the other connections

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

    # -- streamed responses -----------------------------------------------------------------

    def start_response(self, status: int, headers: Headers, reason: bytes = b"") -> None:
        request = self.request
        if request is None or self.response != NONE:
            return
        ctx = self.ctx
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
            version = b"1.1" if request.http_version == b"1.1" else b"1.0"
            out = self.conn.send(Response(status, tuple(fields), version, reason))
        except (TypeError, ValueError, LocalProtocolError):
            log.exception("invalid response head for %r", request.target)
            self.respond(error_reply(500))
            return
        self.response = STARTED
        self.status = status
        self.no_body = request.method == b"HEAD" or status in (204, 304) or status < 200
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
        bound = self.ctx.budget.gather
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
            self.ctx.loop.call_soon(self._flush_soon)

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
            log.error("aborting the response to %r: %s", self._target(), exc)
            self.abort_response()
            return
        self.sent += len(data)
        self.transport.write(out)

    def send_file(self, body: FileBody) -> None:
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
            log.error("aborting the response to %r: %s", self._target(), exc)
            self.abort_response()
            return
        self.sent += body.count
        if before:
            self.transport.write(before)
        self.transport.sendfile(body.fd, body.offset, body.count)
        if after:
            self.transport.write(after)

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
            log.error("aborting the response to %r: %s", self._target(), exc)
            self.abort_response()
            return
        if out:
            self.transport.write(out)
        self._finish(self.sent)

    def _before_start(self, what: str) -> None:
        """A streaming app wrote before ``start_response``: a bug, answered 500."""
        log.error("%s before start_response() on %r; answering 500", what, self._target())
        self.respond(error_reply(500))

    def _finish(self, sent: int) -> None:
        self.response = ENDED
        self.items = None
        exchange = self.exchange
        if exchange is not None:
            exchange.finished = True
            exchange.ended = True
        access_log = self.ctx.access_log
        request = self.request
        if access_log is not None and request is not None:
            access_log.log(log_host(self.client, self.origin), request, self.status, sent)
        if not self.processing:
            self._schedule()

    def _target(self) -> bytes:
        return self.request.target if self.request is not None else b"-"

    # -- the server's own answers ------------------------------------------------------------

    def write_error(self, status: int, raw_line: bytes = b"") -> None:
        """Queue the error reply ``status`` with ``Connection: close``; the access log
        shows the request line, or ``raw_line`` (what the client sent of a head that
        was refused) when no request was parsed."""
        self._drop_body_source()
        self.gathered = None
        exchange = self.exchange
        if exchange is not None:
            exchange.finished = True
        conn = self.conn
        reply = error_reply(status)
        body = reply.body
        assert isinstance(body, bytes)
        try:
            date = self.ctx.date
            headers, _, _ = response_headers(status, reply.headers, date)
            headers += ((b"Content-Length", b"%d" % len(body)), _CLOSE)
            # The connection closes after this answer: say so (RFC 9112 §9.6). Given a
            # "close" option, the core writes Connection: close and ends keep-alive.
            out = conn.send(Response(status, tuple(headers), b"1.0"))
            out += conn.send(Data(body)) + conn.send(_EOM)
        except LocalProtocolError:
            out = fallback_bytes(status, self.ctx.date)
        self.response = ENDED
        self.transport.write(out)
        access_log = self.ctx.access_log
        if access_log is not None:
            request = self.request
            if request is not None:
                access_log.log(log_host(self.client, self.origin), request, status, len(body))
            else:
                access_log.log_error(self.client[0], status, len(body), raw_line)
