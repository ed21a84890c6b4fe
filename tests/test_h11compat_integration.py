"""Real third-party code on the facade: uvicorn ``--http h11`` and httpx, over loopback.

The matrix: uvicorn on the facade answering httpx on the real h11, uvicorn on h11
answering httpx on the facade, and both on the facade. Each process installs the
facade (or not) before it imports anything, and reports which ``h11`` it really ran on
(the server in every response, the client in its output), so a silent fall back to h11
fails here. httpx covers GET, HEAD, POST with a Content-Length and chunked,
keep-alive, ``Expect: 100-continue``, a declined Upgrade, a server that closes, a
stream, a 100 before the response, a close-delimited body and a malformed response;
raw sockets cover what httpx never sends: pipelining, an HTTP/1.0 client, a client that
really waits for ``100 Continue``, and a malformed request. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h11
import pytest

from server_helpers import free_port

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC)}
KINDS = ("facade", "h11")
H11_NAME = {"facade": "sansio.h11compat", "h11": "h11"}


class Uvicorn:
    """uvicorn ``--http h11`` serving tests/h11compat_app.py, on the facade or on h11."""

    def __init__(self, kind: str) -> None:
        self.port = free_port()
        launcher = ["-m", "sansio.h11compat", "uvicorn"] if kind == "facade" else ["-m", "uvicorn"]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *launcher,
                "h11compat_app:app",
                *("--app-dir", str(TESTS), "--http", "h11", "--loop", "asyncio"),
                *("--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"),
            ],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"uvicorn ({kind}) did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
        return err.decode(errors="replace")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Uvicorn]]:
    started = {kind: Uvicorn(kind) for kind in KINDS}
    yield started
    for server in started.values():
        server.stop()


def run_client(kind: str, url: str) -> dict[str, Any]:
    args = [sys.executable, str(TESTS / "h11compat_client.py"), url]
    if kind == "facade":
        args.append("--facade")
    result = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def port_of(seen: dict[str, Any]) -> str:
    return str(seen["headers"]["x-client-port"])


@pytest.mark.parametrize(
    ("server_kind", "client_kind"), [("facade", "h11"), ("h11", "facade"), ("facade", "facade")]
)
def test_httpx_and_uvicorn_across_the_matrix(
    servers: dict[str, Uvicorn], server_kind: str, client_kind: str
) -> None:
    out = run_client(client_kind, servers[server_kind].url)
    assert out["client_h11"] == H11_NAME[client_kind]
    assert out["client_parser_loaded"] is (client_kind == "h11")
    get = out["get"]
    assert (get["status"], get["body"], get["http_version"]) == (200, "hello", "HTTP/1.1")
    assert get["headers"]["x-h11"] == H11_NAME[server_kind]
    assert get["headers"]["x-h11-parser"] == ("yes" if server_kind == "h11" else "no")
    head = out["head"]
    assert (head["status"], head["body"], head["headers"]["content-length"]) == (200, "", "5")
    assert out["post_length"]["body"] == "x" * 1000
    assert out["post_length"]["headers"]["x-chunked"] == "no"
    assert out["post_chunked"]["body"] == "chunk one, chunk two"
    assert out["post_chunked"]["headers"]["x-chunked"] == "yes"
    ports = {port_of(seen) for seen in out["keep_alive"]}
    assert len(ports) == 1, "three requests on one httpx client share one connection"
    assert port_of(out["get"]) in ports
    assert (out["expect_continue"]["status"], out["expect_continue"]["body"]) == (200, "body")
    declined, after = out["upgrade_declined"]
    assert (declined["status"], declined["body"], after["status"]) == (200, "hello", 200)
    closing, next_one = out["server_closes"]
    assert closing["headers"]["connection"] == "close"
    assert port_of(next_one) != port_of(closing), "a new connection after the server closed"
    stream = out["stream"]
    assert (stream["body"], stream["headers"]["transfer-encoding"]) == ("hello", "chunked")
    assert (out["raw_continue"]["status"], out["raw_continue"]["body"]) == (200, "ok")
    assert out["raw_eof"]["body"] == "body until close"
    assert out["raw_malformed"].startswith("RemoteProtocolError")


# -- raw sockets against either server: what httpx does not send ------------------------


def exchange(port: int, data: bytes, *, then: bytes = b"", wait_for: bytes = b"") -> bytes:
    """Send ``data``; if ``wait_for``, read until it arrives and send ``then``; read
    until the server closes or goes quiet for a second (bounded: 10 s in all)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        if wait_for:
            while wait_for not in received:
                piece = sock.recv(65536)
                assert piece, f"closed before {wait_for!r}: {received!r}"
                received += piece
            sock.sendall(then)
        sock.settimeout(1.0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            if not piece:
                break
            received += piece
        return received


def responses(wire: bytes, count: int, method: bytes = b"GET") -> list[tuple[h11.Response, bytes]]:
    """The first ``count`` responses in ``wire``, read by the real h11 as a client."""
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(wire)
    conn.receive_data(b"")  # what exchange() read is all there is
    out = []
    for _ in range(count):
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "a")]))
        conn.send(h11.EndOfMessage())
        response, body = None, b""
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise AssertionError(f"{event!r} in {wire!r}")
        assert response is not None
        out.append((response, body))
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_pipelined_requests_get_their_responses_in_order(
    servers: dict[str, Uvicorn], kind: str
) -> None:
    wire = exchange(
        servers[kind].port,
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd"
        b"GET /close HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    (first, one), (second, two), (third, three) = responses(wire, 3)
    assert (first.status_code, one) == (200, b"hello")
    assert (second.status_code, two) == (200, b"abcd")
    assert (third.status_code, three) == (200, b"hello")
    assert dict(first.headers)[b"x-h11"] == H11_NAME[kind].encode()


@pytest.mark.parametrize("kind", KINDS)
def test_an_http10_client_is_answered_and_the_connection_closed(
    servers: dict[str, Uvicorn], kind: str
) -> None:
    wire = exchange(servers[kind].port, b"GET / HTTP/1.0\r\n\r\n")
    # h11 answers "HTTP/1.1" to a 1.0 client, the facade "HTTP/1.0" (README's table).
    assert wire.startswith(b"HTTP/1.1 200" if kind == "h11" else b"HTTP/1.0 200"), wire
    ((response, body),) = responses(wire, 1)
    assert body == b"hello"
    assert b"close" in dict(response.headers).get(b"connection", b"")


@pytest.mark.parametrize("kind", KINDS)
def test_a_client_waiting_for_100_continue_gets_it_then_its_answer(
    servers: dict[str, Uvicorn], kind: str
) -> None:
    wire = exchange(
        servers[kind].port,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        wait_for=b"100 Continue\r\n",
        then=b"hello",
    )
    assert wire.startswith(b"HTTP/1.1 100 Continue\r\n"), wire
    final = wire[wire.index(b"\r\n\r\n") + 4 :]
    ((response, body),) = responses(final, 1)
    assert (response.status_code, body) == (200, b"hello")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "bad",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # no Host
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n"
        b"\r\n0\r\n\r\n",
    ],
)
def test_a_malformed_request_gets_400_and_a_close(
    servers: dict[str, Uvicorn], kind: str, bad: bytes
) -> None:
    wire = exchange(servers[kind].port, bad)
    ((response, _),) = responses(wire, 1)
    if kind == "h11" and b"Transfer-Encoding" in bad:
        # h11 lets Transfer-Encoding win over Content-Length; the core refuses both
        # together (RFC 9112 §6.3, request smuggling): a listed difference.
        assert response.status_code == 200
    else:
        assert response.status_code == 400, wire
