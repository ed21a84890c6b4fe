"""The event loop: one epoll, one listener, a timer heap, signals.

Theory of operation. ``epoll.poll`` returns ready descriptors; each maps to a bound
handler (``handlers[fd](mask)``), so dispatch is one dict lookup and one call; an
exception escaping a transport (a bug) is logged and closes that connection only. The
listener accepts until ``EAGAIN`` (or until ``max_connections``, when it is taken out
of the epoll set until a connection closes). Timeouts live on each transport as a
``deadline``; a heap holds ``(when, serial, transport)`` entries and the poll timeout
is the earliest of them. Entries are lazy: a transport pushes a new one only when its
deadline moves *earlier* than its earliest entry; when an entry comes due and the
deadline has moved later, it is pushed again. The common case, a deadline pushed
later by another request, costs one float store and no heap work. Entries of closed
transports are dropped when they surface, and the heap is rebuilt if they pile up.

Signals arrive through ``signal.set_wakeup_fd`` on a socketpair in the epoll set, so
SIGTERM/SIGINT wake the loop at once. Shutdown stops accepting, closes idle
connections, lets the others finish their current response, and gives up after the
grace period.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import logging
import select
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import sansio

from .app import App, Reply
from .config import Config
from .log import AccessLog
from .transport import Prepared, Transport, prepare

__all__ = ["Server", "make_listener"]

log = logging.getLogger("driver")

_EPOLLET = select.EPOLLET
_NEVER = float("inf")
_ACCEPT_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def make_listener(config: Config, *, reuse_port: bool = False) -> socket.socket:
    """A bound, listening, non-blocking socket for ``config.host:config.port``."""
    infos = socket.getaddrinfo(
        config.host, config.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(config.backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Server:
    """One process's loop: owns the epoll, the listener and every transport."""

    def __init__(
        self,
        app: App,
        config: Config,
        listener: socket.socket,
        access_log: AccessLog | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.listener = listener
        self.access_log = access_log
        self.limits = sansio.Limits(max_body_size=config.max_body_size or None)
        self.edge_triggered = config.edge_triggered
        self.recv_size = config.recv_size
        self.high_water = config.high_water
        self.keepalive_timeout = config.keepalive_timeout
        self.epoll = select.epoll()
        # Edge-triggered sockets also ask for EPOLLRDHUP: a FIN that arrives with the
        # last data must be noticed without a new edge (see Transport.on_readable).
        self.flags = (_EPOLLET | select.EPOLLRDHUP) if config.edge_triggered else 0
        self.now = time.monotonic()
        self.stopping = False
        self.transports: dict[int, Transport] = {}
        self.handlers: dict[int, Callable[[int], None]] = {}
        self.heap: list[tuple[float, int, Transport]] = []
        self._serial = 0
        self._closed_since_compact = 0
        self._accepting = False
        self.memo: dict[bytes, tuple[Reply, Prepared]] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._listener_ids = (int(listener.family), int(listener.type), listener.proto)
        self._signalled = False

    # -- the transports' side ----------------------------------------------------

    def prepared(self, reply: Reply, version: bytes) -> Prepared:
        """The events for ``reply``; reuses them when the app returns the same object."""
        memo = self.memo.get(version)
        if memo is not None and memo[0] is reply:
            return memo[1]
        result = prepare(reply, b"1.1" if version == b"1.1" else b"1.0")
        if type(reply.body) is bytes:  # not a file, nor a buffer that may change
            self.memo[version] = (reply, result)
        return result

    def schedule(self, transport: Transport) -> None:
        """Make sure a heap entry comes due no later than ``transport.deadline``."""
        self._serial += 1
        transport.timer_at = transport.deadline
        heapq.heappush(self.heap, (transport.deadline, self._serial, transport))

    def modify(self, transport: Transport) -> None:
        if transport.registered:
            with contextlib.suppress(OSError):
                self.epoll.modify(transport.fd, transport.mask | self.flags)

    def forget(self, transport: Transport) -> None:
        """Called by a transport as it closes."""
        fd = transport.fd
        del self.transports[fd]
        del self.handlers[fd]
        # Closing the socket removes it from the epoll set; no unregister call needed.
        self._closed_since_compact += 1
        if not self._accepting and not self.stopping:
            # Re-adding the listener re-polls it, so connections that queued up in the
            # backlog meanwhile raise an event even when edge-triggered.
            self._start_accepting()

    def fail(self, transport: Transport) -> None:
        """An exception escaped ``transport`` (a bug, in the driver or in what the
        application handed it): log it with its traceback and drop that connection
        only. Called from an ``except`` block."""
        host, port = transport.client
        log.exception("internal error on the connection from %s:%d; closing it", host, port)
        try:
            transport.abort()
        except Exception:
            log.exception("closing the connection from %s:%d failed", host, port)
        fd = transport.fd
        if self.transports.get(fd) is transport:
            # close() failed part-way: forget the connection all the same.
            del self.transports[fd]
            self.handlers.pop(fd, None)
            with contextlib.suppress(OSError):
                transport.sock.close()

    # -- accepting ------------------------------------------------------------------

    def _start_accepting(self) -> None:
        self.epoll.register(self.listener.fileno(), select.EPOLLIN | self.flags)
        self._accepting = True

    def _stop_accepting(self) -> None:
        if self._accepting:
            self.epoll.unregister(self.listener.fileno())
            self._accepting = False

    def _on_listener(self, mask: int) -> None:
        # socket.accept() converts family and type to enums on every call; the raw
        # _accept() plus a socket built from the listener's (cached) ints does not.
        accept: Callable[[], tuple[int, Any]] = self.listener._accept  # type: ignore[attr-defined]
        make_socket = socket.socket
        family, kind, proto = self._listener_ids
        transports = self.transports
        handlers = self.handlers
        register = self.epoll.register
        cap = self.config.max_connections
        nodelay = self.config.nodelay
        while True:
            if len(transports) >= cap:
                self._stop_accepting()
                return
            try:
                fd, address = accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in _ACCEPT_ERRORS:
                    # Out of descriptors or memory: wait for a connection to close.
                    log.warning("accept failed: %s; pausing the listener", exc)
                    self._stop_accepting()
                    return
                continue  # ECONNABORTED and friends: the client gave up; go on.
            sock = make_socket(family, kind, proto, fd)
            if nodelay:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = Transport(self, sock, address[:2])
            fd = transport.fd
            transports[fd] = transport
            handlers[fd] = transport.on_event
            # Read before registering: a client that connects and sends at once (ab,
            # most HTTP/1.0 clients) is often answered and closed right here, and
            # then costs no epoll_ctl and no trip through epoll_wait.
            try:
                transport.on_readable()
            except Exception:
                self.fail(transport)
            if transport.closed:
                continue
            if transport.timer_at == _NEVER:
                self.schedule(transport)
            register(fd, transport.mask | self.flags)
            transport.registered = True

    # -- signals and shutdown ----------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signalled = True

    def _on_wakeup(self, mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(256):
                pass
        if self._signalled and not self.stopping:
            self.stop()

    def stop(self) -> None:
        """Begin a graceful shutdown (also what SIGTERM and SIGINT do)."""
        if self.stopping:
            return
        log.info("shutting down: finishing %d connection(s)", len(self.transports))
        self.stopping = True
        self._stop_accepting()
        for transport in list(self.transports.values()):
            if transport.idle:
                transport.close()

    # -- the loop ---------------------------------------------------------------------

    def _expire(self) -> None:
        heap = self.heap
        now = self.now
        while heap and heap[0][0] <= now:
            when, _serial, transport = heapq.heappop(heap)
            if transport.closed or transport.timer_at != when:
                continue
            if transport.deadline > now:
                self.schedule(transport)
            else:
                transport.timer_at = float("inf")
                try:
                    transport.on_timeout()
                except Exception:
                    self.fail(transport)
        if self._closed_since_compact > 4096 and self._closed_since_compact > len(heap) // 2:
            self.heap = [entry for entry in heap if not entry[2].closed]
            heapq.heapify(self.heap)
            self._closed_since_compact = 0

    def run(self, *, install_signals: bool = True) -> None:
        """Serve until stopped; return once every connection is closed."""
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.handlers[self._wake_r.fileno()] = self._on_wakeup
        self.epoll.register(self._wake_r.fileno(), select.EPOLLIN)
        self.handlers[self.listener.fileno()] = self._on_listener
        self._start_accepting()
        previous = {}
        old_wakeup = -1
        if install_signals:
            old_wakeup = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        try:
            self._run()
        finally:
            if install_signals:
                signal.set_wakeup_fd(old_wakeup)
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
            for transport in list(self.transports.values()):
                transport.close()
            if self.access_log is not None:
                self.access_log.flush()
            self.epoll.close()
            self.listener.close()
            self._wake_r.close()
            self._wake_w.close()

    def _run(self) -> None:
        poll = self.epoll.poll
        handlers = self.handlers
        heap = self.heap
        access_log = self.access_log
        monotonic = time.monotonic
        give_up = float("inf")
        while True:
            if self.stopping:
                if not self.transports:
                    return
                if give_up == float("inf"):
                    give_up = self.now + self.config.grace_period
                elif self.now >= give_up:
                    log.warning("grace period over: closing %d connection(s)", len(self.transports))
                    return
            heap = self.heap
            if heap:
                timeout = max(0.0, heap[0][0] - self.now) + 0.001
                if self.stopping:
                    timeout = min(timeout, max(0.0, give_up - self.now) + 0.001)
            elif self.stopping:
                timeout = max(0.0, give_up - self.now) + 0.001
            else:
                timeout = -1
            events = poll(timeout)
            self.now = monotonic()
            for fd, mask in events:
                handler = handlers.get(fd)
                if handler is None:
                    continue  # closed by an earlier handler of this batch
                try:
                    handler(mask)
                except Exception:
                    transport = getattr(handler, "__self__", None)
                    if not isinstance(transport, Transport):
                        raise  # the listener or the wake-up socket: a bug in the loop
                    self.fail(transport)
            if heap and heap[0][0] <= self.now:
                self._expire()
            if access_log is not None:
                access_log.flush()

    def stop_threadsafe(self) -> None:
        """Ask the loop, from any thread or a signal handler, to shut down gracefully."""
        self._signalled = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
