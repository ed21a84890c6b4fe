"""Transport: one accepted socket, its ``sansio.Connection`` and its output queue.

Modelled on asyncio's selector transport. Reading: each wake-up does one ``recv``
(edge-triggered: until a short read, ``EAGAIN`` or EOF), feeds the core, and handles
every event the bytes produced before writing anything, so that pipelined requests
answered in one batch leave in one ``send``. Writing: send optimistically; whatever
the kernel does not take is queued as ``memoryview`` slices (or file jobs for
``sendfile``) and ``EPOLLOUT`` is registered only while the queue is not empty.
Backpressure: above the high-water mark the transport stops reading and does not
start the next (pipelined) request until the client has drained the queue.

Phases drive the timeouts (see ``Config``): ``FRESH`` and ``HEAD`` (an absolute
deadline for the request head, from accept or from the first byte), ``BODY`` (between
reads of a body), ``WRITE`` (between writes the client is slow to take), ``IDLE``
(kept alive between requests), ``LINGER`` (after an error response: discard input
briefly so that the client reads the response rather than a RST).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
from collections import deque
from typing import TYPE_CHECKING, Final

import sansio
from sansio import (
    Data,
    EndOfMessage,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    Response,
)

from .app import FileBody, HTTPRequest, Reply
from .responses import CONTINUE, error_reply, fallback_bytes

if TYPE_CHECKING:
    from .loop import Server

__all__ = ["Transport"]

log = logging.getLogger("driver")

# Phases (plain ints: compared on the hot path).
HEAD: Final = 0
BODY: Final = 1
WRITE: Final = 2
IDLE: Final = 3
LINGER: Final = 4
FRESH: Final = 5

LINGER_SECONDS: Final = 2.0
_SENDFILE_CHUNK: Final = 1 << 20
# Accepted sockets stay in blocking mode (saving an ioctl per connection); every recv
# and send says MSG_DONTWAIT instead. sendfile takes no flags, so a socket that sends
# a file is switched to non-blocking first.
_DONTWAIT: Final = socket.MSG_DONTWAIT
_EOM: Final = EndOfMessage()
_NO_BODY_STATUS: Final = frozenset({204, 304})
_HOP_BY_HOP: Final = frozenset({b"connection", b"keep-alive", b"transfer-encoding"})
_CLOSE: Final = (b"Connection", b"close")

EPOLLIN: Final = 0x001
EPOLLOUT: Final = 0x004
EPOLLRDHUP: Final = 0x2000


class _FileJob:
    """The unsent part of a file body."""

    __slots__ = ("count", "fd", "offset")

    def __init__(self, fd: int, offset: int, count: int) -> None:
        self.fd = fd
        self.offset = offset
        self.count = count


class Prepared:
    """A reply turned into the events the core serialises, cached by the server for
    replies that an application returns again and again (the hello handler)."""

    __slots__ = ("data", "file", "length", "mismatch", "no_body", "response", "status")

    def __init__(
        self,
        response: Response,
        data: Data | None,
        file: FileBody | None,
        length: int,
        actual: int,
    ) -> None:
        self.response = response
        self.data = data
        self.file = file
        self.length = length
        self.status = response.status_code
        self.no_body = self.status in _NO_BODY_STATUS or self.status < 200
        self.mismatch = length != actual


def prepare(reply: Reply, version: bytes) -> Prepared:
    """Build the ``Response`` (with ``Content-Length``) and body event for ``reply``.

    A malformed reply (a ``str`` body, a status out of range, headers that are not
    pairs of bytes, a bad ``Content-Length``) raises ``TypeError`` or ``ValueError``
    here, before anything is sent, so that the caller can answer 500 instead; the
    descriptor of a ``FileBody`` is then closed, since nobody else will close it.
    """
    try:
        return _prepare(reply, version)
    except BaseException:
        body = getattr(reply, "body", None)
        if isinstance(body, FileBody) and type(body.fd) is int:
            with contextlib.suppress(OSError):
                os.close(body.fd)
        raise


def _prepare(reply: Reply, version: bytes) -> Prepared:
    if not isinstance(reply, Reply):
        raise TypeError(f"an application must return a Reply, not {type(reply).__name__}")
    status = reply.status
    if type(status) is not int or not 100 <= status <= 999:
        raise ValueError(f"Reply status must be an int from 100 to 999, not {status!r}")
    body = reply.body
    if isinstance(body, FileBody):
        if not (
            type(body.fd) is int
            and type(body.offset) is int
            and type(body.count) is int
            and body.offset >= 0
            and body.count >= 0
        ):
            raise ValueError(f"FileBody needs int fd, offset >= 0 and count >= 0: {body!r}")
        length = actual = body.count
    elif isinstance(body, bytes):
        length = actual = len(body)
    elif isinstance(body, bytearray | memoryview):
        body = bytes(body)  # the core sends bytes only; len() of a memoryview counts items
        length = actual = len(body)
    else:
        raise TypeError(
            "Reply body must be bytes, bytearray, memoryview or FileBody, "
            f"not {type(body).__name__}"
        )
    # RFC 9110 §8.6: a server MUST NOT send Content-Length in a 1xx or 204 response.
    # Frameworks often add "Content-Length: 0" anyway; drop it rather than fail. A 304
    # may keep the length of the representation it stands for.
    no_length = status == 204 or status < 200
    headers = []
    has_length = False
    for field in reply.headers:
        try:
            name, value = field
        except (TypeError, ValueError):
            raise TypeError(f"Reply headers must be (name, value) pairs, got {field!r}") from None
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise TypeError(f"Reply header names and values must be bytes, got {field!r}")
        lower = name.lower()  # field names are case-insensitive (RFC 9110 §5.1)
        if lower in _HOP_BY_HOP:
            continue
        if lower == b"content-length":
            if no_length:
                continue
            if not value.isdigit():
                raise ValueError(f"invalid Content-Length in the reply: {value!r}")
            has_length = True
            length = int(value)
        headers.append((name, value))
    if not has_length and not no_length and status != 304:
        headers.append((b"content-length", b"%d" % length))
    response = Response(status, tuple(headers), version)
    if isinstance(body, FileBody):
        return Prepared(response, None, body, length, actual)
    return Prepared(response, Data(body) if body else None, None, length, actual)


class Transport:
    """One client connection: socket in, core in the middle, queue out."""

    __slots__ = (
        "_recv",
        "_send",
        "body",
        "client",
        "closed",
        "conn",
        "cycle_pending",
        "deadline",
        "eof",
        "fd",
        "mask",
        "nonblocking",
        "out_size",
        "pending",
        "phase",
        "queue",
        "registered",
        "request",
        "server",
        "sock",
        "timer_at",
        "want_close",
    )

    def __init__(self, server: Server, sock: socket.socket, client: tuple[str, int]) -> None:
        self.server = server
        self.sock = sock
        self.fd = sock.fileno()
        self.client = client
        self.conn = sansio.Connection(sansio.SERVER, limits=server.limits)
        self._recv = sock.recv
        self._send = sock.send
        self.pending: list[bytes] = []
        self.queue: deque[memoryview | _FileJob] = deque()
        self.out_size = 0
        self.request: Request | None = None
        self.body: list[bytes] = []
        self.phase = FRESH
        self.deadline = server.now + server.config.header_timeout
        self.timer_at = float("inf")
        self.mask = EPOLLIN
        self.registered = False
        self.nonblocking = False
        self.cycle_pending = False
        self.want_close = False
        self.eof = False
        self.closed = False

    # -- reading ------------------------------------------------------------------

    def on_event(self, mask: int) -> None:
        """Entry point from the loop: ``mask`` is the epoll event mask."""
        if mask & 0x01B:  # EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLPRI
            if self.mask & EPOLLIN:
                self.on_readable(mask & EPOLLRDHUP)
            elif mask & 0x018:  # EPOLLERR | EPOLLHUP while not reading: peer is gone
                self.abort()
                return
        if mask & EPOLLOUT and not self.closed:
            self.on_writable()

    def on_readable(self, eof_pending: int = 0) -> None:
        """Read and handle what the client sent. Edge-triggered, read until a short
        read, unless the peer's FIN is already pending (``EPOLLRDHUP``): then read on
        to the EOF, since no new edge will announce it."""
        server = self.server
        edge = server.edge_triggered
        size = server.recv_size
        while True:
            try:
                data = self._recv(size, _DONTWAIT)
            except BlockingIOError:
                return
            except OSError:
                self.abort()
                return
            before = self.phase
            if before != HEAD:
                if before == IDLE:
                    self.phase = HEAD
                elif before == FRESH:
                    # The deadline set at accept stays: it is absolute.
                    self.phase = before = HEAD
                elif before == LINGER:
                    if not data:
                        self.close()
                        return
                    continue
            if not data:
                self._on_eof()
                return
            self.conn.receive_data(data)
            self._process()
            if self.pending or self.queue:
                self._flush()
            if self.closed:
                return
            phase = self.phase
            if phase == IDLE:
                deadline = server.now + server.keepalive_timeout
                self.deadline = deadline
                if deadline < self.timer_at:
                    server.schedule(self)
            elif phase != before or phase == BODY:
                self._arm()
            if not edge or (len(data) < size and not eof_pending) or not self.mask & EPOLLIN:
                return

    def _arm(self) -> None:
        """Set the deadline of the phase just entered."""
        if self.closed:
            return
        server = self.server
        config = server.config
        phase = self.phase
        if phase == IDLE:
            timeout = config.keepalive_timeout
        elif phase == HEAD:
            timeout = config.header_timeout
        elif phase == LINGER:
            timeout = LINGER_SECONDS
        elif phase == FRESH:
            return
        else:
            timeout = config.body_timeout
        deadline = server.now + timeout
        self.deadline = deadline
        if deadline < self.timer_at:
            server.schedule(self)

    def _on_eof(self) -> None:
        """The peer shut down its sending side. Answer what it sent, then close."""
        self.eof = True
        self.conn.receive_data(b"")
        self._set_reading(False)
        self._process()
        if self.pending or self.queue:
            self._flush()
        if not self.closed and not self.queue and not self.cycle_pending:
            self.close()

    def _process(self) -> None:
        """Handle every event the core can give now; answer each complete request."""
        conn = self.conn
        next_event = conn.next_event
        checked = False
        while True:
            try:
                event = next_event()
            except RemoteProtocolError as exc:
                self._send_error(exc.status_hint)
                return
            cls = type(event)
            if cls is EndOfMessage:
                self._respond()
                if self.closed:
                    return
                if not conn.keep_alive or self.server.stopping:
                    # Reading stops only if the flush finds the client slow (see
                    # on_writable): the common case closes straight after one send.
                    self.want_close = True
                    return
                if self.out_size > self.server.high_water:
                    self.cycle_pending = True
                    self._set_reading(False)
                    return
                conn.start_next_cycle()
                self.phase = IDLE
                if not checked:
                    # Usually the client sent one request and waits: asking the core
                    # for its (empty) buffer is far cheaper than a next_event() that
                    # searches it. Once per batch, so pipelined input is copied once.
                    rest, eof = conn.trailing_data
                    if not rest and not eof:
                        return
                    checked = True
            elif cls is Request:
                self.request = event  # type: ignore[assignment]
                self.phase = BODY
            elif cls is Data:
                self.body.append(event.data)  # type: ignore[union-attr]
            else:
                # NEED_DATA, PAUSED, or ConnectionClosed (the EOF path closes). A client
                # that sent Expect: 100-continue waits here, in the middle of a body.
                if self.phase == BODY and conn.they_are_waiting_for_100_continue:
                    self.pending.append(conn.send(CONTINUE))
                return

    # -- responding ---------------------------------------------------------------

    def _respond(self) -> None:
        """Run the application on the request just completed and queue its reply."""
        request = self.request
        assert request is not None
        self.request = None
        body = self.body
        if body:
            self.body = []
            payload = body[0] if len(body) == 1 else b"".join(body)
        else:
            payload = b""
        server = self.server
        version = request.http_version
        try:
            reply = server.app(
                HTTPRequest(
                    request.method, request.target, request.headers, version, payload, self.client
                )
            )
            memo = server.memo.get(version)
            if memo is not None and memo[0] is reply:
                prepared = memo[1]
            else:
                prepared = server.prepared(reply, version)
        except Exception:
            log.exception("application error on %s %r", request.method.decode(), request.target)
            prepared = server.prepared(error_reply(500), version)
        try:
            self._write_reply(request, prepared)
        except LocalProtocolError as exc:
            if self.conn.our_state is not sansio.SEND_RESPONSE:
                # The head is already serialised: the response cannot be repaired.
                log.error("cannot finish response to %r: %s", request.target, exc)
                self.abort()
                return
            log.error("invalid response to %r: %s", request.target, exc)
            self._write_reply(request, server.prepared(error_reply(500), version))

    def _write_reply(self, request: Request, prepared: Prepared) -> None:
        head_only = request.method == b"HEAD" or prepared.no_body
        file = prepared.file
        try:
            if prepared.mismatch and not head_only:
                # Caught before the head is written, so that a 500 can still go out.
                raise LocalProtocolError(
                    f"Content-Length says {prepared.length} bytes, the body has another length"
                )
            send = self.conn.send
            out = send(prepared.response)
            sent = 0
            if head_only:
                if file is not None:
                    os.close(file.fd)
                    file = None
            elif file is not None:
                self._account(file.count)
                sent = file.count
            elif prepared.data is not None:
                out += send(prepared.data)
                sent = prepared.length
            out += send(_EOM)
        except BaseException:
            if file is not None:
                os.close(file.fd)  # never queued: nobody else will close it
            raise
        self.pending.append(out)
        if file is None:
            self.out_size += len(out)
        else:
            self._queue_pending()
            if not self.nonblocking:
                self.sock.setblocking(False)
                self.nonblocking = True
            self.queue.append(_FileJob(file.fd, file.offset, file.count))
            self.out_size += len(out) + file.count
        if self.server.access_log is not None:
            self.server.access_log.log(self.client[0], request, prepared.status, sent)

    def _account(self, count: int) -> None:
        """Tell the core about a body that ``sendfile`` will carry. Static replies carry
        Content-Length, so the core adds no framing around it: it only counts."""
        if self.conn.send_body_framing(count) != (b"", b""):
            raise LocalProtocolError("a sendfile body must be framed by Content-Length")

    def on_timeout(self) -> None:
        """The deadline of the current phase has passed."""
        phase = self.phase
        if phase in (HEAD, BODY, FRESH):
            if self.queue:
                # An earlier pipelined response is still unsent: the client is stuck.
                self.abort()
            else:
                self._send_error(408)
        else:
            # Idle keep-alive, a client that stopped reading, or the end of a linger.
            self.abort()

    def _send_error(self, status: int) -> None:
        """Bad input or a timeout: answer with ``status``, then close."""
        conn = self.conn
        reply = error_reply(status)
        try:
            prepared = prepare(reply, b"1.0")
            # The connection closes after this answer: say so (RFC 9112 §9.6). Given a
            # "close" option, the core writes Connection: close and ends keep-alive.
            response = prepared.response
            out = conn.send(Response(status, (*response.headers, _CLOSE), response.http_version))
            assert prepared.data is not None
            out += conn.send(prepared.data) + conn.send(_EOM)
        except LocalProtocolError:
            out = fallback_bytes(status)
        self.pending.append(out)
        self.out_size += len(out)
        if self.server.access_log is not None:
            body = reply.body
            size = len(body) if isinstance(body, bytes) else body.count
            self.server.access_log.log_error(self.client[0], status, size)
        self.want_close = True
        self.phase = LINGER
        self._arm()
        self._set_reading(False)
        self._flush()

    # -- writing ------------------------------------------------------------------

    def _queue_pending(self) -> None:
        pending = self.pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self.queue.append(memoryview(data))

    def _flush(self) -> None:
        """Send what the last batch produced; queue what the kernel does not take."""
        pending = self.pending
        if not pending:
            if self.queue and not self.mask & EPOLLOUT:
                self.on_writable()
            return
        if not self.queue:
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            pending.clear()
            try:
                n = self._send(data, _DONTWAIT)
            except BlockingIOError:
                n = 0
            except OSError:
                self.abort()
                return
            if n == len(data):
                self.out_size = 0
                if self.want_close or self.cycle_pending or self.eof:
                    self._drained()
                return
            self.queue.append(memoryview(data)[n:])
            self.out_size = len(data) - n
        else:
            self._queue_pending()
        if not self.mask & EPOLLOUT:
            self.on_writable()

    def on_writable(self) -> None:
        queue = self.queue
        sock = self.sock
        cork = self.server.config.cork
        if cork:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        try:
            while queue:
                item = queue[0]
                if isinstance(item, memoryview):
                    n = self._send(item, _DONTWAIT)
                    self.out_size -= n
                    if n < len(item):
                        queue[0] = item[n:]
                        break
                    queue.popleft()
                else:
                    n = os.sendfile(self.fd, item.fd, item.offset, min(item.count, _SENDFILE_CHUNK))
                    if n == 0:
                        raise OSError(errno.EIO, "file shrank while being sent")
                    item.offset += n
                    item.count -= n
                    self.out_size -= n
                    if item.count:
                        continue
                    os.close(item.fd)
                    queue.popleft()
        except BlockingIOError:
            pass
        except OSError:
            self.abort()
            return
        finally:
            if cork and not self.closed:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        if queue:
            if self.phase != LINGER:
                self.phase = WRITE
                self._arm()
            if self.want_close:
                self._set_reading(False)
            self._set_writing(True)
        else:
            self.out_size = 0
            self._set_writing(False)
            self._drained()

    def _drained(self) -> None:
        """The output queue just emptied: close, or go on with the next request."""
        if self.want_close or (self.cycle_pending and self.server.stopping):
            if self.phase == LINGER and not self.eof:
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    self.close()
                    return
                self._set_reading(True)
            else:
                self.close()
            return
        if self.phase == WRITE:
            self.phase = IDLE
            self._arm()
        if self.cycle_pending:
            self.cycle_pending = False
            self.conn.start_next_cycle()
            self.phase = IDLE
            self._arm()
            if not self.eof:
                self._set_reading(True)
            self._process()
            if self.pending or self.queue:
                self._flush()
            if self.closed:
                return
            # Edge-triggered or not, re-enabling EPOLLIN (EPOLL_CTL_MOD) re-polls the
            # socket, so bytes that arrived while reading was paused raise an event.
            if self.eof and not self.queue and not self.cycle_pending:
                self.close()
        elif self.eof and not self.closed:
            self.close()

    # -- state of the registration ------------------------------------------------

    def _set_reading(self, on: bool) -> None:
        mask = (self.mask | EPOLLIN) if on else (self.mask & ~EPOLLIN)
        if mask != self.mask:
            self.mask = mask
            self.server.modify(self)

    def _set_writing(self, on: bool) -> None:
        mask = (self.mask | EPOLLOUT) if on else (self.mask & ~EPOLLOUT)
        if mask != self.mask:
            self.mask = mask
            self.server.modify(self)

    @property
    def idle(self) -> bool:
        """Waiting for a request and owing nothing: safe to close at shutdown."""
        return not self.queue and not self.pending and (self.phase == IDLE or self.phase == FRESH)

    def close(self) -> None:
        """Close the socket and release any file being sent."""
        if self.closed:
            return
        self.closed = True
        for item in self.queue:
            if isinstance(item, _FileJob):
                # A descriptor the application already closed must not stop the
                # socket from being closed and forgotten.
                with contextlib.suppress(OSError):
                    os.close(item.fd)
        self.queue.clear()
        self.pending.clear()
        self.server.forget(self)
        self.sock.close()

    abort = close
