"""HTTPExchange: one request and its response, as a streaming application sees it.

A thin facade over the connection's protocol (``driver.protocol``): it holds the
request head and two flags, and forwards each call only while it is the current
exchange of a live connection. Once the connection is gone (``closed``) or the
exchange is finished (its response ended, or the server answered for it), every
method is a silent no-op: threads race with disconnects, and a late call must not
disturb the next request on the same connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from .app import FileBody, Headers, HTTPRequest, Reply
from .budget import Budget
from .interfaces import Loop, Transport
from .replies import close_body
from .switch import SwitchedProtocol

__all__ = ["ExchangeHost", "HTTPExchange"]

log = logging.getLogger("driver")

Producer = tuple[Callable[[], None], Callable[[], None]]


class ExchangeHost(Protocol):
    """What an exchange uses of its connection's protocol (``driver.protocol``)."""

    write_paused: bool
    producer: Producer | None
    transport: Transport

    def read_body(
        self, exchange: HTTPExchange, on_data: Callable[[bytes], None], on_end: Callable[[], None]
    ) -> None: ...
    def app_pause_reading(self, exchange: HTTPExchange) -> None: ...
    def app_resume_reading(self, exchange: HTTPExchange) -> None: ...
    def respond(self, reply: Reply) -> None: ...
    def start_response(self, status: int, headers: Headers, reason: bytes) -> None: ...
    def write_body(self, data: bytes) -> None: ...
    def send_file(self, body: FileBody) -> None: ...
    def end_response(self) -> None: ...
    def abort_exchange(self, exchange: HTTPExchange) -> None: ...
    def switch_protocol(
        self, exchange: HTTPExchange, protocol: SwitchedProtocol, headers: Headers
    ) -> None: ...


class HTTPExchange:
    """Implements ``driver.app.Exchange``."""

    __slots__ = (
        "_close_callbacks",
        "_protocol",
        "budget",
        "closed",
        "ended",
        "finished",
        "loop",
        "request",
    )

    def __init__(
        self, protocol: ExchangeHost, request: HTTPRequest, loop: Loop, budget: Budget
    ) -> None:
        self._protocol = protocol
        self.request = request
        self.loop = loop
        self.budget = budget
        self.closed = False
        self.finished = False  # no more response calls are taken
        self.ended = False  # end() completed the response
        self._close_callbacks: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        state = "closed" if self.closed else "finished" if self.finished else "open"
        return f"<HTTPExchange {self.request.method!r} {self.request.target!r} {state}>"

    @property
    def writing_paused(self) -> bool:
        return not self.closed and self._protocol.write_paused

    @property
    def transport(self) -> Transport:
        """The connection's transport (the loop fails it if a callback of this
        exchange raises)."""
        return self._protocol.transport

    @property
    def _live(self) -> bool:
        return not self.closed and not self.finished

    # -- request body ---------------------------------------------------------------

    def read_body(self, on_data: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        if not self.closed:
            self._protocol.read_body(self, on_data, on_end)

    def pause_reading(self) -> None:
        if not self.closed:
            self._protocol.app_pause_reading(self)

    def resume_reading(self) -> None:
        if not self.closed:
            self._protocol.app_resume_reading(self)

    # -- response -------------------------------------------------------------------

    def respond(self, reply: Reply) -> None:
        if self._live:
            self._protocol.respond(reply)
        else:
            # Nobody will send it: close a FileBody's fd, call an iterable's close().
            try:
                close_body(getattr(reply, "body", None))
            except Exception:
                log.exception("close() of a response body failed")

    def start_response(self, status: int, headers: Headers, reason: bytes = b"") -> None:
        if self._live:
            self._protocol.start_response(status, headers, reason)

    def write(self, data: bytes) -> None:
        if self._live:
            self._protocol.write_body(data)

    def send_file(self, body: FileBody) -> None:
        if self._live:
            self._protocol.send_file(body)
        else:
            close_body(body)  # "the server closes the fd", sent or not

    def end(self) -> None:
        if self._live:
            self._protocol.end_response()

    def abort(self) -> None:
        if self._live:  # a finished response is complete: cutting it would lose its tail
            self._protocol.abort_exchange(self)

    def set_producer(
        self, pause_writing: Callable[[], None], resume_writing: Callable[[], None]
    ) -> None:
        if self._live:
            self._protocol.producer = (pause_writing, resume_writing)

    def on_close(self, callback: Callable[[], None]) -> None:
        if self.ended:
            return
        if self.closed:
            self.loop.call_soon(callback)
        else:
            self._close_callbacks.append(callback)

    # -- called by the protocol -----------------------------------------------------------

    def connection_lost(self) -> None:
        """The connection is gone: run the on_close callbacks (from the loop) unless
        the response had ended."""
        self.closed = True
        self.finished = True
        callbacks, self._close_callbacks = self._close_callbacks, []
        if not self.ended:
            for callback in callbacks:
                self.loop.call_soon(callback)

    # -- protocol switch ------------------------------------------------------------------

    def switch_protocol(self, protocol: SwitchedProtocol, headers: Headers = ()) -> None:
        if self._live:
            self._protocol.switch_protocol(self, protocol, headers)
