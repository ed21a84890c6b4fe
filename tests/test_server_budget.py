"""Every connection within its budget, against the real server on loopback (issue 14):
bodies an application will not keep are never stored, a simple app's large body spools
to a file, small items leave gathered (and a slow producer's are not held back), an
application's own ``Connection: close`` is honoured, a switched protocol or a streaming
app that ignores flow control cannot grow the server, and refused requests are logged
with what is known of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from stress_budget import BUDGET_APP, _early_upload

import driver
from driver.interfaces import Transport

from server_helpers import (
    ServerProcess,
    read_response,
    read_until_close,
    running_server,
    threaded_server,
    trigger,
)
from stress_harness import RssSampler, StressServer, script_server, stress_server

__all__ = ["trigger"]  # fixture used by this module

KiB = 1024
MiB = 1024 * KiB
TESTS = Path(__file__).resolve().parent


def _chunks(body: bytes) -> list[bytes]:
    """The chunks of a chunked body (its last, empty one left out)."""
    pieces: list[bytes] = []
    while True:
        line, _, body = body.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if not size:
            return pieces
        pieces.append(body[:size])
        body = body[size + 2 :]


def _get(port: int, target: bytes, version: bytes = b"1.1") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        extra = b"Host: x\r\nConnection: close\r\n" if version == b"1.1" else b""
        sock.sendall(b"GET %s HTTP/%s\r\n%s\r\n" % (target, version, extra))
        return read_until_close(sock)


# -- bodies an application will not keep ---------------------------------------------------


def _peak_growth(server: StressServer, path: bytes, count: int) -> tuple[int, list[int]]:
    async def uploads(n: int) -> list[int]:
        return await asyncio.gather(*(_early_upload(server.port, path, 16 * MiB) for _ in range(n)))

    asyncio.run(uploads(2))
    time.sleep(1.2)
    base = server.rss_kib
    with RssSampler([server.pid], interval=0.005) as sampler:
        statuses = asyncio.run(uploads(count))
    return sampler.peak_kib - base, statuses


@pytest.mark.parametrize(("kind", "path", "status"), [("hello", b"/", 200), ("static", b"/a", 405)])
def test_uploads_to_an_app_that_takes_no_body_are_never_stored(
    kind: str, path: bytes, status: int, tmp_path: Path
) -> None:
    (tmp_path / "a").write_bytes(b"a file\n")
    args = ["--hello"] if kind == "hello" else [str(tmp_path)]
    with stress_server([*args, "--no-access-log"]) as server:
        growth, statuses = _peak_growth(server, path, 8)
    assert statuses == [status] * 8
    # Eight 16 MiB bodies collected before the answer were +128 MiB and more.
    assert growth <= 16 * 1024, f"+{growth / 1024:.1f} MiB"


def test_a_body_to_hello_is_discarded_and_the_connection_kept(trigger: list[str]) -> None:
    with running_server("--hello", "--no-access-log", *trigger) as server, server.connect() as sock:
        body = os.urandom(200 * KiB)
        sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        sock.sendall(body + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        buffered = bytearray()
        assert read_response(sock, buffered)[2] == b"Hello, world!"
        status, headers, answer = read_response(sock, buffered)
        assert (status, answer) == (b"HTTP/1.1 200 OK", b"Hello, world!")
        assert headers[b"connection"] == b"keep-alive"


def test_a_malformed_body_already_received_still_gets_its_400(trigger: list[str]) -> None:
    with running_server("--hello", "--no-access-log", *trigger) as server, server.connect() as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\nzz\r\n"
        )
        assert read_until_close(sock).startswith(b"HTTP/1.0 400 ")


def test_past_the_discard_bound_the_answer_comes_and_then_the_close(trigger: list[str]) -> None:
    # A quarter of a 16 MiB body: the answer must not wait for the rest (it used to
    # wait for all of it, collected), and the connection closes once 1 MiB is discarded.
    with running_server("--hello", "--no-access-log", *trigger) as server, server.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (16 * MiB))
        with sock.makefile("rb") as reader:
            sock.sendall(b"b" * (4 * MiB))
            assert reader.readline() == b"HTTP/1.1 200 OK\r\n"
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += reader.readline()
            assert b"Connection: close" in head
            assert reader.read(13) == b"Hello, world!"
            assert reader.read() == b""


def test_an_upload_waiting_for_100_continue_is_answered_without_the_invitation(
    trigger: list[str],
) -> None:
    # The app takes no body: inviting it would only have it sent to be thrown away.
    with running_server("--hello", "--no-access-log", *trigger) as server, server.connect() as sock:
        sock.sendall(
            b"PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = read_until_close(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
    assert b"Connection: close\r\n" in answer and answer.endswith(b"Hello, world!")


@pytest.mark.parametrize("args", [["--hello"], ["--wsgi", "stress_wsgi_app:app"]])
def test_a_declared_length_beyond_the_limit_is_refused_at_the_head(args: list[str]) -> None:
    limit = ("--max-body-size", "1000")
    with running_server(*args, *limit, cwd=TESTS) as server, server.connect() as sock:
        # Only the head is sent: the answer cannot be waiting for the body.
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        assert read_until_close(sock).startswith(b"HTTP/1.0 413 ")


def test_a_simple_apps_large_body_goes_to_a_file_and_arrives_whole() -> None:
    bodies = [os.urandom(16 * MiB) for _ in range(2)] * 4

    async def upload(port: int, body: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /upload HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(body))
        writer.write(body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 60)
        writer.close()
        return answer.partition(b"\r\n\r\n")[2]

    async def everyone(port: int) -> list[bytes]:
        return await asyncio.gather(*(upload(port, body) for body in bodies))

    with script_server(BUDGET_APP) as server:
        asyncio.run(everyone(server.port))
        time.sleep(1.2)
        base = server.rss_kib
        with RssSampler([server.pid], interval=0.005) as sampler:
            answers = asyncio.run(everyone(server.port))
    expected = [b"%d %s" % (len(b), hashlib.sha256(b).hexdigest().encode()) for b in bodies]
    assert answers == expected
    # In memory, eight such bodies were +128 MiB; one at a time is read back whole.
    growth = sampler.peak_kib - base
    assert growth <= 48 * 1024, f"+{growth / 1024:.1f} MiB"


# -- small items gathered, slow ones not held back -------------------------------------------


@pytest.fixture(scope="module")
def native() -> Iterator[StressServer]:
    with script_server(BUDGET_APP) as server:
        yield server


@pytest.fixture(scope="module", params=["4", "0"], ids=["threads", "inline"])
def wsgi(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    args = ["--wsgi", "stress_budget_app:wsgi", "--no-access-log", "--threads", request.param]
    with running_server(*args, cwd=TESTS) as server:
        yield server


def test_an_iterables_small_items_leave_in_few_chunks(native: StressServer) -> None:
    body = _get(native.port, b"/items?20000&1").partition(b"\r\n\r\n")[2]
    chunks = _chunks(body)
    assert b"".join(chunks) == b"x" * 20000
    assert len(chunks) <= 4, len(chunks)  # one per item: 20,000


@pytest.mark.parametrize("path", [b"/items", b"/write-items"])
def test_a_wsgi_apps_small_pieces_leave_in_few_chunks(wsgi: ServerProcess, path: bytes) -> None:
    body = _get(wsgi.port, path + b"?20000&1").partition(b"\r\n\r\n")[2]
    chunks = _chunks(body)
    assert b"".join(chunks) == b"x" * 20000
    # Threaded, the loop takes what the worker posted meanwhile: far fewer than one
    # chunk per piece, however the threads are scheduled.
    assert len(chunks) <= 2000, len(chunks)


def test_a_wsgi_iterable_that_also_calls_write_keeps_its_order(wsgi: ServerProcess) -> None:
    body = _get(wsgi.port, b"/mixed?20000").partition(b"\r\n\r\n")[2]
    expected = b"".join(b"w%d\ny%d\n" % (i, i) for i in range(20000))
    assert b"".join(_chunks(body)) == expected


def test_a_streaming_apps_small_writes_leave_in_few_chunks(trigger: list[str]) -> None:
    class Writer:
        def handle_exchange(self, exchange: driver.Exchange) -> None:
            exchange.start_response(200, ())
            for i in range(10_000):
                exchange.write(b"%d\n" % (i % 10))
            exchange.end()

    with threaded_server(Writer(), trigger) as server:
        body = _get(server.port, b"/").partition(b"\r\n\r\n")[2]
    chunks = _chunks(body)
    assert b"".join(chunks) == b"".join(b"%d\n" % (i % 10) for i in range(10_000))
    assert len(chunks) <= 3, len(chunks)


def _arrival_times(port: int, target: bytes, count: int) -> list[float]:
    """Seconds after the request at which each of ``count`` events arrived."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        start = time.monotonic()
        sock.sendall(b"GET %s HTTP/1.0\r\n\r\n" % target)
        seen, times, data = 0, [], b""
        while seen < count:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
            now = len(re.findall(rb"data: \d+ ", data))
            times += [time.monotonic() - start] * (now - seen)
            seen = now
    return times


