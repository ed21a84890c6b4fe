"""The examples run for real: the asyncio server on loopback, fetched by the selectors
client (a subprocess), by ``http.client`` and by raw sockets. Every wait is bounded."""

from __future__ import annotations

import http.client
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 10.0

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "asyncio_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("listening on http://127.0.0.1:"):
            proc.kill()
            _, err = proc.communicate(timeout=TIMEOUT)
            pytest.fail(f"the example server did not start: {line!r} {err.decode()[-2000:]}")
        yield int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        assert proc.poll() is None, "the example server died during the tests"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=TIMEOUT)


def run_client(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "selectors_client.py"), "--timeout", "5", *args],
        capture_output=True,
        timeout=TIMEOUT + 5,
    )


def recv_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (bounded by the socket's timeout)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
    raise AssertionError("the server did not close the connection")


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        return recv_until_closed(sock)


def test_selectors_client_fetches_a_page(server_port: int) -> None:
    result = run_client(f"http://127.0.0.1:{server_port}/")
    assert result.returncode == 0, result.stderr.decode()
    head, _, body = result.stdout.partition(b"\n\n")
    lines = head.split(b"\n")
    assert lines[0] == b"HTTP/1.0 200 OK"
    assert b"content-length: 13" in lines
    assert b"connection: close" in lines
    assert body == b"hello, world\n"


def test_selectors_client_posts_a_body(server_port: int) -> None:
    result = run_client("--data", "x" * 3000, f"http://127.0.0.1:{server_port}/echo?q=1")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.startswith(b"HTTP/1.0 200 OK\n")
    assert result.stdout.endswith(b"\n\nPOST /echo?q=1: 3 headers, 3000 body bytes\n")


def test_selectors_client_reports_a_refused_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connecting is refused
        result = run_client(f"http://127.0.0.1:{port}/")
    assert result.returncode == 1
    assert result.stderr.startswith(b"error:")


def test_http_client_keeps_the_connection_alive(server_port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server_port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, b"hello, world\n")
        assert first.getheader("Connection") == "keep-alive"
        sock = conn.sock
        conn.request("POST", "/form", body=b"a=1&b=2")
        second = conn.getresponse()
        assert second.status == 200
        assert second.read() == b"POST /form: 3 headers, 7 body bytes\n"
        assert conn.sock is sock, "http.client had to reconnect: keep-alive failed"
    finally:
        conn.close()


def test_http_client_head_gets_headers_only(server_port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server_port, timeout=TIMEOUT)
    try:
        conn.request("HEAD", "/")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Length") == "13"
        assert response.read() == b""
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(server_port: int) -> None:
    requests = b"".join(
        b"GET /%d HTTP/1.1\r\nHost: x\r\n%b\r\n" % (i, b"Connection: close\r\n" if i == 2 else b"")
        for i in range(3)
    )
    reply = raw_exchange(server_port, requests)
    assert reply.count(b"HTTP/1.0 200 OK\r\n") == 3
    assert reply.index(b"GET /0:") < reply.index(b"GET /1:") < reply.index(b"GET /2:")
    assert reply.endswith(b"GET /2: 2 headers, 0 body bytes\n")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET /\x00 HTTP/1.0\r\n\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (b"GET /" + b"a" * 10000 + b" HTTP/1.0\r\n\r\n", 414),
    ],
)
def test_bad_input_gets_the_status_hint_and_a_close(
    server_port: int, request_bytes: bytes, status: int
) -> None:
    reply = raw_exchange(server_port, request_bytes)
    assert reply.startswith(b"HTTP/1.0 %d " % status), reply[:200]
    assert b"\r\nConnection: close\r\n" in reply


def test_bad_request_after_a_good_one_on_the_same_connection(server_port: int) -> None:
    reply = raw_exchange(
        server_port,
        b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    )
    first, _, rest = reply.partition(b"GET /ok: 1 headers, 0 body bytes\n")
    assert first.startswith(b"HTTP/1.0 200 OK\r\n")
    assert rest.startswith(b"HTTP/1.0 400 ")
