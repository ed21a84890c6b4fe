"""The event loop: one epoll, its listeners, a timer heap, ready lists, signals.

No HTTP here: each accepted socket gets a ``SocketTransport`` and a protocol from the
factory it was given, and the loop talks to both only through ``driver.interfaces``:
to the transport as a ``Connection`` (idle? reclaimable? registered), which answers
for its protocol. What a server adds runs through the loop, not by inheritance: a
``Clock`` refreshed after each poll (the ``Date`` header's) and tasks run at the end of
every round (``every_round``: the access log's flush).

Listeners (``driver.listeners``): TCP sockets are one per worker process
(``SO_REUSEPORT``); a Unix or inherited socket is one shared by every worker, and is
registered with ``EPOLLEXCLUSIVE`` when there are several workers, so that a new
connection wakes one of them, not all. A Unix peer has no address: its transport's
``client`` is ``("unix:", 0)``, and ``TCP_NODELAY`` / ``TCP_CORK`` are never set on it.

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

Longer than the project's ~400 lines: accepting, making room at the cap, the timer
heap, signals and shutdown all work on the same few tables (transports, handlers, the
idle order). Making room (``keep_idle`` to ``_log_room_made``, ``_in_kernel`` and
``_Alarm``, about 150 lines) is the part to move into an object of its own first.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import heapq
import itertools
import logging
import operator
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
from .forwarded import UNIX_PEER
from .interfaces import Clock, Connection, ProtocolFactory, Timed, Transport
from .listeners import Listener, peer_text, unmapped
from .memory import release_free_memory
from .transport import EPOLLIN, SocketTransport

__all__ = ["Loop"]

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
_EPOLLEXCLUSIVE: Final = getattr(select, "EPOLLEXCLUSIVE", 1 << 28)
_TCP: Final = (socket.AF_INET, socket.AF_INET6)


def _unix_peer(address: object) -> tuple[str, int]:
    return UNIX_PEER, 0


def _inet6_peer(address: Any) -> tuple[str, int]:
    return unmapped(address[0]), address[1]


class _Listening:
    """One listener as the loop accepts from it: the raw accept, the ints a socket is
    built from, how a peer's address is written, what its connections are set up with."""

    __slots__ = ("accept", "fd", "ids", "listener", "mask", "nodelay", "peer", "transport_config")

    def __init__(
        self, listener: Listener, config: Config, transport_config: TransportConfig
    ) -> None:
        sock = listener.socket
        self.listener = listener
        self.fd = sock.fileno()
        # socket.accept() converts family and type to enums on every call; the raw
        # _accept() plus a socket built from the listener's (cached) ints does not.
        self.accept: Callable[[], tuple[int, Any]] = sock._accept  # type: ignore[attr-defined]
        family = int(sock.family)
        self.ids = (family, int(sock.type), sock.proto)
        tcp = family in _TCP
        self.nodelay = tcp and config.nodelay
        self.peer: Callable[[Any], tuple[str, int]]
        if family == socket.AF_INET:
            self.peer = operator.itemgetter(0, 1)
        elif family == socket.AF_INET6:
            self.peer = _inet6_peer
        else:
            self.peer = _unix_peer
        # TCP_CORK is a TCP option: a Unix socket refuses it (EOPNOTSUPP).
        self.transport_config = transport_config if tcp else transport_config.without_cork()
        self.mask = select.EPOLLIN | (_EPOLLET if config.edge_triggered else 0)
        if listener.shared and config.workers > 1:
            self.mask |= _EPOLLEXCLUSIVE  # one worker woken per connection, not all


def _no_factory() -> Any:
    raise RuntimeError("Loop.set_protocol_factory was not called")


