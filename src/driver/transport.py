"""SocketTransport: one accepted socket and its output queue. No HTTP knowledge.

Modelled on asyncio's selector transport. Reading: each wake-up does one ``recv``
(edge-triggered: until a short read, ``EAGAIN`` or EOF) and hands the bytes to the
protocol. Whatever the protocol writes while it handles them is gathered and sent in
one ``send`` afterwards, so that pipelined responses answered in one batch leave
together. Writing: send optimistically; what the kernel does not take is queued as
``memoryview`` slices or file ranges (sent with ``sendfile``), and ``EPOLLOUT`` is
registered only while the queue is not empty. Small writes behind a queued item are
copied into one ``bytearray`` at the tail instead of becoming items of their own.

The queue counts what it costs, not only its payload: each item is ``ITEM_COST``
bytes of Python objects besides its bytes (``driver.budget``). Above ``high_water``
the protocol's ``pause_writing()`` is called, and ``resume_writing()`` once the queue
drains to ``low_water``. A producer that writes on while paused has whatever would
take the memory held beyond ``spill_above`` appended to a temporary file, sent from
there in order (``driver.spill``). ``close()`` flushes first, ``abort()`` does not; every socket
error goes through one funnel, ``_fatal_error``. A stalled writer (no progress for
``write_timeout`` seconds while something is queued) is aborted.

Longer than the project's ~400 lines: one socket's reading, its queue (bytes, file
ranges, the spill) and their flow control are one object's state, as in asyncio's
``_SelectorSocketTransport``; the spill file is already a module of its own.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import struct
from collections import deque
from typing import Final

from .budget import ITEM_COST
from .config import TransportConfig
from .interfaces import ConnectionProtocol, EventLoop
from .spill import SPILL_LIMIT, SpillFile

__all__ = ["EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "SocketTransport"]

log = logging.getLogger("driver")

EPOLLIN: Final = 0x001
EPOLLOUT: Final = 0x004
EPOLLRDHUP: Final = 0x2000
_NEVER: Final = float("inf")
_SENDFILE_CHUNK: Final = 1 << 20
# Bytes one wake-up may send: a client downloading at full speed from the page cache
# would otherwise keep the loop in one on_writable for the whole file (a 1 GiB file
# held other clients up 321 ms). Beyond it the transport yields to the next round.
WRITE_BUDGET: Final = 1 << 20
# Files queued (each holding its descriptor) at which the producer is paused: one
# may wait for a slow client without costing a pause; a client that pipelines file
# requests and does not read holds no more than this.
QUEUED_FILES: Final = 2
# Accepted sockets stay in blocking mode (saving an ioctl per connection); every recv
# and send says MSG_DONTWAIT instead. sendfile takes no flags, so a socket that sends
# a file is switched to non-blocking first.
_DONTWAIT: Final = socket.MSG_DONTWAIT
# A head followed by a file: tell the kernel more is coming, so that the head and the
# file's first bytes share a segment even with TCP_NODELAY (no extra small packet).
_MORE: Final = socket.MSG_DONTWAIT | socket.MSG_MORE
# SO_LINGER on, 0 seconds: close() sends a RST instead of a FIN.
_RESET: Final = struct.pack("ii", 1, 0)
# A write up to this size behind a queued item is copied into the queue's bytearray
# tail (a memcpy of at most 4 KiB) rather than queued as an item costing ITEM_COST.
SMALL_WRITE: Final = 4096


class _FileJob:
    """The unsent part of a file range. The transport owns (and closes) ``fd``, unless
    the range is spilled output (``spill``): the spill file is closed on its own."""

    __slots__ = ("count", "fd", "offset", "spill")

    def __init__(self, fd: int, offset: int, count: int, spill: bool = False) -> None:
        self.fd = fd
        self.offset = offset
        self.count = count
        self.spill = spill


class SocketTransport:
    """One connected socket: bytes in to ``protocol``, queued bytes and files out."""

    __slots__ = (
        "__weakref__",
        "_batching",
        "_closing",
        "_eof_after_drain",
        "_files",
        "_in_files",
        "_items",
        "_nonblocking",
        "_paused_writing",
        "_pending",
        "_queue",
        "_recv",
        "_send",
        "_size",
        "_spill",
        "_tail",
        "client",
        "closed",
        "config",
        "deadline",
        "fd",
        "loop",
        "mask",
        "protocol",
        "registered",
        "sock",
        "timer_at",
    )

    def __init__(
        self,
        loop: EventLoop,
        sock: socket.socket,
        client: tuple[str, int],
        protocol: ConnectionProtocol,
        config: TransportConfig,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.client = client
        self.protocol = protocol
        self.config = config
        self._recv = sock.recv
        self._send = sock.send
        self._pending: list[bytes] = []
        self._queue: deque[memoryview | bytearray | _FileJob] = deque()
        self._size = 0  # bytes queued (pending, in memory, in files)
        self._items = 0  # items queued (pending or in the queue): each costs ITEM_COST
        self._in_files = 0  # of _size, bytes in file ranges (no memory but their job)
        self._tail: bytearray | None = None  # the queue's last item, small writes go there
        self._spill: SpillFile | None = None
        self._files = 0  # file ranges in the queue: each holds a descriptor
        self._batching = False
        self._closing = False
        self._eof_after_drain = False
        self._nonblocking = False
        self._paused_writing = False
        self.mask = EPOLLIN
        self.registered = False
        self.closed = False
        self.deadline = _NEVER  # the write timeout, armed while output is queued
        self.timer_at = _NEVER
        protocol.connection_made(self)

    # -- what the loop asks (interfaces.Connection) ------------------------------------

    @property
    def connection(self) -> SocketTransport:
        return self

    @property
    def idle(self) -> bool:
        return self.protocol.idle

    @property
    def reclaimable(self) -> bool:
        return self.protocol.reclaimable

    def on_registered(self) -> None:
        self.registered = True
        protocol = self.protocol
        if protocol.deadline < protocol.timer_at:
            self.loop.schedule(protocol)

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
        """Read and hand over what the peer sent. Edge-triggered, read until a short
        read, unless the peer's FIN is already pending (``EPOLLRDHUP``): then read on
        to the EOF, since no new edge will announce it."""
        config = self.config
        size = config.recv_size
        while True:
            try:
                data = self._recv(size, _DONTWAIT)
            except BlockingIOError:
                return
            except OSError as exc:
                self._fatal_error(exc)
                return
            if not data:
                self._set_reading(False)
                self.protocol.eof_received()
                return
            self._batching = True
            # self.protocol, not a local: a protocol switch hands the socket over mid-batch.
            self.protocol.data_received(data)
            self._batching = False
            if self._pending or (self._queue and not self.mask & EPOLLOUT):
                self._flush()
            elif self._closing:  # closed during the batch with nothing new to send
                if self._queue:
                    self._set_reading(False)
                else:
                    self._force_close(None)
            if (
                self.closed
                or self._closing
                or not config.edge_triggered
                or (len(data) < size and not eof_pending)
                or not self.mask & EPOLLIN
            ):
                return

    def pause_reading(self) -> None:
        self._set_reading(False)

    def resume_reading(self) -> None:
        if not self._closing and not self.closed:
            self._set_reading(True)

    def _set_reading(self, on: bool) -> None:
        mask = (self.mask | EPOLLIN) if on else (self.mask & ~EPOLLIN)
        if mask != self.mask:
            self.mask = mask
            if self.registered:
                self.loop.modify(self.fd, mask)

    def _set_writing(self, on: bool) -> None:
        mask = (self.mask | EPOLLOUT) if on else (self.mask & ~EPOLLOUT)
        if mask != self.mask:
            self.mask = mask
            if self.registered:
                self.loop.modify(self.fd, mask)

    # -- writing ------------------------------------------------------------------

    def get_write_buffer_size(self) -> int:
        return self._size

    def _cost(self) -> int:
        """What the queue counts against the high-water mark: bytes plus items."""
        return self._size + self._items * ITEM_COST

    def write(self, data: bytes) -> None:
        """Queue ``data`` (sent at once if nothing is queued and not in a batch)."""
        if self._closing or self.closed or not data:
            return
        if type(data) is not bytes:
            data = bytes(data)  # the caller may reuse its buffer
        if self._batching and not self._paused_writing:
            # Sent by the flush after the batch (see on_readable).
            self._pending.append(data)
            self._size += len(data)
            self._items += 1
        elif self._batching:
            # A producer writing on while paused, inside a batch: queued (or spilled)
            # now; the flush after the batch starts the sending.
            if self._pending:
                self._queue_pending()
            self._enqueue(data)
        elif not self._queue:
            try:
                n = self._send(data, _DONTWAIT)
            except BlockingIOError:
                n = 0
            except OSError as exc:
                self._fatal_error(exc)
                return
            if n == len(data):
                return
            self._queue.append(memoryview(data)[n:])
            self._size += len(data) - n
            self._items += 1
            self._start_writing()
        else:
            self._enqueue(data)
        if (
            not self._paused_writing
            and self._size + self._items * ITEM_COST > self.config.high_water
            and not self.closed
        ):
            self._pause_protocol()

    def _enqueue(self, data: bytes) -> None:
        """Queue ``data`` behind what is queued: in the tail if it is small, in the
        spill file if the producer writes on while paused beyond the budget."""
        size = len(data)
        if self._paused_writing and (
            self._cost() - self._in_files + size > self.config.spill_above
        ):
            self._spill_out(data)
            return
        if size <= SMALL_WRITE:
            tail = self._tail
            if tail is None:
                self._tail = bytearray(data)
                self._queue.append(self._tail)
                self._items += 1
            else:
                tail += data
        else:
            self._queue.append(memoryview(data))
            self._items += 1
            self._tail = None
        self._size += size

    def _spill_out(self, data: bytes) -> None:
        spill = self._spill
        try:
            if spill is None:
                spill = self._spill = SpillFile()
            if spill.unsent + len(data) > SPILL_LIMIT:
                log.error(
                    "connection from %s:%d: more than %d bytes written past the budget "
                    "without waiting for resume_writing; aborting it",
                    *self.client,
                    SPILL_LIMIT,
                )
                self.abort()
                return
            offset = spill.append(data)
        except OSError as exc:  # the temporary directory is full or unwritable
            log.error("connection from %s:%d: cannot spill output: %s", *self.client, exc)
            self.abort()
            return
        last = self._queue[-1]
        if type(last) is _FileJob and last.spill and last.offset + last.count == offset:
            last.count += len(data)
        else:
            self._queue.append(_FileJob(spill.fd, offset, len(data), spill=True))
            self._items += 1
            self._tail = None
        self._size += len(data)
        self._in_files += len(data)
        if not self._nonblocking:
            self.sock.setblocking(False)  # sendfile takes no MSG_DONTWAIT
            self._nonblocking = True

    def sendfile(self, fd: int, offset: int, count: int) -> None:
        """Queue ``count`` bytes of ``fd`` from ``offset``; the transport closes ``fd``."""
        if self._closing or self.closed:
            with contextlib.suppress(OSError):
                os.close(fd)
            return
        if self._pending:
            self._queue_pending()
        if not self._nonblocking:
            self.sock.setblocking(False)
            self._nonblocking = True
        self._queue.append(_FileJob(fd, offset, count))
        self._tail = None
        self._files += 1
        self._items += 1
        self._size += count
        self._in_files += count
        if not self.mask & EPOLLOUT:
            # At once, even in a batch: the file should not wait for later requests.
            self.on_writable()
        if self._files >= QUEUED_FILES and not self._paused_writing and not self.closed:
            # A file the kernel did not take whole keeps its descriptor open: until
            # one has left, the producer stops (no next pipelined request opens
            # another), so that a client that does not read holds a few descriptors,
            # not every one the process has.
            self._pause_protocol()
        elif self._cost() > self.config.high_water and not self._paused_writing:
            self._pause_protocol()

    def _queue_pending(self) -> None:
        pending = self._pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self._items -= len(pending) - 1
        pending.clear()
        self._queue.append(memoryview(data))
        self._tail = None

    def _flush(self) -> None:
        """Send what a batch produced; queue what the kernel does not take."""
        if self._queue:
            if self._pending:
                self._queue_pending()
            if self._closing:
                self._set_reading(False)
            if not self.mask & EPOLLOUT:
                self.on_writable()
            return
        pending = self._pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        try:
            n = self._send(data, _DONTWAIT)
        except BlockingIOError:
            n = 0
        except OSError as exc:
            self._fatal_error(exc)
            return
        if n == len(data):
            self._size = 0
            self._items = 0
            if self._closing or self._eof_after_drain or self._paused_writing:
                self._drained()
            return
        self._queue.append(memoryview(data)[n:])
        self._size = len(data) - n
        self._items = 1
        self._start_writing()
        if self._closing:
            self._set_reading(False)

    def _start_writing(self) -> None:
        self._set_writing(True)
        loop = self.loop
        self.deadline = loop.now + self.config.write_timeout
        if self.deadline < self.timer_at:
            loop.schedule(self)

    def on_writable(self) -> None:
        queue = self._queue
        sock = self.sock
        cork = self.config.cork
        if cork:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        budget = WRITE_BUDGET
        try:
            while queue:
                if budget <= 0:
                    if self.config.edge_triggered:
                        # No new edge comes for a socket that stays writable.
                        self.loop.call_soon(self._write_more)
                    break
                item = queue[0]
                if isinstance(item, _FileJob):
                    n = os.sendfile(self.fd, item.fd, item.offset, min(item.count, _SENDFILE_CHUNK))
                    if n == 0:
                        raise OSError(errno.EIO, "file shrank while being sent")
                    item.offset += n
                    item.count -= n
                    self._size -= n
                    self._in_files -= n
                    budget -= n
                    if item.spill:
                        assert self._spill is not None
                        self._spill.sent(n)
                    if item.count:
                        continue
                    if not item.spill:
                        os.close(item.fd)
                        self._files -= 1
                    queue.popleft()
                    self._items -= 1
                    continue
                flags = _MORE if len(queue) > 1 else _DONTWAIT
                n = self._send(item, flags)
                self._size -= n
                budget -= n
                if n < len(item):
                    if type(item) is bytearray:
                        del item[:n]  # O(1): a bytearray moves its start (no copy)
                    else:
                        queue[0] = item[n:]
                    break
                queue.popleft()
                self._items -= 1
                if item is self._tail:
                    self._tail = None
        except BlockingIOError:
            pass
        except OSError as exc:
            self._fatal_error(exc)
            return
        finally:
            if cork and not self.closed:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        if queue:
            self._start_writing()  # progress (or the first try): the timeout starts again
            if (
                self._paused_writing
                and self._cost() <= self.config.low_water
                and self._files < QUEUED_FILES
            ):
                self._paused_writing = False
                self.protocol.resume_writing()
        else:
            self._size = 0
            self._items = 0
            self._in_files = 0
            self.deadline = _NEVER
            self._set_writing(False)
            self._drained()

    def _write_more(self) -> None:
        if not self.closed and self._queue and self.mask & EPOLLOUT:
            self.on_writable()

    def _drained(self) -> None:
        """The output queue just emptied."""
        if self._closing:
            self._force_close(None)
            return
        if self._eof_after_drain:
            self._eof_after_drain = False
            self._shutdown_write()
        if self._paused_writing:
            self._paused_writing = False
            self.protocol.resume_writing()

    def _pause_protocol(self) -> None:
        self._paused_writing = True
        self.protocol.pause_writing()

    def on_timeout(self) -> None:
        """Nothing queued was taken for ``write_timeout`` seconds: give up."""
        if self._queue or self._pending:
            self.abort()

    # -- ending -------------------------------------------------------------------

    def write_eof(self) -> None:
        """Shut down the sending side once everything queued has left."""
        if self.closed:
            return
        if self._queue or self._pending:
            self._eof_after_drain = True
        else:
            self._shutdown_write()

    def _shutdown_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self._fatal_error(exc)

    def close(self) -> None:
        """Close once everything queued has been sent; read nothing more."""
        if self._closing or self.closed:
            return
        self._closing = True
        if self._batching:
            return  # the flush after the batch closes (or stops reading, see _flush)
        if self._pending:
            self._flush()  # may close
        elif not self._queue:
            self._force_close(None)
        else:
            self._set_reading(False)

    def abort(self) -> None:
        """Close now, dropping whatever is queued. The peer sees a reset, not a FIN:
        a FIN is what ends a complete close-delimited body, a cut one must not look
        complete (nginx's reset_timedout_connection)."""
        if not self.closed:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        self._force_close(None)

    def _fatal_error(self, exc: OSError) -> None:
        """The one funnel for socket errors: the peer is gone (or worse)."""
        if not isinstance(exc, ConnectionError):
            log.debug("connection from %s:%d failed: %s", *self.client, exc)
        self._force_close(exc)

    def _force_close(self, exc: BaseException | None) -> None:
        if self.closed:
            return
        self.closed = True
        for item in self._queue:
            if type(item) is _FileJob and not item.spill:
                # A descriptor the application already closed must not stop the
                # socket from being closed and forgotten.
                with contextlib.suppress(OSError):
                    os.close(item.fd)
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        self._queue.clear()
        self._pending.clear()
        self._tail = None
        self._size = self._items = self._in_files = 0
        self._files = 0
        self.loop.forget(self.fd)
        self.sock.close()
        protocol = self.protocol
        # Break the transport <-> protocol cycle, so that reference counting frees
        # both at once instead of the cyclic GC, many connections later.
        self.protocol = _GONE
        protocol.connection_lost(exc)

    def set_protocol(self, protocol: ConnectionProtocol) -> None:
        """Hand the socket to another protocol (after a protocol switch); what it
        receives from now on goes there."""
        if not self.closed:
            self.protocol = protocol


class _Gone:
    """The protocol of a closed transport: events that still arrive go nowhere."""

    idle = closed = True
    reclaimable = False
    deadline = timer_at = _NEVER

    def _ignore(self, *args: object) -> None:
        pass

    connection_made = data_received = eof_received = connection_lost = _ignore
    pause_writing = resume_writing = on_timeout = _ignore


_GONE: Final = _Gone()
