"""The small typed interfaces between the layers (``typing.Protocol`` only).

The loop, the transport and the HTTP protocol meet here, as asyncio's loop, transports
and protocols do, so that no module imports the one above it:

- ``Loop``: what applications may use of the loop (the public part);
- ``EventLoop``: what a transport and a protocol use of it (timers, epoll registration);
- ``Timed``: anything with a deadline on the loop's timer heap;
- ``Transport``: one socket, as a protocol sees it;
- ``ConnectionProtocol``: the protocol, as a transport sees it;
- ``Connection``: an accepted connection (its transport), as the loop sees it;
- ``Clock``: what the loop refreshes once per round (the ``Date`` header's clock).

This module imports nothing from the driver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = [
    "Clock",
    "Connection",
    "ConnectionProtocol",
    "EventLoop",
    "Loop",
    "ProtocolFactory",
    "Timed",
    "Transport",
]


class Loop(Protocol):
    """The loop as applications see it."""

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn(*args)`` on the loop thread in the loop's next round (loop thread only)."""

    def call_soon_threadsafe(self, fn: Callable[..., object], *args: object) -> None:
        """``call_soon`` from any thread; wakes the loop through an eventfd."""

    def time(self) -> float:
        """The loop's clock (``time.monotonic`` at the start of this round)."""


class Timed(Protocol):
    """An object with a deadline on the timer heap. The heap is lazy: an entry is
    pushed only when ``deadline`` moves earlier than ``timer_at`` (see ``loop``)."""

    deadline: float
    timer_at: float

    @property
    def closed(self) -> bool: ...

    def on_timeout(self) -> None:
        """``deadline`` has passed (the loop has already set ``timer_at`` to infinity)."""


class EventLoop(Loop, Protocol):
    """What transports and protocols use of the loop."""

    now: float
    stopping: bool

    def schedule(self, timed: Timed) -> None:
        """Make sure the heap wakes ``timed`` no later than ``timed.deadline``."""

    def modify(self, fd: int, mask: int) -> None:
        """Change the epoll event mask of a registered socket."""

    def forget(self, fd: int) -> None:
        """The socket ``fd`` is closing: drop it from the loop."""

    def keep_idle(self, transport: Transport) -> None:
        """The connection on ``transport`` (``transport.connection``) is kept alive
        and waits for its next request. At the connection cap the loop closes the
        connection idle longest to make room for a new client, if it is still
        ``reclaimable`` then."""


class Transport(Protocol):
    """One connected socket, as a protocol sees it (see ``driver.transport``)."""

    client: tuple[str, int]
    closed: bool

    def write(self, data: bytes) -> None: ...
    def sendfile(self, fd: int, offset: int, count: int) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def write_eof(self) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def set_protocol(self, protocol: ConnectionProtocol) -> None:
        """Hand the socket to another protocol (after a protocol switch)."""

    @property
    def connection(self) -> Connection:
        """The connection as the loop knows it: the socket's own transport (this one,
        or the one under a TLS layer). ``EventLoop.keep_idle`` goes by it."""


class ConnectionProtocol(Timed, Protocol):
    """The protocol of one connection, as its transport and the loop see it. It is
    ``Timed``: the loop puts its deadline on the heap once the connection has outlived
    the read made at accept (most HTTP/1.0 clients are answered and gone by then)."""

    def connection_made(self, transport: Transport) -> None: ...
    def data_received(self, data: bytes) -> None: ...
    def eof_received(self) -> None:
        """The peer shut down its side; the transport has stopped reading."""

    def connection_lost(self, exc: BaseException | None) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...

    @property
    def idle(self) -> bool:
        """Owing the peer nothing: safe to close at shutdown."""

    @property
    def reclaimable(self) -> bool:
        """Kept alive between requests, with nothing sent or received unfinished:
        closing it loses nothing (a client retries a request on a new connection when
        an idle one closes, RFC 9112 §9.3.1). The loop may then close it to make room
        at the connection cap. Only HTTP's protocol ever says so (not a switched
        connection, not a TLS handshake)."""


class Connection(Protocol):
    """An accepted connection as the loop sees it: its transport, which answers for
    its protocol, so that the loop never reaches through one into the other."""

    closed: bool

    @property
    def idle(self) -> bool:
        """Its protocol owes the peer nothing (``ConnectionProtocol.idle``)."""

    @property
    def reclaimable(self) -> bool:
        """Its protocol may be closed at no loss (``ConnectionProtocol.reclaimable``)."""

    def on_registered(self) -> None:
        """The loop has registered the socket with epoll (it outlived the read made at
        accept): its protocol's deadline goes on the timer heap from now on."""

    def on_readable(self) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class Clock(Protocol):
    """Something the loop refreshes once per round, after its poll and before any
    handler runs (``driver.clock.DateClock``: the ``Date`` header's value)."""

    def on_wake(self) -> None: ...


ProtocolFactory = Callable[[], ConnectionProtocol]
"""Builds the protocol of each accepted connection."""