class Loop:
    """One process's loop: owns the epoll, the listeners and every transport.

    ``factory`` makes the protocol of each accepted connection; it may be given later
    (``set_protocol_factory``), since a protocol's shared context usually needs the
    loop first. ``clock`` is refreshed after every poll."""

    def __init__(
        self,
        config: Config,
        listeners: list[Listener],
        factory: ProtocolFactory | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        if not listeners:
            raise ValueError("a loop needs at least one listener")
        self.config = config
        self.listeners = listeners
        self.factory: ProtocolFactory = factory or _no_factory
        self.clock = clock
        self._round_tasks: list[Callable[[], object]] = []
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
        self._idle: OrderedDict[Connection, None] = OrderedDict()
        self._held: OrderedDict[Connection, None] = OrderedDict()
        self._retry = _Alarm(self._look_again)
        self._reclaimed = 0  # since the last log line about it
        self._reclaim_logged = -_RECLAIM_LOG_INTERVAL
        self._listening = [_Listening(one, config, self.transport_config) for one in listeners]
        self._listen_poll = select.poll()
        for listening in self._listening:
            self._listen_poll.register(listening.fd, select.POLLIN)
        self._wake_r, self._wake_w = socket.socketpair()
        self._signalled = False

    # -- what a server adds -----------------------------------------------------------

    def set_protocol_factory(self, factory: ProtocolFactory) -> None:
        """Make each accepted connection's protocol with ``factory`` (before ``run``)."""
        self.factory = factory

    def every_round(self, task: Callable[[], object]) -> None:
        """Run ``task()`` at the end of every round, after the ready callbacks, and once
        more as the loop ends (the access log flushes its lines so)."""
        self._round_tasks.append(task)

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
        # By the socket's own transport (under a TLS layer too): forget() drops it.
        connection = transport.connection
        idle = self._idle
        idle[connection] = None
        idle.move_to_end(connection)  # idle again: the newest
        if self._held:
            self._held.pop(connection, None)
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
            if not isinstance(transport, SocketTransport) or not transport.reclaimable:
                continue  # busy again (or closed): queued anew when next idle
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
        peer = peer_text(*transport.client)
        log.exception("internal error on the connection from %s; closing it", peer)
        try:
            transport.abort()
        except Exception:
            log.exception("closing the connection from %s failed", peer)
        fd = transport.fd
        if self.transports.get(fd) is transport:
            # abort() failed part-way: forget the connection all the same.
            self.forget(fd)
            with contextlib.suppress(OSError):
                transport.sock.close()

    # -- accepting ------------------------------------------------------------------

    def _start_accepting(self) -> None:
        # Registered anew each time (EPOLLEXCLUSIVE refuses EPOLL_CTL_MOD).
        for listening in self._listening:
            self.epoll.register(listening.fd, listening.mask)
        self._accepting = True

    def _stop_accepting(self) -> None:
        if self._accepting:
            for listening in self._listening:
                self.epoll.unregister(listening.fd)
            self._accepting = False

    def _on_listener(self, listening: _Listening, mask: int) -> None:
        accept = listening.accept
        make_socket = socket.socket
        family, kind, proto = listening.ids
        peer = listening.peer
        transports = self.transports
        handlers = self.handlers
        register = self.epoll.register
        factory = self.factory
        transport_config = listening.transport_config
        cap = self.config.max_connections
        nodelay = listening.nodelay
        for _ in range(_ACCEPTS_PER_ROUND):
            if len(transports) >= cap:
                if self._idle and not self._pending():
                    return  # listening on: a client that comes will have room made
                if not self._make_room():
                    if self._idle:
                        # Not all looked at: the next ones in the next round (level-
                        # triggered, the waiting client raises the listener again).
                        if self.flags & _EPOLLET:
                            self.call_soon(self._accept_more, listening)
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
            transport = SocketTransport(self, sock, peer(address), factory(), transport_config)
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
            transport.on_registered()
        if self.flags & _EPOLLET:
            # More may be waiting, and no new edge will say so.
            self.call_soon(self._accept_more, listening)

    def _accept_more(self, listening: _Listening) -> None:
        if self._accepting:
            self._on_listener(listening, 0)

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
            if transport.closed or not transport.idle:
                continue
            if transport.mask & EPOLLIN:
                # A request that has already arrived is answered (with Connection:
                # close: the loop is stopping); only then is the connection idle.
                try:
                    transport.on_readable()
                except Exception:
                    self.fail(transport)
            if not transport.closed and transport.idle:
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
        """A timer or callback raised: fail the connection it belongs to, if any. The
        owner is what the callback was bound to: a transport, a TLS layer (each has
        its ``connection``), or a protocol or exchange (through its ``transport``)."""
        transport = getattr(owner, "transport", owner)
        connection = getattr(transport, "connection", None)
        if isinstance(connection, SocketTransport) and not connection.closed:
            self.fail(connection)
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
        for listening in self._listening:
            self.handlers[listening.fd] = functools.partial(self._on_listener, listening)
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
            self._end_round()
            self.epoll.close()
            for listener in self.listeners:
                listener.close()  # a Unix path is removed by the process that bound it
            self._wake_r.close()
            self._wake_w.close()
            with self._eventfd_lock:
                os.close(self._eventfd)
                self._eventfd_closed = True

    def _end_round(self) -> None:
        for task in self._round_tasks:
            task()

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
        clock = self.clock
        round_tasks = self._round_tasks
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
            if clock is not None:
                clock.on_wake()
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
            for task in round_tasks:
                task()


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