def test_a_slow_wsgi_producers_event_is_not_held_for_the_next() -> None:
    # On the thread pool (a producer that sleeps must not run inline, on the loop).
    args = ["--wsgi", "stress_budget_app:wsgi", "--no-access-log"]
    with running_server(*args, cwd=TESTS) as server:
        times = _arrival_times(server.port, b"/events?3&1.0", 3)
    # Events are produced at 0, 1 and 2 s: each must arrive before the next exists.
    assert times[0] < 0.9 and times[1] < 1.9, times


def test_a_streaming_apps_write_from_a_thread_is_not_held_for_the_next(
    trigger: list[str],
) -> None:
    class Events:
        def handle_exchange(self, exchange: driver.Exchange) -> None:
            exchange.start_response(200, ())

            def produce() -> None:
                for i in range(3):
                    exchange.loop.call_soon_threadsafe(exchange.write, b"data: %d \n\n" % i)
                    time.sleep(1.0)
                exchange.loop.call_soon_threadsafe(exchange.end)

            threading.Thread(target=produce, daemon=True).start()

    with threaded_server(Events(), trigger) as server:
        times = _arrival_times(server.port, b"/", 3)
    assert times[0] < 0.9 and times[1] < 1.9, times


# -- Connection: close from the application ----------------------------------------------------


