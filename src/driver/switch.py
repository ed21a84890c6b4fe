"""Handing a connection over to another protocol: WebSocket after ``101``, a tunnel
after ``CONNECT``.

A streaming application calls ``exchange.switch_protocol(protocol, headers)`` on an
exchange whose request asked to switch (``Upgrade`` in HTTP/1.1, or the method
``CONNECT``). Once the request has ended, the server answers ``101 Switching
Protocols`` (or ``200 Connection Established`` to CONNECT) through the core, which
moves both sides to ``SWITCHED_PROTOCOL``; from then on HTTP is over on that socket.
The socket's transport is handed to ``protocol``, an asyncio-style object, and the
bytes the client sent after the request head (``trailing_data``: a WebSocket frame
sent without waiting for the answer, a TLS hello) are its first ``data_received``.

The transport is the same one HTTP used (``driver.interfaces.Transport``: ``write``,
``write_eof``, ``pause_reading``/``resume_reading``, ``get_write_buffer_size``,
``close`` that flushes first, ``abort``), with the same high/low water marks calling
the protocol's ``pause_writing``/``resume_writing`` when it has them; one without them
gets TCP's backpressure instead (the server stops reading its socket while its output is
above high water, so an echo cannot outrun a client that does not read), and what a
protocol writes on past the budget regardless goes to a temporary file, not to memory
(``driver.spill``). The server sets
no timeout on a switched connection (the new protocol has its own idea of idle, as
with asyncio); at shutdown it gets the grace period, then it is closed.
"""

from __future__ import annotations

from typing import Final, Protocol

from .interfaces import Transport

__all__ = ["SwitchedConnection", "SwitchedProtocol"]

_NEVER: Final = float("inf")


class SwitchedProtocol(Protocol):
    """What takes a connection over after a protocol switch (asyncio's ``Protocol``
    shape; ``pause_writing`` and ``resume_writing`` are optional)."""

    def connection_made(self, transport: Transport) -> None: ...
    def data_received(self, data: bytes) -> None: ...
    def eof_received(self) -> None: ...
    def connection_lost(self, exc: BaseException | None) -> None: ...


class SwitchedConnection:
    """The transport's protocol after a switch (implements
    ``interfaces.ConnectionProtocol``): forwards to the application's protocol and
    keeps the loop's timer and shutdown bookkeeping out of its way."""

    __slots__ = ("closed", "deadline", "held", "protocol", "timer_at", "transport")

    def __init__(self, protocol: SwitchedProtocol) -> None:
        self.protocol = protocol
        self.transport: Transport | None = None
        self.held = False  # reading paused for a protocol that has no pause_writing
        self.closed = False
        self.deadline = _NEVER  # no server timeout: the new protocol decides
        self.timer_at = _NEVER

    @property
    def idle(self) -> bool:
        return False  # a live conversation: it gets the grace period at shutdown

    reclaimable = idle  # nor is it closed to make room at the connection cap

    def connection_made(self, transport: Transport) -> None:
        self.transport = transport
        self.protocol.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.protocol.data_received(data)

    def eof_received(self) -> None:
        self.protocol.eof_received()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        pause = getattr(self.protocol, "pause_writing", None)
        if pause is not None:
            pause()
        elif self.transport is not None:
            self.held = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        resume = getattr(self.protocol, "resume_writing", None)
        if resume is not None:
            resume()
        elif self.held and self.transport is not None:
            self.held = False
            self.transport.resume_reading()

    def on_timeout(self) -> None:
        """Never armed (``deadline`` is infinite); here for the ``Timed`` interface."""
