"""Timeouts on the loop's timer heap: header (absolute, 408), body (408), keep-alive
idle (close), stalled writer (close). Short timeouts keep the tests fast; every test
runs in both epoll trigger modes.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import driver

from server_helpers import (
    ServerProcess,
    app_dir,
    read_response,
    read_until_close,
    running_server,
    threaded_server,
    trigger,
)

__all__ = ["app_dir", "trigger"]  # fixtures used by this module

MiB = 1024 * 1024
_GET = b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"
_LAST = b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

TIMEOUT = 0.5
BIG = 32 * 1024 * 1024  # more than loopback socket buffers hold


@pytest.fixture(scope="module")
def server(trigger: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root: Path = tmp_path_factory.mktemp("timeouts")
    (root / "big.bin").write_bytes(b"z" * BIG)
    with running_server(
        str(root),
        "--header-timeout",
        str(TIMEOUT),
        "--body-timeout",
        str(TIMEOUT),
        "--keepalive-timeout",
        str(TIMEOUT),
        *trigger,
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def body_server(trigger: list[str], app_dir: Path) -> Iterator[ServerProcess]:
    """An application that reads request bodies (static files discard them, answering
    at the head)."""
    timeouts = ("--header-timeout", "--body-timeout", "--keepalive-timeout")
    options = [item for name in timeouts for item in (name, str(TIMEOUT))]
    with running_server("--wsgi", "testapp:app", *options, *trigger, cwd=app_dir) as proc:
        yield proc


def test_silent_client_gets_408_and_a_close(server: ServerProcess) -> None:
    with server.connect() as sock:
        start = time.monotonic()
        response = read_until_close(sock)
        elapsed = time.monotonic() - start
    assert response.startswith(b"HTTP/1.0 408 Request Timeout\r\n")
    assert b"\r\ndate: " in response.lower()  # even with no request to answer
    assert TIMEOUT * 0.8 <= elapsed < TIMEOUT + 1.5


def test_slow_head_gets_408(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        response = read_until_close(sock)
    assert response.startswith(b"HTTP/1.0 408 ")


def test_header_deadline_is_not_extended_by_each_byte(server: ServerProcess) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"d" * 100
    with server.connect() as sock:
        sock.settimeout(0.05)
        start = time.monotonic()
        received = b""
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                received += sock.recv(4096)
            except TimeoutError:
                continue
            if received:
                break
        elapsed = time.monotonic() - start
        sock.settimeout(5)
        received += read_until_close(sock)
    assert received.startswith(b"HTTP/1.0 408 ")
    # One byte every ~50 ms would take 6 s; the absolute deadline ends it near 0.5 s.
    assert elapsed < TIMEOUT + 1.5


def test_stalled_body_gets_408(body_server: ServerProcess) -> None:
    with body_server.connect() as sock:
        sock.sendall(b"POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\nab")
        start = time.monotonic()
        response = read_until_close(sock)
        elapsed = time.monotonic() - start
    assert response.startswith(b"HTTP/1.0 408 ")
    assert elapsed < TIMEOUT + 1.5


def test_idle_keep_alive_connection_is_closed(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n")
        buffered = bytearray()
        status, _, body = read_response(sock, buffered)
        assert (status, body) == (b"HTTP/1.1 206 Partial Content", b"z" * 10)
        start = time.monotonic()
        assert read_until_close(sock) == b""  # closed quietly, no 408
        assert TIMEOUT * 0.8 <= time.monotonic() - start < TIMEOUT + 1.5


def test_kept_alive_connection_in_use_is_not_closed(server: ServerProcess) -> None:
    # Requests every 0.2 s for twice the keep-alive timeout: each one re-arms it.
    with server.connect() as sock:
        buffered = bytearray()
        for _ in range(int(2 * TIMEOUT / 0.2) + 1):
            sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n\r\n")
            assert read_response(sock, buffered)[2] == b"z"
            time.sleep(0.2)


def test_client_that_stops_reading_is_dropped(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(TIMEOUT + 1.5)  # read nothing: the server's sendfile stalls
        received = read_until_close(sock)
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert len(received) < BIG  # dropped before the end


def test_server_still_serves_after_timeouts(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /big.bin HTTP/1.0\r\nRange: bytes=0-2\r\n\r\n")
        assert read_until_close(sock).endswith(b"\r\n\r\nzzz")


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
        b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 10\r\n\r\n",
    ],
)
def test_408_on_a_kept_alive_request_says_connection_close(
    body_server: ServerProcess, head: bytes
) -> None:
    with body_server.connect() as sock:
        sock.sendall(head + b"ab")
        response = read_until_close(sock)
    head_out = response.partition(b"\r\n\r\n")[0]
    assert head_out.startswith(b"HTTP/1.0 408 "), response
    assert b"\r\nConnection: close" in head_out
    assert b"keep-alive" not in head_out.lower()


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