def _closes_after_one(port: int, target: bytes) -> bytes:
    """The head of the answer to a kept-alive request; asserts the server then closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        again = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n%s" % (target, again))
        status, headers, _body = read_response(sock, bytearray())
        assert read_until_close(sock) == b"", "a second response: the connection was kept"
    assert status.startswith(b"HTTP/1.1 200")
    return headers[b"connection"]


def test_a_simple_apps_connection_close_is_honoured(native: StressServer) -> None:
    assert _closes_after_one(native.port, b"/close") == b"close"


def test_a_wsgi_apps_connection_close_is_honoured(wsgi: ServerProcess) -> None:
    assert _closes_after_one(wsgi.port, b"/close") == b"close"


@pytest.mark.parametrize("how", ["respond", "start_response"])
def test_a_streaming_apps_connection_close_is_honoured(trigger: list[str], how: str) -> None:
    class Closer:
        def handle_exchange(self, exchange: driver.Exchange) -> None:
            headers = ((b"Connection", b"Close"),)
            if how == "respond":
                exchange.respond(driver.Reply(200, headers, b"bye"))
            else:
                exchange.start_response(200, headers)
                exchange.write(b"bye")
                exchange.end()

    with threaded_server(Closer(), trigger) as server:
        assert _closes_after_one(server.port, b"/") == b"close"


# -- producers that ignore flow control ----------------------------------------------------------


class _Echo:
    """A switched protocol with no flow control: every byte it reads, written 8 times."""

    def __init__(self) -> None:
        self.transport: Transport | None = None

    def connection_made(self, transport: Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        for _ in range(8):
            self.transport.write(data)

    def eof_received(self) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        pass


def test_a_switched_protocol_without_flow_control_cannot_outrun_a_client(
    trigger: list[str],
) -> None:
    class Upgrade:
        def handle_exchange(self, exchange: driver.Exchange) -> None:
            exchange.switch_protocol(_Echo(), ((b"upgrade", b"echo"), (b"connection", b"upgrade")))

    with threaded_server(Upgrade(), trigger) as server, server.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n")
        sock.settimeout(0.3)
        block = b"e" * 65536
        sent = 0
        try:
            while sent < 256 * MiB:  # the echo would owe 2 GiB
                sent += sock.send(block)
        except TimeoutError:
            pass
    # The server stopped reading once its output was above high water: what the client
    # could send is what the socket buffers took, not all of it.
    assert sent < 64 * MiB, sent


def test_a_streaming_app_that_ignores_pause_writing_spills_not_grows(trigger: list[str]) -> None:
    pieces = [b"%08d" % i * 2048 for i in range(2048)]  # 32 MiB in 16 KiB pieces

    class Careless:
        def handle_exchange(self, exchange: driver.Exchange) -> None:
            exchange.start_response(200, ((b"content-length", b"%d" % (32 * MiB)),))
            for piece in pieces:  # never looks at writing_paused
                exchange.write(piece)
            exchange.end()

    with threaded_server(Careless(), trigger) as server, server.connect() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * KiB)
        tracemalloc.start()
        try:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            time.sleep(1.0)  # read nothing while the app writes
            held = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        received = read_until_close(sock)
    body = received.partition(b"\r\n\r\n")[2]
    assert body == b"".join(pieces)
    # The pieces themselves are the test's (referenced, not copied); the server holds
    # a budget's worth of them, and the rest is in its spill file.
    assert held < 2 * MiB, held


# -- refused requests in the logs ---------------------------------------------------------------


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    access = tmp_path / "access.log"
    args = ["--hello", "--access-log", str(access), "--max-body-size", "10"]
    with running_server(*args) as server:
        yield server, access


def _refuse(server: ServerProcess, wire: bytes) -> bytes:
    with server.connect() as sock:
        sock.sendall(wire)
        sock.shutdown(socket.SHUT_WR)
        return read_until_close(sock)


def _last_line(access: Path, status: int) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in access.read_text().splitlines() if f'" {status} ' in line]
        if lines:
            return lines[-1]
        time.sleep(0.05)
    raise AssertionError(f"no {status} in {access.read_text()!r}")


def test_a_refused_head_is_logged_with_its_first_line_and_the_reason(
    logged: tuple[ServerProcess, Path],
) -> None:
    server, access = logged
    wire = b"GET /many HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 200 + b"\r\n"
    assert _refuse(server, wire).startswith(b"HTTP/1.0 431 ")
    assert '"GET /many HTTP/1.1" 431 ' in _last_line(access, 431)
    server.wait_for_log("more than 100 header fields")


def test_an_unparsable_head_is_logged_escaped_and_bounded(
    logged: tuple[ServerProcess, Path],
) -> None:
    server, access = logged
    assert _refuse(server, b'\r\nG\x00T /"x" HTTP/1.1\r\n\r\n').startswith(b"HTTP/1.0 400 ")
    assert '"G\\x00T /\\"x\\" HTTP/1.1" 400 ' in _last_line(access, 400)
    long = b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert _refuse(server, long).startswith(b"HTTP/1.0 414 ")
    line = _last_line(access, 414)
    assert '"GET /aaaa' in line and 'aaa..." 414 ' in line and len(line) < 1200


def test_a_request_refused_in_its_body_is_logged_with_its_request_line(
    logged: tuple[ServerProcess, Path],
) -> None:
    server, access = logged
    wire = b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"
    assert _refuse(server, wire).startswith(b"HTTP/1.0 413 ")
    assert '"POST /big HTTP/1.1" 413 ' in _last_line(access, 413)
    server.wait_for_log("larger than 10")
