"""TLS as a layer between the socket transport and the HTTP protocol (a prototype).

The sans-IO way, as asyncio's ``sslproto`` does it: an ``ssl.SSLObject`` over two
``ssl.MemoryBIO``s does the cryptography and never touches a socket, so neither a
handshake nor a read can block the loop. ``TLSLayer`` is the socket transport's
protocol (ciphertext in through ``data_received``, out through ``transport.write``) and
the HTTP protocol's transport (plaintext both ways), so the loop and
``SocketTransport`` stay as they are and the plain TCP path pays nothing: the server
only wraps its protocol factory (``tls_factory``).

- The handshake has an absolute deadline from accept (``handshake_timeout``, a byte a
  second does not extend it); the HTTP protocol is made only once it has completed,
  so its header timeout starts then, as nginx's does.
- A plain HTTP request sent to the TLS port is answered in plain text with 400 (as
  nginx does), then closed; any other handshake failure, an EOF or a reset mid-
  handshake, drops the connection without touching any other.
- Files: no ``sendfile`` (the kernel would send plaintext), so a file is read with
  ``pread`` in pieces while the socket's output is below its high-water mark, and at
  most ``FILE_BUDGET`` bytes per loop round; while a file is pending the HTTP protocol
  is paused, so a client pipelining file requests holds one descriptor.
- ``close()`` sends close_notify once everything queued has been encrypted, and does
  not wait for the peer's (RFC 8446 §6.1 allows it; nginx does the same).
  Renegotiation is off (``OP_NO_RENEGOTIATION``; TLS 1.3 has none), so
  ``SSLWantReadError`` from ``write`` cannot happen on a server and is treated as fatal.
- Reading paused by the HTTP protocol leaves ciphertext in the incoming BIO; resuming
  delivers it from the loop's next round, since in edge-triggered mode no new event
  would come for bytes already read from the socket.

A little over the project's ~400 lines: one object that is two interfaces (the socket
transport's protocol and the HTTP protocol's transport), as asyncio's ``sslproto`` is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
from collections import deque
from collections.abc import Callable
from typing import Final

from .interfaces import Connection, ConnectionProtocol, EventLoop, Transport

__all__ = [
    "FILE_BUDGET",
    "FILE_PIECE",
    "PLAIN_HTTP_REPLY",
    "TLSLayer",
    "server_context",
    "tls_factory",
]

log = logging.getLogger("driver")

_NEVER: Final = float("inf")
FILE_PIECE: Final = 64 * 1024
"""Bytes of a file read (and encrypted) at a time: four full TLS records."""
FILE_BUDGET: Final = 1 << 20
"""File bytes one connection encrypts per loop round (the transport's WRITE_BUDGET)."""
_READ_SIZE: Final = 64 * 1024
PLAIN_HTTP_REPLY: Final = (
    b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: 48\r\n\r\nThis port speaks HTTPS: use an https:// address.\n"
)
# The end of the stream (a FIN or close_notify): not seen, seen but behind records a
# paused reader has not taken yet, handed to the HTTP protocol.
_EOF_NONE: Final = 0
_EOF_PENDING: Final = 1
_EOF_DELIVERED: Final = 2
# What OpenSSL says when the first bytes are an HTTP request rather than a ClientHello.
_PLAIN_HTTP_REASONS: Final = frozenset({"HTTP_REQUEST", "HTTPS_PROXY_REQUEST"})


def server_context(
    certfile: str, keyfile: str | None = None, password: str | None = None
) -> ssl.SSLContext:
    """A server context: TLS 1.2 and later, no renegotiation, ALPN ``http/1.1``. A
    certificate or key that cannot be loaded raises ``ValueError`` naming the file."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(certfile, keyfile, password)
    except (OSError, ssl.SSLError) as exc:
        shown = certfile if keyfile is None else f"{certfile} / {keyfile}"
        raise ValueError(f"cannot load the TLS certificate {shown}: {exc}") from None
    return context


class _FileJob:
    __slots__ = ("count", "fd", "offset")

    def __init__(self, fd: int, offset: int, count: int) -> None:
        self.fd = fd
        self.offset = offset
        self.count = count


class _MemoryJob:
    """Plaintext written while a file is pending: it goes out after the file."""

    __slots__ = ("count", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.count = len(data)


class TLSLayer:
    """One TLS connection: the socket transport's protocol, the HTTP protocol's
    transport (implements ``interfaces.ConnectionProtocol`` and ``Transport``)."""

    scheme: Final = "https"

    __slots__ = (
        "__weakref__",  # the loop's timer heap holds weak references
        "_closing",
        "_eof",
        "_files",
        "_inner_paused",
        "_lower_paused",
        "_pumping",
        "_reading",
        "client",
        "closed",
        "context",
        "deadline",
        "factory",
        "handshaking",
        "incoming",
        "loop",
        "lower",
        "outgoing",
        "protocol",
        "ssl_object",
        "timer_at",
    )

    def __init__(
        self,
        loop: EventLoop,
        context: ssl.SSLContext,
        factory: Callable[[], ConnectionProtocol],
        handshake_timeout: float,
    ) -> None:
        self.loop = loop
        self.context = context
        self.factory = factory
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.ssl_object = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.handshaking = True
        self.protocol: ConnectionProtocol | None = None
        self.client: tuple[str, int] = ("", 0)
        self.closed = False
        self._closing = False
        self._reading = True
        self._eof = _EOF_NONE
        self._lower_paused = False
        self._inner_paused = False
        self._pumping = False
        self._files: deque[_FileJob | _MemoryJob] = deque()
        # The loop puts this on its heap at accept: the handshake's absolute deadline.
        self.deadline = loop.now + handshake_timeout
        self.timer_at = _NEVER

    # -- the socket transport's protocol -------------------------------------------------

    def connection_made(self, transport: Transport) -> None:
        self.lower = transport
        self.client = transport.client

    def data_received(self, data: bytes) -> None:
        self.incoming.write(data)
        if self.handshaking:
            self._handshake()
        if not self.handshaking and self._reading:
            self._read_plain()

    def _handshake(self) -> None:
        try:
            self.ssl_object.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except ssl.SSLError as exc:
            self._handshake_failed(exc)
            return
        self.handshaking = False
        self.deadline = _NEVER
        self._flush()  # the server's Finished (and TLS 1.3 session tickets)
        protocol = self.factory()
        self.protocol = protocol
        protocol.connection_made(self)
        if protocol.deadline < protocol.timer_at:
            self.loop.schedule(protocol)  # the loop scheduled us, not it

    def _handshake_failed(self, exc: ssl.SSLError) -> None:
        if exc.reason in _PLAIN_HTTP_REASONS:
            self.lower.write(PLAIN_HTTP_REPLY)
            self.lower.close()
            return
        log.debug("TLS handshake with %s:%d failed: %s", *self.client, exc)
        self.lower.abort()

    def _read_plain(self) -> None:
        """Hand the HTTP protocol what has been decrypted, until it pauses reading;
        then the end of the stream, if it has come (and only after the data before it)."""
        ssl_object = self.ssl_object
        while self._reading and not self.closed:
            try:
                data = ssl_object.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                if self._eof == _EOF_PENDING:
                    self._end_of_stream()
                break
            except ssl.SSLError as exc:
                log.debug("TLS error from %s:%d: %s", *self.client, exc)
                self.lower.abort()
                return
            if not data:  # the peer's close_notify (SSLObject.read returns b"")
                self.lower.pause_reading()
                self._end_of_stream()
                break
            self._inner().data_received(data)
        self._flush()  # a read can produce output (a KeyUpdate reply, an alert)

    def _end_of_stream(self) -> None:
        if self._eof != _EOF_DELIVERED:
            self._eof = _EOF_DELIVERED
            self._inner().eof_received()

    def eof_received(self) -> None:
        if self.handshaking:  # a truncated handshake
            self.lower.abort()
            return
        # A TCP FIN without close_notify: the HTTP layer decides whether the message
        # it ended was complete (a request is never close-delimited). It comes after
        # the records still waiting for a paused reader.
        if self._eof == _EOF_NONE:
            self._eof = _EOF_PENDING
        if self._reading:
            self._read_plain()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        for job in self._files:
            if isinstance(job, _FileJob):
                with contextlib.suppress(OSError):
                    os.close(job.fd)
        self._files.clear()
        if self.protocol is not None:
            self.protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        self._lower_paused = True
        self._update_inner_pause()

    def resume_writing(self) -> None:
        self._lower_paused = False
        if self._files:
            self._pump()
        self._update_inner_pause()

    @property
    def idle(self) -> bool:
        """Mid-handshake a connection owes nothing: shutdown may drop it."""
        return self.protocol is None or self.protocol.idle

    @property
    def reclaimable(self) -> bool:
        """Never mid-handshake (it may be sending its ClientHello now)."""
        return self.protocol is not None and self.protocol.reclaimable

    def on_timeout(self) -> None:
        if self.handshaking and not self.closed:
            log.debug("TLS handshake with %s:%d timed out", *self.client)
            self.lower.abort()

    # -- the HTTP protocol's transport ----------------------------------------------------

    def _inner(self) -> ConnectionProtocol:
        assert self.protocol is not None  # made when the handshake completed
        return self.protocol

    def write(self, data: bytes) -> None:
        if self._closing or self.closed or not data:
            return
        if self._files:
            # Behind a file being read: keep the order (a rare case, a streaming app
            # writing after send_file); the piece waits as a memory job.
            self._files.append(_MemoryJob(data))
            return
        self._encrypt(data)

    def _encrypt(self, data: bytes | memoryview) -> None:
        try:
            self.ssl_object.write(data)
        except ssl.SSLError as exc:
            log.debug("TLS write to %s:%d failed: %s", *self.client, exc)
            self.lower.abort()
            return
        self._flush()

    def _flush(self) -> None:
        if self.outgoing.pending and not self.closed:
            self.lower.write(self.outgoing.read())

    def sendfile(self, fd: int, offset: int, count: int) -> None:
        """Queue ``count`` bytes of ``fd`` from ``offset``, read and encrypted in pieces
        below high water; the layer closes ``fd``."""
        if self._closing or self.closed:
            with contextlib.suppress(OSError):
                os.close(fd)
            return
        self._files.append(_FileJob(fd, offset, count))
        self._update_inner_pause()
        if not self._pumping:
            self._pump()

    def _pump(self) -> None:
        """Encrypt file pieces until high water or the round's budget."""
        self._pumping = False
        budget = FILE_BUDGET
        files = self._files
        while files and not self._lower_paused and not self.closed:
            if budget <= 0:
                self._pumping = True
                self.loop.call_soon(self._pump)
                return
            job = files[0]
            if isinstance(job, _MemoryJob):
                files.popleft()
                self._encrypt(job.data)
                continue
            try:
                piece = os.pread(job.fd, min(job.count, FILE_PIECE), job.offset)
            except OSError as exc:
                log.warning("reading a file for %s:%d failed: %s", *self.client, exc)
                self.lower.abort()
                return
            if not piece:
                log.warning("a file for %s:%d shrank while being sent", *self.client)
                self.lower.abort()
                return
            job.offset += len(piece)
            job.count -= len(piece)
            budget -= len(piece)
            if not job.count:
                files.popleft()
                os.close(job.fd)
            self._encrypt(piece)
        if not files:
            self._update_inner_pause()
            if self._closing:
                self._finish_close()

    def _update_inner_pause(self) -> None:
        paused = self._lower_paused or bool(self._files)
        if paused != self._inner_paused and self.protocol is not None and not self.closed:
            self._inner_paused = paused
            if paused:
                self.protocol.pause_writing()
            else:
                self.protocol.resume_writing()

    def get_write_buffer_size(self) -> int:
        pending = sum(job.count for job in self._files)
        return self.lower.get_write_buffer_size() + pending

    def pause_reading(self) -> None:
        self._reading = False
        self.lower.pause_reading()

    def resume_reading(self) -> None:
        if self._reading or self._closing or self.closed:
            return
        self._reading = True
        if self._eof == _EOF_NONE:
            self.lower.resume_reading()
        # Records already read from the socket wait in the incoming BIO (or inside
        # the SSLObject): no socket event will announce them.
        self.loop.call_soon(self._read_plain)

    def write_eof(self) -> None:
        """close_notify, then the TCP FIN; reading goes on (the HTTP protocol lingers)."""
        if self.closed:
            return
        self._send_close_notify()
        self.lower.write_eof()

    def _send_close_notify(self) -> None:
        with contextlib.suppress(ssl.SSLError):  # SSLWantReadError: the peer's is not awaited
            self.ssl_object.unwrap()
        self._flush()

    def close(self) -> None:
        if self._closing or self.closed:
            return
        self._closing = True
        if not self._files:
            self._finish_close()

    def _finish_close(self) -> None:
        if not self.handshaking:
            self._send_close_notify()
        self.lower.close()

    def abort(self) -> None:
        self.lower.abort()

    def set_protocol(self, protocol: ConnectionProtocol) -> None:
        if not self.closed:
            self.protocol = protocol

    @property
    def connection(self) -> Connection:
        """The socket transport below: the loop keeps it among the idle connections
        (and forgets it as it closes), and asks it, so this layer, if it is
        ``reclaimable``."""
        return self.lower.connection


def tls_factory(
    loop: EventLoop,
    context: ssl.SSLContext,
    factory: Callable[[], ConnectionProtocol],
    handshake_timeout: float = 10.0,
) -> Callable[[], ConnectionProtocol]:
    """The loop's protocol factory for a TLS listener: each connection gets a
    ``TLSLayer`` that makes the HTTP protocol with ``factory`` after its handshake."""

    def make() -> ConnectionProtocol:
        return TLSLayer(loop, context, factory, handshake_timeout)

    return make
