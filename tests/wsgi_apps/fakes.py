"""A fake loop and ``Exchange`` (the driver's streaming interface) with real threads.

``FakeLoop`` runs callbacks on its own thread, as the driver's loop does, and
``FakeExchange`` checks that every call it gets comes from that thread: the WSGI
adapter must never touch an exchange from a worker. The test drives the client side:
``deliver`` body pieces, ``drain`` the queued output, ``disconnect``.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import driver
from driver import FileBody, HTTPRequest, Reply, SwitchedProtocol
from driver.interfaces import Loop

Headers = tuple[tuple[bytes, bytes], ...]


class FakeLoop:
    """Callbacks run in order on one thread; ``call_soon_threadsafe`` from any thread."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[..., object], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self.wakeups = 0
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name="fake-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, args = item
            try:
                fn(*args)
            except BaseException as exc:  # a test fails on any error found here
                self.errors.append(exc)

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        assert threading.current_thread() is self.thread, "call_soon off the loop thread"
        self._queue.put((fn, args))

    def call_soon_threadsafe(self, fn: Callable[..., object], *args: object) -> None:
        self.wakeups += 1
        self._queue.put((fn, args))

    def time(self) -> float:
        return time.monotonic()

    def run(self, fn: Callable[..., object], *args: object, timeout: float = 5.0) -> Any:
        """Run ``fn(*args)`` on the loop thread and return its result."""
        done = threading.Event()
        box: list[Any] = []

        def call() -> None:
            try:
                box.append(fn(*args))
            finally:
                done.set()

        self._queue.put((call, ()))
        assert done.wait(timeout), "the loop did not run the call in time"
        return box[0] if box else None

    def settle(self) -> None:
        """Wait until everything queued so far has run."""
        self.run(lambda: None)

    def stop(self) -> None:
        self._queue.put(None)
        self.thread.join(5)


