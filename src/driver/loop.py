"""The event loop: one epoll, one listener, a timer heap, ready lists, signals.

No HTTP here: each accepted socket gets a ``SocketTransport`` and a protocol from the
factory it was given, and the loop talks to both only through ``driver.interfaces``.

Theory of operation. Each round: ``epoll.poll`` (timeout 0 if callbacks are ready,
else until the earliest timer); every ready descriptor maps to a bound handler
(``handlers[fd](mask)``), so dispatch is one dict lookup and one call; then due timers;
then the callbacks that were ready when the round began (``call_soon``), so work
queued by a callback waits for the next round and nothing recurses. An exception
escaping a connection's code (a bug) is logged and closes that connection only.

Timers: anything ``Timed`` has a ``deadline``; the heap holds ``(when, serial,
timed)`` entries. Entries are lazy: one is pushed only when a deadline moves *earlier*
than the earliest entry of its owner; when an entry comes due and the deadline has
moved later, it is pushed again. A deadline pushed later by another request costs one
float store and no heap work. Entries hold weak references, so a closed connection is
freed at once; its entries are dropped when they surface.

``call_soon_threadsafe`` appends to a deque and writes to an eventfd in the epoll set,
so another thread wakes the loop at once. Signals arrive through
``signal.set_wakeup_fd`` on a socketpair (it writes single bytes, which an eventfd
refuses). Shutdown stops accepting, closes idle connections, lets the others finish
their current response, and gives up after the grace period.

At the connection cap, idle kept-alive connections make room, as nginx's
``ngx_drain_connections`` does: a protocol tells the loop when it starts
waiting for its next request (``keep_idle``), the loop keeps those connections in the
order they became idle, and for each new client waiting beyond the cap it closes the
one idle longest that is still ``reclaimable`` and holds nothing in the kernel: no
part of its last answer unsent or unacknowledged, no next request arrived but not yet
read (closing then would send a reset, which destroys both). An entry whose
connection has become busy again is dropped on the way; it is queued anew when it
next becomes idle. One that holds bytes in the kernel is set aside (``_held``) and
looked at again, oldest first, a few every ``_RECLAIM_RETRY`` seconds while a client
waits: a client slow to read its last answer neither loses it nor keeps the others
from making room, and no event would say when its bytes have gone. The listener stays
registered while idle connections remain, so that a new client finds room at once;
only when none is left does it stop, and new clients wait in the kernel backlog for a
connection to close or become idle. At most ``_RECLAIM_SCAN`` are looked at for one
new client in one round (the next ones in the next round). Connections that have not
sent their first request are never closed to make room: they may be sending it now.
Out of descriptors below the cap (``EMFILE``) nothing is closed either, as in nginx: a
flood of connections that send nothing would otherwise evict every real client; the
listener pauses until a connection closes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import heapq
import itertools
import logging
import os
import select
import signal
import socket
import struct
import termios
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from types import FrameType
from typing import Any, Final

from .config import Config, TransportConfig
from .interfaces import ProtocolFactory, Timed, Transport
from .memory import release_free_memory
from .transport import EPOLLIN, SocketTransport

__all__ = ["Loop", "make_listener"]

log = logging.getLogger("driver")

_EPOLLET = select.EPOLLET
_NEVER = float("inf")
_ACCEPT_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
# Making room at the cap is logged at most this often (it may happen on every accept).
_RECLAIM_LOG_INTERVAL = 60.0
# Idle connections looked at for one new client in one round, at most (nginx drains
# 32 at a time), and set-aside ones looked at again per retry.
_RECLAIM_SCAN = 32
# Seconds between looks at the idle connections set aside for holding bytes in the
# kernel, while a new client waits: well inside the 100 ms a newcomer may wait.
_RECLAIM_RETRY = 0.02
_INT = struct.pack("i", 0)
# After connections have closed, free memory goes back to the system at most this
# often (see driver.memory).
_TRIM_INTERVAL = 1.0
# Connections accepted in one round: each is read at once, so a burst of connects
# (pipelining, perhaps, and resetting) is taken in slices, between other clients.
_ACCEPTS_PER_ROUND = 16


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


class Loop:
    """One process's loop: owns the epoll, the listener and every transport."""

    def __init__(self, config: Config, listener: socket.socket, factory: ProtocolFactory) -> None:
        self.config = config
        self.listener = listener
        self.factory = factory
        self.transport_config = TransportConfig(
            recv_size=config.recv_size,
            high_water=config.high_water,
            low_water=config.low_water,
            write_timeout=config.body_timeout,
            edge_triggered=config.edge_triggered,
            cork=config.cork,
        )
        self.epoll = select.epoll()
        # Edge-triggered sockets also ask for EPOLLRDHUP: a FIN that arrives with the
        # last data must be noticed without a new edge (see SocketTransport.on_readable).
        self.flags = (_EPOLLET | select.EPOLLRDHUP) if config.edge_triggered else 0
        self.now = time.monotonic()
        self.stopping = False
        self.transports: dict[int, SocketTransport] = {}
        self.handlers: dict[int, Callable[[int], None]] = {}
        self.heap: list[tuple[float, int, weakref.ref[Timed]]] = []
        self._serial = 0
        self._closed_since_compact = 0
        # Out of descriptors at this many connections (0: not now); logged once per
        # burst, not on every retry as connections come and go at the limit.
        self._fd_ceiling = 0
        self._closed_since_trim = 0
        self._trim_at = _NEVER
        self._ready: deque[tuple[Callable[..., object], tuple[object, ...]]] = deque()
        self._threadsafe: deque[tuple[Callable[..., object], tuple[object, ...]]] = deque()
        self._eventfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        # Held while the eventfd is written or closed: a worker thread must never
        # write to its number once closed (it may be a log file or a socket by then).
        self._eventfd_lock = threading.Lock()
        self._eventfd_closed = False
        self._accepting = False
        # Kept-alive connections waiting for their next request, longest idle first,
        # and those of them set aside for holding bytes in the kernel (see above).
        self._idle: OrderedDict[Transport, None] = OrderedDict()
        self._held: OrderedDict[Transport, None] = OrderedDict()
        self._retry = _Alarm(self._look_again)
        self._reclaimed = 0  # since the last log line about it
        self._reclaim_logged = -_RECLAIM_LOG_INTERVAL
        self._listen_poll = select.poll()
        self._listen_poll.register(listener.fileno(), select.POLLIN)
        self._wake_r, self._wake_w = socket.socketpair()
        self._listener_ids = (int(listener.family), int(listener.type), listener.proto)
        self._signalled = False

    # -- the public face (driver.interfaces.Loop) -----------------------------------

    def time(self) -> float:
        return self.now

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        self._ready.append((fn, args))

    def call_soon_threadsafe(self, fn: Callable[..., object], *args: object) -> None:
        with self._eventfd_lock:
            if self._eventfd_closed:
                return  # the loop has ended: nothing would ever run it
            self._threadsafe.append((fn, args))  # deque.append is atomic
            os.eventfd_write(self._eventfd, 1)

    # -- what transports and protocols use ---------------------------------------------

    def schedule(self, timed: Timed) -> None:
        """Make sure a heap entry comes due no later than ``timed.deadline``."""
        self._serial += 1
        timed.timer_at = timed.deadline
        # A weak reference: a connection that closes is freed at once, with its
        # buffers, instead of living on in the heap until its deadline (a header
        # timeout of 60 s, for thousands of rejected connections).
        heapq.heappush(self.heap, (timed.deadline, self._serial, weakref.ref(timed)))

    def modify(self, fd: int, mask: int) -> None:
        with contextlib.suppress(OSError):
            self.epoll.modify(fd, mask | self.flags)

    def forget(self, fd: int) -> None:
        """Called by a transport as it closes."""
        # Closing the socket removes it from the epoll set; no unregister call needed.
        transport = self.transports.pop(fd, None)
        if transport is not None:
            if self._idle:
                self._idle.pop(transport, None)
            if self._held:
                self._held.pop(transport, None)
        self.handlers.pop(fd, None)
        if not self._closed_since_trim:
            self._trim_at = self.now + _TRIM_INTERVAL
        self._closed_since_trim += 1
        self._closed_since_compact += 1
        if self._closed_since_compact > 1024 and 2 * self._closed_since_compact > len(self.heap):
            self._compact()
        if not self._accepting and not self.stopping:
            # Re-adding the listener re-polls it, so connections that queued up in the
            # backlog meanwhile raise an event even when edge-triggered.
            self._start_accepting()

    def keep_idle(self, transport: Transport) -> None:
        idle = self._idle
        idle[transport] = None
        idle.move_to_end(transport)  # idle again: the newest
        if self._held:
            self._held.pop(transport, None)
        if not self._accepting and not self.stopping and not self._fd_ceiling:
            # Stopped at the cap: this one can make room for a client in the backlog.
            self._start_accepting()

    def _pending(self) -> bool:
        """Whether a connection waits to be accepted (asked at the cap only: an idle
        connection is closed for a client that is there, never for one that may come)."""
        return bool(self._listen_poll.poll(0))

    def _make_room(self) -> bool:
        """Close the connection idle longest that can go at no loss; whether one did.
        Looks at ``_RECLAIM_SCAN`` at most: ``False`` with ``_idle`` not empty means
        that the next ones are for the next round."""
        idle = self._idle
        for _ in range(_RECLAIM_SCAN):
            if not idle:
                return False
            transport, _ = idle.popitem(last=False)
            # Only HTTP's protocol says (interfaces.Reclaimable); a switched one never is.
            if (
                not isinstance(transport, SocketTransport)
                or transport.closed
                or not getattr(transport.protocol, "reclaimable", False)
            ):
                continue  # busy again: queued anew when next idle
            if _in_kernel(transport.sock):
                self._held[transport] = None  # looked at again later (_look_again)
                continue
            transport.close()  # nothing is queued: closed (and forgotten) at once
            self._log_room_made()
            return True
        return False

    def _look_again(self) -> None:
        """The retry alarm: the connections set aside longest go back to the front of
        the idle ones (a few at a time, so that a crowd of slow readers costs little),
        and the listener resumes, if a client is still waiting."""
        held, idle = self._held, self._idle
        for transport in reversed(list(itertools.islice(held, _RECLAIM_SCAN))):
            del held[transport]
            idle[transport] = None
            idle.move_to_end(transport, last=False)  # the oldest ends up in front
        if not self._accepting and not self.stopping and not self._fd_ceiling:
            self._start_accepting()  # re-polls the backlog: a waiting client comes again

    def _log_room_made(self) -> None:
        self._reclaimed += 1
        if self.now - self._reclaim_logged >= _RECLAIM_LOG_INTERVAL:
            log.warning(
                "making room for new clients: closed %d idle kept-alive connection(s) "
                "(%d open, --max-connections %d)",
                self._reclaimed,
                len(self.transports),
                self.config.max_connections,
            )
            self._reclaim_logged = self.now
            self._reclaimed = 0

    def fail(self, transport: SocketTransport) -> None:
        """An exception escaped the code of ``transport``'s connection (a bug, in the
        driver or in what the application handed it): log it with its traceback and
        drop that connection only. Called from an ``except`` block."""
        host, port = transport.client
        log.exception("internal error on the connection from %s:%d; closing it", host, port)
        try:
            transport.abort()
        except Exception:
            log.exception("closing the connection from %s:%d failed", host, port)
        fd = transport.fd
        if self.transports.get(fd) is transport:
            # abort() failed part-way: forget the connection all the same.
            self.forget(fd)
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
        factory = self.factory
        transport_config = self.transport_config
        cap = self.config.max_connections
        nodelay = self.config.nodelay
        for _ in range(_ACCEPTS_PER_ROUND):
            if len(transports) >= cap:
                if self._idle and not self._pending():
                    return  # listening on: a client that comes will have room made
                if not self._make_room():
                    if self._idle:
                        # Not all looked at: the next ones in the next round (level-
                        # triggered, the waiting client raises the listener again).
                        if self.flags & _EPOLLET:
                            self.call_soon(self._accept_more)
                        return
                    self._stop_accepting()  # until a connection closes or idles
                    if self._held:
                        self._retry.arm(self)  # or the held ones' bytes are gone
                    return
            try:
                fd, address = accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in _ACCEPT_ERRORS:
                    # Out of descriptors or memory: wait for a connection to close.
                    # Each close retries, so only the first failure of a burst is logged.
                    if not self._fd_ceiling:
                        self._fd_ceiling = max(1, len(transports))
                        log.warning(
                            "accept failed: %s; pausing the listener until a connection closes",
                            exc,
                        )
                    self._stop_accepting()
                    return
                continue  # ECONNABORTED and friends: the client gave up; go on.
            if self._fd_ceiling and len(transports) < self._fd_ceiling * 0.9:
                self._fd_ceiling = 0  # well below the limit again: the burst is over
            sock = make_socket(family, kind, proto, fd)
            if nodelay:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = SocketTransport(self, sock, address[:2], factory(), transport_config)
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
            register(fd, transport.mask | self.flags)
            transport.registered = True
            protocol = transport.protocol
            if protocol.deadline < protocol.timer_at:
                self.schedule(protocol)
        if self.flags & _EPOLLET:
            # More may be waiting, and no new edge will say so.
            self.call_soon(self._accept_more)

    def _accept_more(self) -> None:
        if self._accepting:
            self._on_listener(0)

    # -- signals and shutdown ----------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signalled = True

    def _on_wakeup(self, mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(256):
                pass
        if self._signalled and not self.stopping:
            self.stop()

    def _on_eventfd(self, mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._eventfd)
        threadsafe = self._threadsafe
        ready = self._ready
        while threadsafe:
            ready.append(threadsafe.popleft())

    def stop(self) -> None:
        """Begin a graceful shutdown (also what SIGTERM and SIGINT do)."""
        if self.stopping:
            return
        log.info("shutting down: finishing %d connection(s)", len(self.transports))
        self.stopping = True
        self._stop_accepting()
        for transport in list(self.transports.values()):
            if not transport.protocol.idle or transport.closed:
                continue
            if transport.mask & EPOLLIN:
                # A request that has already arrived is answered (with Connection:
                # close: the loop is stopping); only then is the connection idle.
                try:
                    transport.on_readable()
                except Exception:
                    self.fail(transport)
            if not transport.closed and transport.protocol.idle:
                transport.close()

    def stop_threadsafe(self) -> None:
        """Ask the loop, from any thread or a signal handler, to shut down gracefully."""
        self._signalled = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # -- the loop ---------------------------------------------------------------------

    def _expire(self) -> None:
        now = self.now
        # self.heap, not a local: a timeout that closes a connection may compact it.
        while self.heap and self.heap[0][0] <= now:
            when, _serial, ref = heapq.heappop(self.heap)
            timed = ref()
            if timed is None or timed.closed or timed.timer_at != when:
                continue
            if timed.deadline > now:
                if timed.deadline != _NEVER:
                    self.schedule(timed)
                else:
                    timed.timer_at = _NEVER
                continue
            timed.timer_at = _NEVER
            try:
                timed.on_timeout()
            except Exception:
                self._failed(timed)

    def _compact(self) -> None:
        """Drop the entries of connections that are gone (in place: ``_expire`` may
        be walking the heap when a timeout closes a connection)."""
        heap = self.heap
        heap[:] = [entry for entry in heap if _alive(entry[2])]
        heapq.heapify(heap)
        self._closed_since_compact = 0

    def _failed(self, owner: object) -> None:
        """A timer or callback raised: fail the connection it belongs to, if any."""
        transport = getattr(owner, "transport", owner)
        if isinstance(transport, SocketTransport) and not transport.closed:
            self.fail(transport)
        else:
            log.exception("error in a loop callback of %r", owner)

    def run(self, *, install_signals: bool = True) -> None:
        """Serve until stopped; return once every connection is closed."""
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.handlers[self._wake_r.fileno()] = self._on_wakeup
        self.epoll.register(self._wake_r.fileno(), select.EPOLLIN)
        self.handlers[self._eventfd] = self._on_eventfd
        self.epoll.register(self._eventfd, select.EPOLLIN)
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
                transport.abort()
            self._run_ready()  # connection_lost callbacks
            self.tick()
            self.epoll.close()
            self.listener.close()
            self._wake_r.close()
            self._wake_w.close()
            with self._eventfd_lock:
                os.close(self._eventfd)
                self._eventfd_closed = True

    def on_wake(self) -> None:
        """Called once per round, after the poll (the Date header is refreshed here)."""

    def tick(self) -> None:
        """Called once per round, after the callbacks (the access log flushes here)."""

    def _run_ready(self) -> None:
        ready = self._ready
        for _ in range(len(ready)):
            fn, args = ready.popleft()
            try:
                fn(*args)
            except Exception:
                self._failed(getattr(fn, "__self__", fn))

    def _run(self) -> None:
        poll = self.epoll.poll
        handlers = self.handlers
        ready = self._ready
        monotonic = time.monotonic
        give_up = _NEVER
        while True:
            if self.stopping:
                if not self.transports:
                    return
                if give_up == _NEVER:
                    give_up = self.now + self.config.grace_period
                elif self.now >= give_up:
                    log.warning("grace period over: closing %d connection(s)", len(self.transports))
                    return
            heap = self.heap
            if ready:
                timeout = 0.0
            elif heap:
                timeout = max(0.0, heap[0][0] - self.now) + 0.001
                if self.stopping:
                    timeout = min(timeout, max(0.0, give_up - self.now) + 0.001)
            elif self.stopping:
                timeout = max(0.0, give_up - self.now) + 0.001
            else:
                timeout = -1
            if self._closed_since_trim:
                wait = max(0.0, self._trim_at - self.now) + 0.001
                timeout = wait if timeout < 0 else min(timeout, wait)
            events = poll(timeout)
            self.now = monotonic()
            self.on_wake()
            if self._signalled and not self.stopping:
                # The signal handler has run, but the wake-up socket may come last in
                # this batch: stop first, so that a request in the same batch is
                # answered with Connection: close rather than kept alive and closed.
                self.stop()
            for fd, mask in events:
                handler = handlers.get(fd)
                if handler is None:
                    continue  # closed by an earlier handler of this batch
                try:
                    handler(mask)
                except Exception:
                    transport = getattr(handler, "__self__", None)
                    if not isinstance(transport, SocketTransport):
                        raise  # the listener or a wake-up descriptor: a bug in the loop
                    self.fail(transport)
            heap = self.heap
            if heap and heap[0][0] <= self.now:
                self._expire()
            if ready:
                self._run_ready()
            if self._closed_since_trim and self.now >= self._trim_at:
                self._closed_since_trim = 0
                # Entries of closed connections first: they would pin the memory of
                # the burst they were allocated in.
                self._compact()
                release_free_memory()
            self.tick()


def _in_kernel(sock: socket.socket) -> bool:
    """Whether the kernel holds bytes of this connection: sent to the peer but not yet
    acknowledged, or unsent (SIOCOUTQ), or received and not yet read (SIOCINQ). A
    connection closed with some would reset (unread input) or may be reset (the peer
    writes before it has read all), and a reset destroys what the peer has not read."""
    fd = sock.fileno()
    try:
        for request in (termios.TIOCOUTQ, termios.FIONREAD):
            if struct.unpack("i", fcntl.ioctl(fd, request, _INT))[0]:
                return True
    except OSError:
        pass
    return False


class _Alarm:
    """One deadline of the loop's own on the timer heap (``interfaces.Timed``): calls
    ``fire`` once it has passed. The loop holds it (the heap holds weak references)."""

    __slots__ = ("__weakref__", "deadline", "fire", "timer_at")

    closed: Final = False

    def __init__(self, fire: Callable[[], object]) -> None:
        self.fire = fire
        self.deadline = _NEVER
        self.timer_at = _NEVER

    def arm(self, loop: Loop) -> None:
        """Due in ``_RECLAIM_RETRY`` seconds (unless already due sooner)."""
        self.deadline = min(self.deadline, loop.now + _RECLAIM_RETRY)
        if self.deadline < self.timer_at:
            loop.schedule(self)

    def on_timeout(self) -> None:
        self.deadline = _NEVER
        self.fire()


def _alive(ref: weakref.ref[Timed]) -> bool:
    timed = ref()
    return timed is not None and not timed.closed
