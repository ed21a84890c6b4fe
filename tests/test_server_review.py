"""Review of the issue 8 driver: each test shows one defect found by a cold read
(see /work/notes/review-driver.md). They fail on the code as reviewed; each passes
once its defect is fixed.

Servers run on a thread of the test process (``threaded_server``), in both epoll
trigger modes, on 127.0.0.1, every wait bounded.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

import driver
import sansio

from server_helpers import read_response, read_until_close, threaded_server, trigger

__all__ = ["trigger"]  # fixture used by this module

MiB = 1024 * 1024
_GET = b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"
_LAST = b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def _wait(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def _pipe_closed(write_end: int) -> bool:
    """Whether the read end of the pipe whose write end is ``write_end`` is closed
    (checked without fd-number races: a write to a pipe nobody reads is EPIPE)."""
    try:
        os.write(write_end, b"x")
    except BrokenPipeError:
        return True
    return False


# -- 1. an empty FileBody aborts the connection -----------------------------------------


def test_an_empty_file_body_is_an_empty_200_and_keeps_the_connection(
    trigger: list[str], tmp_path: os.PathLike[str]
) -> None:
    # Reply(200, body=FileBody(fd, 0, 0)) is legal (count >= 0), e.g. an empty file
    # served by an app. The transport queues a 0-byte sendfile job; os.sendfile returns
    # 0, read as "file shrank", and the connection is aborted right after the head: the
    # next pipelined request is never answered.
    empty = os.path.join(os.fspath(tmp_path), "empty")
    open(empty, "wb").close()

    def app(request: driver.HTTPRequest) -> driver.Reply:
        if request.target == b"/empty":
            return driver.Reply(200, (), driver.FileBody(os.open(empty, os.O_RDONLY), 0, 0))
        return driver.Reply(200, (), b"ok")

    with threaded_server(app, trigger) as server, server.connect() as sock:
        sock.sendall(_GET % b"empty" + _LAST)
        response = read_until_close(sock)
    assert response.count(b" 200 OK\r\n") == 2, response
    assert response.endswith(b"\r\n\r\nok")


# -- 2. Exchange.respond after the connection closed leaks the body -----------------------


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
    assert _wait(lambda: exchange.closed)
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
            assert _wait(lambda: _pipe_closed(write_end), 2), "the FileBody's fd was leaked"
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


# -- 3. call_soon_threadsafe after the loop ended writes into a reused descriptor ---------


def test_call_soon_threadsafe_after_the_loop_ended_writes_nowhere(
    trigger: list[str], tmp_path: os.PathLike[str]
) -> None:
    # Loop.run closes its eventfd (a plain int); call_soon_threadsafe then does
    # os.eventfd_write(self._eventfd, 1) and only suppresses OSError. Once the number is
    # reused (a log file, a socket), a late worker thread writes 8 bytes into it.
    with threaded_server(lambda request: driver.Reply(200, (), b"ok"), trigger) as server:
        loop = server.server
    number = loop._eventfd
    victim = os.path.join(os.fspath(tmp_path), "victim.log")
    opened: list[int] = []
    try:
        for _ in range(256):  # the lowest free number is taken first
            fd = os.open(victim, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            opened.append(fd)
            if fd == number:
                break
        else:
            pytest.fail("could not reuse the eventfd's number (test setup)")
        loop.call_soon_threadsafe(print, "late")
        assert os.path.getsize(victim) == 0, "8 bytes written into an unrelated file"
    finally:
        for fd in opened:
            os.close(fd)


# -- 4. Exchange.abort() after end() truncates a complete response ------------------------


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


# -- 5. an iterable body that fails at once: the head already left, no 500 ---------------


def test_an_iterable_that_fails_before_its_first_item_gets_a_500(trigger: list[str]) -> None:
    # _send_prepared writes the head, then pulls. An iterable that raises on its first
    # next() (a template error, a failed query) makes the server abort a connection
    # whose head it has only queued: the client gets no bytes at all ("empty reply"),
    # where a 500 was still possible (waitress and gunicorn pull the first item before
    # they send the head; PEP 3333 asks for exactly that).
    def failing() -> Iterator[bytes]:
        raise RuntimeError("boom before any byte")
        yield b""  # pragma: no cover

    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, (), failing())

    with threaded_server(app, trigger) as server, server.connect() as sock:
        sock.sendall(_LAST)
        response = read_until_close(sock)
    assert response.startswith(b"HTTP/1.1 500 "), response


def test_an_iterable_whose_first_item_is_not_bytes_gets_a_500_and_an_empty_one_a_200(
    trigger: list[str],
) -> None:
    # The first item is taken before the head (finding 5): a wrong type there is still
    # a 500; an iterable with no non-empty item is an empty body on a kept connection.
    def app(request: driver.HTTPRequest) -> driver.Reply:
        if request.target == b"/empty":
            return driver.Reply(200, (), iter([b"", b""]))
        return driver.Reply(200, (), iter(["text"]))  # type: ignore[arg-type]

    with threaded_server(app, trigger) as server, server.connect() as sock:
        sock.sendall(_GET % b"empty" + _LAST)
        response = read_until_close(sock)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n"), response
    assert b"\r\n\r\n0\r\n\r\nHTTP/1.1 500 " in response, response


# -- 6. the server keeps the last bytes reply (and its body) after the response ----------


class _BigReply(driver.Reply):
    """A Reply that can be weakly referenced (to see who keeps it)."""


def test_a_large_reply_is_not_kept_after_its_response(trigger: list[str]) -> None:
    # ServerContext.memo keeps the last bytes Reply per HTTP version (for hello's hot
    # path) whatever its size: a 64 MiB download stays in memory until another bytes
    # reply of the same version replaces it, possibly forever.
    import gc
    import weakref

    refs: list[weakref.ref[_BigReply]] = []

    def app(request: driver.HTTPRequest) -> driver.Reply:
        if request.target == b"/big":
            reply = _BigReply(200, (), b"x" * (64 * MiB))
            refs.append(weakref.ref(reply))
            return reply
        return driver.Reply(200, (), iter([b"small"]))  # not a bytes reply

    with threaded_server(app, trigger) as server:
        with server.connect(timeout=10) as sock:
            sock.sendall(_GET % b"big" + _LAST)
            response = read_until_close(sock)
        assert len(response) > 64 * MiB
        gc.collect()
        kept = bool(refs) and refs[0]() is not None
        assert refs and not kept, "the 64 MiB reply is still referenced"


# -- 7. abort() is a plain close: a cut close-delimited body looks complete --------------


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


# -- 8. closed connections keep their buffers through the timer heap ---------------------


def _retained_bytes(roots: list[object], shared: set[int]) -> int:
    """Bytes of bytes/bytearray objects reachable from ``roots`` without passing
    through ``shared`` objects (the server and what every connection shares)."""
    import gc
    import types

    seen = set(shared)
    stack = list(roots)
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | types.ModuleType | types.FunctionType):
            continue
        seen.add(id(obj))
        if isinstance(obj, bytes | bytearray):
            total += len(obj)
            continue
        stack.extend(gc.get_referents(obj))
        for name in getattr(type(obj), "__slots__", ()):
            stack.append(getattr(obj, name, None))
    return total


def test_closed_connections_do_not_keep_their_buffers(trigger: list[str]) -> None:
    # A connection that dies (reset) keeps its HTTPProtocol in the loop's timer heap
    # until its deadline (60 s for a head, 75 s kept alive) and with it the core's
    # receive buffer (a head of up to 64 KiB, a recv of up to 64 KiB) and the request.
    # Loop.forget compacts the heap only every 4,096 closes: a client that opens,
    # sends 60 KiB of head and resets, 4,000 times, pins about 240 MiB.
    count = 100
    partial_head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (60 * 1024)
    with threaded_server(lambda request: driver.Reply(200, (), b"ok"), trigger) as server:
        loop = server.server
        for _ in range(count):
            with server.connect() as sock:
                sock.sendall(partial_head)
                time.sleep(0.002)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert _wait(lambda: not loop.transports, 10)
        # The heap holds weak references: what a closed connection still pins there.
        entries = [entry[2]() for entry in list(loop.heap)]
        closed: list[object] = [timed for timed in entries if timed is not None and timed.closed]
        shared = {id(loop), id(loop.context), id(loop.config), id(loop.transport_config)}
        retained = _retained_bytes(closed, shared)
    assert retained < 1 * MiB, f"{len(closed)} closed connections keep {retained} bytes"


# -- 9. static cache hit: stat(path) then open(path), the fd is never checked ------------


def test_a_cached_large_file_swapped_for_a_symlink_after_its_stat_is_not_served(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # StaticFiles._cached checks os.stat(entry.path) against the cached identity, then
    # os.open(entry.path) (following symlinks) and sends what it opened, sized by the
    # cache. A file replaced by a symlink out of the root between the two calls is
    # served. Opening first and comparing os.fstat(fd) with the entry closes the race.
    from driver.static import StaticFiles

    base = os.fspath(tmp_path)
    root = os.path.join(base, "root")
    outside = os.path.join(base, "outside")
    os.mkdir(root)
    os.mkdir(outside)
    public = os.path.join(root, "big.bin")
    secret = os.path.join(outside, "secret.bin")
    with open(public, "wb") as f:
        f.write(b"p" * 100_000)  # above inline_limit: served by descriptor
    with open(secret, "wb") as f:
        f.write(b"S" * 100_000)
    app = StaticFiles(root)
    request = driver.HTTPRequest(b"GET", b"/big.bin", (), b"1.1", b"", ("127.0.0.1", 1))
    first = app(request)
    assert isinstance(first.body, driver.FileBody)
    os.close(first.body.fd)

    stat_before = os.stat(public)
    real_stat = os.stat
    swapped: list[bool] = []

    def stat_then_swap(path: object, *args: object, **kwargs: object) -> os.stat_result:
        # The swap lands right after the cache's stat: the race, made deterministic.
        if path == public and not swapped:
            swapped.append(True)
            os.unlink(public)
            os.symlink(secret, public)
            return stat_before
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat_then_swap)
    reply = app(request)
    monkeypatch.undo()
    body = reply.body
    if isinstance(body, driver.FileBody):
        served = os.pread(body.fd, 16, body.offset)
        os.close(body.fd)
    else:
        served = bytes(body)[:16]  # type: ignore[arg-type]
    assert b"S" not in served, "a file outside the root was served"


# -- 10. a producer can be paused twice without a resume in between -----------------------


class _FakeTransport:
    """Just enough of ``interfaces.Transport`` for a protocol driven by hand."""

    client = ("127.0.0.1", 1)
    closed = False

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
        server._run_ready()
        protocol.resume_writing()
        server._run_ready()
    finally:
        listener.close()
        server.epoll.close()
        os.close(server._eventfd)
        server._wake_r.close()
        server._wake_w.close()
    assert calls == ["pause", "resume", "pause", "resume"], calls


# -- 11. a pipelined request arms the head timeout against the previous slow download -------


def test_a_pipelined_request_does_not_cut_a_slow_download_at_the_header_timeout(
    trigger: list[str],
) -> None:
    # A bytes or file reply ends at once (response ENDED, phase IDLE) while its bytes sit
    # in the transport's queue. The next pipelined request's first bytes move the phase
    # to HEAD and arm header_timeout; when it fires, on_timeout sees queued output and
    # aborts: the download in progress is cut although the client reads steadily (the
    # transport's write timeout, which is what should judge a slow reader, never fired).
    size = 8 * MiB
    payload = b"d" * size

    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, (), payload)

    with threaded_server(app, trigger, header_timeout=1.0, body_timeout=30.0) as server:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", server.port))
        with sock:
            sock.sendall(_GET % b"one")
            received = 0
            chunks: list[bytes] = []
            pipelined = False
            while True:  # a steady reader: about 3 MB/s, 2.7 s for the first response
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
                if not pipelined:  # the next request, sent while the first downloads
                    sock.sendall(_LAST)
                    pipelined = True
                if received < size:
                    time.sleep(0.02)
    heads = b"".join(chunks).count(b"HTTP/1.1 200 OK\r\n")
    assert heads == 2 and received > 2 * size, f"cut after {received} bytes"