class FakeExchange:
    """One request; the response is recorded. ``high_water`` bytes of undrained
    output pause the producer; with ``auto_drain`` the client reads everything."""

    def __init__(
        self,
        loop: FakeLoop,
        method: bytes = b"GET",
        target: bytes = b"/",
        headers: Headers = (),
        *,
        http_version: bytes = b"1.1",
        high_water: int = 64 * 1024,
        auto_drain: bool = True,
    ) -> None:
        self.loop: Loop = loop  # what the adapter sees (the driver's interface)
        self.fake_loop = loop
        self.request = HTTPRequest(method, target, headers, http_version, b"", ("10.0.0.1", 4321))
        self.budget = driver.Config().budget  # the default shares, as a server has
        self.closed = False
        self._writing_paused = False
        self.high_water = high_water
        self.auto_drain = auto_drain
        self.status: int | None = None
        self.reason = b""
        self.headers: Headers = ()
        self.body = bytearray()  # everything written
        self.queued = 0  # written and not drained
        self.max_queued = 0
        self.files: list[tuple[bytes, int, int]] = []
        self.ended = threading.Event()  # end(), respond() or abort()
        self.aborted = False
        self.calls: list[str] = []
        self.reading_paused = False
        self.pause_count = 0
        self.resume_count = 0
        self._on_data: Callable[[bytes], None] | None = None
        self._on_end: Callable[[], None] | None = None
        self._pending: list[bytes | None] = []  # client bytes held while reading is paused
        self._producer: tuple[Callable[[], None], Callable[[], None]] | None = None
        self._close_callbacks: list[Callable[[], None]] = []

    @property
    def writing_paused(self) -> bool:
        # As the driver's: a closed connection is not "paused" (a producer must look
        # at ``closed``, or wait for its on_close callback).
        return not self.closed and self._writing_paused

    def _check(self, name: str) -> None:
        assert threading.current_thread() is self.fake_loop.thread, f"{name} off the loop thread"
        self.calls.append(name)

    # -- request body --------------------------------------------------------------------

    def read_body(self, on_data: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        self._check("read_body")
        assert self._on_data is None, "read_body called twice"
        self._on_data, self._on_end = on_data, on_end
        self._flush_pending()

    def pause_reading(self) -> None:
        self._check("pause_reading")
        self.reading_paused = True
        self.pause_count += 1

    def resume_reading(self) -> None:
        self._check("resume_reading")
        self.reading_paused = False
        self.resume_count += 1
        self._flush_pending()

    def _flush_pending(self) -> None:
        while self._pending and not self.reading_paused and self._on_data is not None:
            piece = self._pending.pop(0)
            if piece is None:
                assert self._on_end is not None
                self._on_end()
            else:
                self._on_data(piece)

    def deliver(self, data: bytes | None) -> None:
        """The client sends ``data`` (``None``: the end of the body); from the test."""

        def arrive() -> None:
            if not self.closed:
                self._pending.append(data)
                self._flush_pending()

        self.loop.call_soon_threadsafe(arrive)

    # -- response ------------------------------------------------------------------------

    def respond(self, reply: Reply) -> None:
        self._check("respond")
        if self.closed:
            return
        assert self.status is None, "respond after start_response"
        self.status, self.headers, self.reason = reply.status, reply.headers, reply.reason
        assert isinstance(reply.body, bytes)
        self.body += reply.body
        self.ended.set()

    def start_response(self, status: int, headers: Headers, reason: bytes = b"") -> None:
        self._check("start_response")
        if self.closed:
            return
        assert self.status is None, "start_response twice"
        self.status, self.headers, self.reason = status, headers, reason

    def write(self, data: bytes) -> None:
        self._check("write")
        if self.closed:
            return
        assert self.status is not None and not self.ended.is_set()
        self.body += data
        if self.auto_drain:
            return
        self.queued += len(data)
        self.max_queued = max(self.max_queued, self.queued)
        if self.queued > self.high_water and not self._writing_paused:
            self._writing_paused = True
            if self._producer is not None:
                self._producer[0]()

    def send_file(self, body: FileBody) -> None:
        self._check("send_file")
        try:
            if not self.closed:
                self.files.append(
                    (os.pread(body.fd, body.count, body.offset), body.offset, body.count)
                )
        finally:
            os.close(body.fd)

    def end(self) -> None:
        self._check("end")
        if not self.closed:
            assert self.status is not None
            self.ended.set()

    def abort(self) -> None:
        self._check("abort")
        self.aborted = True
        self._close()
        self.ended.set()

    def set_producer(
        self, pause_writing: Callable[[], None], resume_writing: Callable[[], None]
    ) -> None:
        self._check("set_producer")
        self._producer = (pause_writing, resume_writing)

    def on_close(self, callback: Callable[[], None]) -> None:
        self._check("on_close")
        if self.closed:
            if not self.ended.is_set():
                self.loop.call_soon(callback)  # as the driver: closed already
            return
        self._close_callbacks.append(callback)

    def switch_protocol(self, protocol: SwitchedProtocol, headers: Headers = ()) -> None:
        raise AssertionError("a WSGI application never switches protocols")

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.ended.is_set():
            for callback in self._close_callbacks:
                self.loop.call_soon(callback)  # from the ready list, as the driver does

    # -- the client, from the test thread ------------------------------------------------

    def drain(self, size: int | None = None) -> None:
        """The client reads ``size`` queued bytes (all by default)."""

        def read() -> None:
            self.queued -= self.queued if size is None else min(size, self.queued)
            if self._writing_paused and self.queued <= self.high_water // 2:
                self._writing_paused = False
                if self._producer is not None:
                    self._producer[1]()

        self.fake_loop.run(read)

    def disconnect(self) -> None:
        """The client goes away."""
        self.fake_loop.run(self._close)

    def wait(self, timeout: float = 5.0) -> FakeExchange:
        assert self.ended.wait(timeout), f"no complete response in {timeout} s: {self.calls}"
        self.fake_loop.settle()
        return self

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (field names are case-insensitive)."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None
