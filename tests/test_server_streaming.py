"""Streaming both ways with bounded memory, and the loop's ready list: a long pipeline
behind a tiny high-water mark, uploads larger than any buffer, iterable bodies that are
pulled only while the client reads, and the ``Exchange`` of streaming apps (body
callbacks, pieces, flow control, early answers, failures, answers from threads).

Servers run on a thread of the test process (``threaded_server``); every test runs in
both epoll trigger modes.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import driver
import sansio

from server_helpers import (
    pipe_closed,
    read_response,
    read_until_close,
    threaded_server,
    trigger,
    wait_for,
)

__all__ = ["trigger"]  # fixture used by this module

_GET = b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"
_LAST = b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

MiB = 1024 * 1024


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _hello(request: driver.HTTPRequest) -> driver.Reply:
    return driver.Reply(200, (), b"hi " + request.target)


def test_ten_thousand_pipelined_requests_with_a_tiny_high_water_mark(trigger: list[str]) -> None:
    # Each response is above the 256-byte mark on its own: every one pauses the
    # pipeline, and the drain resumes it from the ready list, not down the stack.
    count = 10_000
    requests = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(count - 1))
    requests += b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with threaded_server(_hello, trigger, high_water=256) as server:
        sock = server.connect(timeout=20)
        sender = threading.Thread(target=sock.sendall, args=(requests,), daemon=True)
        sender.start()
        response = read_until_close(sock)
        sender.join(5)
        sock.close()
    assert response.count(b"HTTP/1.1 200 OK\r\n") == count
    assert response.endswith(b"\r\n\r\nhi /last")
    assert b"hi /9998\x00" not in response and b"\r\n\r\nhi /9998HTTP" in response


class CountingUpload:
    """A streaming app that counts the body and answers with the count."""

    def __init__(self, pause_for: float = 0.0) -> None:
        self.pause_for = pause_for
        self.peak_rss = 0

    def handle_exchange(self, exchange: driver.Exchange) -> None:
        received = 0

        def on_data(piece: bytes) -> None:
            nonlocal received
            received += len(piece)
            if received % (4 * MiB) < len(piece):
                self.peak_rss = max(self.peak_rss, _rss())
            if self.pause_for and received == len(piece):
                exchange.pause_reading()
                threading.Timer(
                    self.pause_for,
                    exchange.loop.call_soon_threadsafe,
                    (exchange.resume_reading,),
                ).start()

        def on_end() -> None:
            exchange.respond(driver.Reply(200, (), b"%d" % received))

        exchange.read_body(on_data, on_end)


def _upload(sock: socket.socket, size: int, sent: list[int]) -> None:
    chunk = b"u" * (256 * 1024)
    sock.sendall(b"PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
    left = size
    while left:
        n = sock.send(chunk[: min(left, len(chunk))])
        left -= n
        sent[0] += n


def test_upload_larger_than_the_buffers_streams_through_with_bounded_memory(
    trigger: list[str],
) -> None:
    size = 256 * MiB
    before = _rss()
    app = CountingUpload()
    with threaded_server(app, trigger, max_body_size=0) as server, server.connect(20) as sock:
        sent = [0]
        sender = threading.Thread(target=_upload, args=(sock, size, sent), daemon=True)
        sender.start()
        status, _, body = read_response(sock, bytearray())
        sender.join(10)
    assert (status, body) == (b"HTTP/1.1 200 OK", b"%d" % size)
    # A body held whole would cost 256 MiB; streamed, a few buffers.
    assert app.peak_rss - before < 32 * MiB, (app.peak_rss - before) / MiB


def test_a_paused_consumer_stops_the_client(trigger: list[str]) -> None:
    size = 64 * MiB
    app = CountingUpload(pause_for=0.6)
    with threaded_server(app, trigger, max_body_size=0) as server, server.connect(20) as sock:
        sent = [0]
        sender = threading.Thread(target=_upload, args=(sock, size, sent), daemon=True)
        sender.start()
        time.sleep(0.4)
        stalled_at = sent[0]
        assert stalled_at < 16 * MiB  # kernel buffers and one read, not the body
        status, _, body = read_response(sock, bytearray())
        sender.join(10)
    assert (status, body) == (b"HTTP/1.1 200 OK", b"%d" % size)


class Endless:
    """An iterable body of 64 KiB items that counts how often it is pulled."""

    def __init__(self) -> None:
        self.pulled = 0
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                self.pulled += 1
                yield b"e" * 65536
        finally:
            self.closed.set()


def test_streamed_response_to_a_slow_reader_keeps_the_producer_paused(
    trigger: list[str],
) -> None:
    body = Endless()

    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, ((b"content-type", b"application/octet-stream"),), body)

    with threaded_server(app, trigger) as server:
        sock = server.connect()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        paused_at = body.pulled
        time.sleep(0.5)
        assert body.pulled == paused_at  # not pulled while the client does not read
        # Socket buffers plus the high-water mark, not an ever-growing queue.
        assert paused_at * 65536 < 16 * MiB
        received = 0
        while received < 8 * MiB:
            received += len(sock.recv(1 << 20))
        assert body.pulled > paused_at  # reading resumes the producer
        sock.close()
        assert body.closed.wait(5)  # and a client gone closes the iterable


class Recorder:
    """A streaming app whose behaviour each test sets through ``handler``."""

    def __init__(self) -> None:
        self.handler: Callable[[driver.Exchange], None] = lambda exchange: None
        self.events: list[str] = []

    def handle_exchange(self, exchange: driver.Exchange) -> None:
        self.handler(exchange)


@pytest.fixture(scope="module")
def recorder(trigger: list[str]) -> Iterator[tuple[Recorder, int]]:
    app = Recorder()
    with threaded_server(app, trigger, high_water=64 * 1024) as server:
        yield app, server.port


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        return read_until_close(sock)


def test_pieces_are_chunked_to_11_and_close_delimited_to_10(recorder: tuple[Recorder, int]) -> None:
    app, port = recorder

    def handler(exchange: driver.Exchange) -> None:
        exchange.start_response(201, ((b"x-kind", b"pieces"),), b"Made")
        exchange.write(b"one ")
        exchange.write(b"two")
        exchange.end()

    app.handler = handler
    response = _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 Made\r\n") and b"Transfer-Encoding: chunked" in head
    assert b"\r\ndate: " in head.lower()
    # Small pieces written in one go are gathered into one chunk (and one send).
    assert body == b"7\r\none two\r\n0\r\n\r\n"
    response = _exchange(port, b"GET / HTTP/1.0\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 201 Made\r\n") and b"chunked" not in head
    assert b"Connection: close" in head and body == b"one two"


def test_body_arrives_in_pieces_then_the_end(recorder: tuple[Recorder, int]) -> None:
    app, port = recorder

    def handler(exchange: driver.Exchange) -> None:
        pieces: list[bytes] = []
        exchange.read_body(
            pieces.append,
            lambda: exchange.respond(driver.Reply(200, (), b"|".join(pieces))),
        )

    app.handler = handler
    response = _exchange(
        port,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    )
    assert response.startswith(b"HTTP/1.1 200 OK") and response.endswith(b"\r\n\r\nabc|de")


def test_early_answer_discards_the_body_and_keeps_the_connection(
    recorder: tuple[Recorder, int],
) -> None:
    app, port = recorder
    app.handler = lambda exchange: exchange.respond(driver.Reply(413, (), b"no thanks"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        sock.sendall(b"b" * 100000)
        buffered = bytearray()
        assert read_response(sock, buffered)[2] == b"no thanks"
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # the same connection goes on
        assert read_response(sock, buffered)[2] == b"no thanks"


def test_early_answer_to_100_continue_closes_without_inviting_the_body(
    recorder: tuple[Recorder, int],
) -> None:
    app, port = recorder
    app.handler = lambda exchange: exchange.respond(driver.Reply(401, (), b"who?"))
    response = _exchange(
        port,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    assert response.startswith(b"HTTP/1.1 401 Unauthorized\r\n"), response
    assert b"100 Continue" not in response and b"Connection: close" in response


def test_failures_before_and_after_the_head(
    recorder: tuple[Recorder, int], caplog: pytest.LogCaptureFixture
) -> None:
    app, port = recorder

    def before(exchange: driver.Exchange) -> None:
        raise RuntimeError("before the head")

    def after(exchange: driver.Exchange) -> None:
        exchange.start_response(200, ())
        exchange.write(b"partial")
        raise RuntimeError("after the head")

    def bad_value(exchange: driver.Exchange) -> None:
        exchange.start_response(200, ((b"x-evil", b"a\r\nSet-Cookie: x=1"),))

    def no_head(exchange: driver.Exchange) -> None:
        exchange.write(b"a body with no head")
        exchange.end()  # a no-op now: the server has answered

    with caplog.at_level(logging.ERROR, logger="driver"):
        app.handler = before
        assert _exchange(port, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 500 ")
        app.handler = after
        response = _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        # Aborted: what was queued may or may not have left, but never a complete
        # response, and never a 500 after a 200.
        assert not response.endswith(b"0\r\n\r\n") and b" 500 " not in response
        app.handler = bad_value
        response = _exchange(port, b"GET / HTTP/1.0\r\n\r\n")
        assert response.startswith(b"HTTP/1.0 500 ") and b"Set-Cookie" not in response
        app.handler = no_head
        response = _exchange(port, b"GET / HTTP/1.0\r\n\r\n")
        assert response.startswith(b"HTTP/1.0 500 ") and b"a body" not in response
    messages = " ".join(str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    assert "before the head" in messages and "after the head" in messages


def test_flow_control_pauses_and_resumes_the_producer(recorder: tuple[Recorder, int]) -> None:
    app, port = recorder
    total = 16 * MiB
    calls: list[str] = []

    def handler(exchange: driver.Exchange) -> None:
        state = {"sent": 0}

        def produce() -> None:
            while state["sent"] < total and not exchange.writing_paused:
                exchange.write(b"p" * 65536)
                state["sent"] += 65536
            if state["sent"] >= total:
                exchange.end()

        def resume() -> None:
            calls.append("resume")
            exchange.loop.call_soon(produce)

        exchange.set_producer(lambda: calls.append("pause"), resume)
        exchange.start_response(200, ((b"content-length", b"%d" % total),))
        produce()

    app.handler = handler
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        status, _, body = read_response(sock, bytearray())
    assert status == b"HTTP/1.1 200 OK" and len(body) == total
    assert calls[:2] == ["pause", "resume"]
    assert all(a != b for a, b in itertools.pairwise(calls))  # they alternate
    # The last write may cross the high-water mark: that pause has no resume, since the
    # response has ended and there is no producer left to resume.
    assert calls.count("pause") - calls.count("resume") in (0, 1)


def test_answer_from_another_thread_and_on_close(recorder: tuple[Recorder, int]) -> None:
    app, port = recorder
    closed = threading.Event()

    def handler(exchange: driver.Exchange) -> None:
        exchange.on_close(closed.set)
        if exchange.request.target == b"/thread":
            reply = driver.Reply(200, (), b"from a thread")
            threading.Thread(
                target=exchange.loop.call_soon_threadsafe, args=(exchange.respond, reply)
            ).start()
        # "/hang": never answered; the client leaves.

    app.handler = handler
    response = _exchange(port, b"GET /thread HTTP/1.0\r\n\r\n")
    assert response.endswith(b"\r\n\r\nfrom a thread")
    assert not closed.is_set()  # ended normally: on_close is not called
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    assert not closed.is_set()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # a reset: the server, still reading while the app works, sees it
    assert closed.wait(5)


def test_send_file_pieces(recorder: tuple[Recorder, int], tmp_path: Path) -> None:
    app, port = recorder
    path = tmp_path / "piece.txt"
    path.write_bytes(b"0123456789")

    def handler(exchange: driver.Exchange) -> None:
        exchange.start_response(200, ())
        exchange.write(b"[")
        exchange.send_file(driver.FileBody(os.open(path, os.O_RDONLY), 2, 5))
        exchange.write(b"]")
        exchange.end()

    app.handler = handler
    response = _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert response.endswith(b"\r\n\r\n1\r\n[\r\n5\r\n23456\r\n1\r\n]\r\n0\r\n\r\n")


def test_a_callback_that_raises_fails_only_its_connection(
    recorder: tuple[Recorder, int], caplog: pytest.LogCaptureFixture
) -> None:
    app, port = recorder
    # Closing the (bad) descriptor of a HEAD reply raises inside respond(), which runs
    # from the loop's ready list: the loop must drop that connection, not hang it.
    broken = driver.Reply(200, (), driver.FileBody(-1, 0, 10))
    app.handler = lambda exchange: exchange.loop.call_soon(exchange.respond, broken)
    with caplog.at_level(logging.ERROR, logger="driver"):
        assert _exchange(port, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n") == b""
    assert any("internal error on the connection" in r.getMessage() for r in caplog.records)
    app.handler = lambda exchange: exchange.respond(driver.Reply(200, (), b"fine"))
    assert _exchange(port, b"GET / HTTP/1.0\r\n\r\n").endswith(b"\r\n\r\nfine")


class _Holder:
    """A streaming app that keeps its exchange and answers nothing (yet)."""

    def __init__(self) -> None:
        self.exchange: driver.Exchange | None = None
        self.arrived = threading.Event()

    def handle_exchange(self, exchange: driver.Exchange) -> None:
        self.exchange = exchange
        self.arrived.set()


def _closed_exchange(server: object, app: _Holder) -> driver.Exchange:
    """An exchange whose client has come and gone."""
    with server.connect() as sock:  # type: ignore[attr-defined]
        sock.sendall(_GET % b"slow")
        assert app.arrived.wait(5)
        # A reset, so that the server notices at once (a FIN after a complete request
        # is taken for a half-close, see the notes).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    exchange = app.exchange
    assert exchange is not None
    assert wait_for(lambda: exchange.closed)
    return exchange


def test_respond_with_a_file_after_the_client_left_closes_the_fd(trigger: list[str]) -> None:
    # interface.md: "the server closes the fd" and methods after close are no-ops.
    # HTTPExchange.send_file closes the body when not live; respond() does not: a
    # worker thread that answers with a FileBody after a disconnect leaks the fd.
    app = _Holder()
    read_end, write_end = os.pipe()
    try:
        with threaded_server(app, trigger) as server:
            exchange = _closed_exchange(server, app)
            reply = driver.Reply(200, (), driver.FileBody(read_end, 0, 1))
            exchange.loop.call_soon_threadsafe(exchange.respond, reply)
            assert wait_for(lambda: pipe_closed(write_end), 2), "the FileBody's fd was leaked"
    finally:
        os.close(write_end)


def test_respond_with_an_iterable_after_the_client_left_closes_it(trigger: list[str]) -> None:
    # interface.md: an iterable body's close() "is called when it is exhausted or the
    # connection dies". respond() on a closed exchange drops it without close().
    app = _Holder()
    closed = threading.Event()

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"never sent"

        def close(self) -> None:
            closed.set()

    with threaded_server(app, trigger) as server:
        exchange = _closed_exchange(server, app)
        exchange.loop.call_soon_threadsafe(exchange.respond, driver.Reply(200, (), Body()))
        assert closed.wait(2), "the iterable's close() was never called"


def test_abort_after_end_does_not_truncate_the_response(trigger: list[str]) -> None:
    # exchange.py: "once the exchange is finished (its response ended ...) every method
    # is a silent no-op". abort() only checks `closed`; until the next cycle the
    # exchange is still current, so abort() drops the queued tail of a response that
    # end() completed (a WSGI adapter whose iterable's close() raised would do this).
    size = 32 * MiB
    piece = b"x" * MiB

    class App:
        def handle_exchange(self, exchange: driver.Exchange) -> None:
            exchange.start_response(200, ((b"content-length", b"%d" % size),))
            for _ in range(size // MiB):
                exchange.write(piece)
            exchange.end()
            exchange.abort()  # late: must not disturb a finished response

    with threaded_server(App(), trigger) as server, server.connect(timeout=10) as sock:
        sock.sendall(_LAST)
        buffered = bytearray()
        try:
            status, _headers, body = read_response(sock, buffered)
        except ConnectionError as exc:
            pytest.fail(f"the finished response was cut: {exc}")
    assert status == b"HTTP/1.1 200 OK"
    assert len(body) == size


def _read_to_end(sock: socket.socket) -> tuple[bytes, bool]:
    """(what arrived, whether the connection ended with a reset rather than a FIN)."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)


def test_an_aborted_close_delimited_response_ends_with_a_reset(trigger: list[str]) -> None:
    # An HTTP/1.0 response without Content-Length ends when the connection closes.
    # SocketTransport.abort() is sock.close() with nothing to say "failed": the client
    # gets a FIN, so a response cut by an application error after its head (or by a
    # Content-Length mismatch, a bad FileBody, the grace period) is taken as complete.
    # An abort must reset (SO_LINGER 0), as nginx's reset_timedout_connection does.
    class App:
        def handle_exchange(self, exchange: driver.Exchange) -> None:
            exchange.start_response(200, ((b"content-type", b"text/plain"),))
            exchange.write(b"the first half of a report")
            exchange.loop.call_soon(exchange.abort)  # the producer failed

    with threaded_server(App(), trigger) as server, server.connect() as sock:
        sock.sendall(b"GET /report HTTP/1.0\r\n\r\n")
        data, reset = _read_to_end(sock)
    assert b"HTTP/1.0 200 OK\r\n" in data or reset
    assert reset, f"a cut response ended with a clean close: {data!r}"


class _FakeTransport:
    """Just enough of ``interfaces.Transport`` for a protocol driven by hand."""

    client = ("127.0.0.1", 1)
    closed = False

    @property
    def connection(self) -> Any:
        raise AssertionError("the loop is not involved here")

    def write(self, data: bytes) -> None:
        pass

    def sendfile(self, fd: int, offset: int, count: int) -> None:
        os.close(fd)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def write_eof(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def set_protocol(self, protocol: object) -> None:
        pass


def test_producer_pause_and_resume_alternate() -> None:
    # asyncio's contract (FlowControlMixin asserts it): pause_writing() and
    # resume_writing() alternate. HTTPProtocol.resume_writing defers the producer's
    # resume to the ready list (_resume) but clears write_paused at once; a write that
    # crosses high water again before _resume runs (a chunk a worker thread queued with
    # call_soon_threadsafe before it saw the pause) calls pause_writing() a second
    # time, and _resume then skips the resume: the producer sees pause, pause.
    from driver.exchange import HTTPExchange
    from driver.protocol import HTTPProtocol

    config = driver.Config(host="127.0.0.1", port=0, access_log=False)
    listener = driver.make_listener(config)
    server = driver.Server(lambda request: driver.Reply(200, (), b""), config, listener)
    try:
        protocol = HTTPProtocol(server.context)
        protocol.connection_made(_FakeTransport())
        exchange = HTTPExchange(protocol, sansio.Request(b"GET", b"/", ((b"host", b"a"),), b"1.1"))
        protocol.exchange = exchange
        calls: list[str] = []
        exchange.set_producer(lambda: calls.append("pause"), lambda: calls.append("resume"))

        # What SocketTransport does: above high water, drained, above again, drained.
        protocol.pause_writing()
        protocol.resume_writing()
        protocol.pause_writing()  # before the ready list ran
        server.loop._run_ready()
        protocol.resume_writing()
        server.loop._run_ready()
    finally:
        listener.close()
        server.loop.epoll.close()
        os.close(server.loop._eventfd)
        server.loop._wake_r.close()
        server.loop._wake_w.close()
    assert calls == ["pause", "resume", "pause", "resume"], calls
