"""WSGI through the real server, at the byte level: the head as the application gave
it, bounded memory for a large response to a slow reader, a client that leaves
mid-response, errors after the head, sendfile, graceful shutdown with a stuck
application, ``--threads``, and mistakes in ``--wsgi`` (one line, exit code 2).
The application is ``wsgi_apps/plain_app.py``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_helpers import SRC, ServerProcess, read_until_close, running_server

APPS = Path(__file__).resolve().parent / "wsgi_apps"
MIB = 1024 * 1024
THREAD_MODES = [pytest.param([], id="pool"), pytest.param(["--threads", "0"], id="inline")]


@pytest.fixture(scope="module", params=THREAD_MODES)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with running_server("--wsgi", "plain_app:app", *request.param, cwd=APPS) as process:
        yield process


def get(server: ServerProcess, target: str, version: str = "1.0", method: str = "GET") -> bytes:
    with server.connect() as sock:
        sock.sendall(
            f"{method} {target} HTTP/{version}\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        return read_until_close(sock)


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_reason_phrase_and_stripped_values_on_the_wire(server: ServerProcess) -> None:
    reply = get(server, "/reason")  # HTTP/1.0: the body is close-delimited, not chunked
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.0 299 Whatever"
    assert b"x-spaced: padded value" in [line.lower() for line in lines]
    assert body == b"custom reason"


def test_head_request_has_no_body(server: ServerProcess) -> None:
    reply = get(server, "/reason", "1.1", method="HEAD")
    assert reply.startswith(b"HTTP/1.1 299 Whatever\r\n")
    assert reply.endswith(b"\r\n\r\n")


def test_path_info_is_decoded_as_latin_1(server: ServerProcess) -> None:
    reply = get(server, "/env/caf%C3%A9?q=%C3%A9")
    body = reply.partition(b"\r\n\r\n")[2]
    # The app encodes its environ strings back with latin-1: the UTF-8 bytes return.
    assert b"PATH_INFO=/env/caf\xc3\xa9\n" in body
    assert b"QUERY_STRING=q=%C3%A9\n" in body


def test_a_200_mib_stream_to_a_slow_reader_keeps_memory_bounded(server: ServerProcess) -> None:
    pid = server.proc.pid
    get(server, "/stream?1")  # warm up: threads started, buffers allocated once
    before = rss(pid)
    peak = before
    received = 0
    with server.connect(timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
        sock.sendall(b"GET /stream?200 HTTP/1.0\r\n\r\n")
        while chunk := sock.recv(256 * 1024):
            received += len(chunk)
            time.sleep(0.002)  # at most 128 MiB/s: slower than the application produces
            if received % (8 * MIB) < len(chunk):
                peak = max(peak, rss(pid))
    assert received > 200 * MIB
    growth = peak - before
    assert growth < 32 * MIB, f"server RSS grew by {growth / MIB:.1f} MiB"


def closed_streams(server: ServerProcess) -> list[int]:
    """How many pieces each closed /stream had sent (from the server log)."""
    return [
        int(line.split("after ")[1].split(" of")[0])
        for line in server.stderr.splitlines()
        if "stream closed after" in line
    ]


def test_client_gone_mid_response_closes_the_iterable(server: ServerProcess) -> None:
    earlier = len(closed_streams(server))
    with server.connect() as sock:
        sock.sendall(b"GET /stream?100 HTTP/1.1\r\nHost: x\r\n\r\n")
        received = 0
        while received < MIB:
            received += len(sock.recv(65536))
    deadline = time.monotonic() + 5
    while len(closed_streams(server)) == earlier and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(closed_streams(server)) == earlier + 1, server.stderr[-2000:]
    assert closed_streams(server)[-1] < 1600  # stopped: 100 MiB would be 1600 pieces
    assert b"custom reason" in get(server, "/reason")  # and the server goes on


def test_an_error_after_the_head_aborts_the_connection(server: ServerProcess) -> None:
    reply = get(server, "/boom-late", "1.1")
    # Whatever had left before the abort (inline, the failure comes while the first
    # batch is gathered: a 500 before any head; threaded, the head and perhaps the first
    # piece): never a complete 200, which would end with the last chunk.
    assert reply == b"" or reply.startswith((b"HTTP/1.1 200 OK", b"HTTP/1.1 500 "))
    assert not (reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"0\r\n\r\n"))
    server.wait_for_log("boom after the head")
    assert b"custom reason" in get(server, "/reason")


def test_file_wrapper_sends_the_file(server: ServerProcess) -> None:
    reply = get(server, "/sendfile", "1.1")
    head, _, body = reply.partition(b"\r\n\r\n")
    data = (APPS / "static.txt").read_bytes()
    assert body == data
    assert f"content-length: {len(data)}".encode() in head.lower()


def test_a_body_the_app_does_not_read_does_not_break_keep_alive(server: ServerProcess) -> None:
    with server.connect() as sock:
        body = b"x" * 300_000
        request = b"POST /reason HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
        sock.sendall(request + body + b"GET /env HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        replies = read_until_close(sock)
    assert replies.count(b"HTTP/1.1 ") == 2
    assert b"REQUEST_METHOD=GET" in replies


def test_a_stuck_application_does_not_block_shutdown_beyond_the_grace_period() -> None:
    with running_server("--wsgi", "plain_app:app", "--grace-period", "1", cwd=APPS) as server:
        sock = server.connect(timeout=30)
        sock.sendall(b"GET /hang?60 HTTP/1.0\r\n\r\n")
        server.wait_for_log("hang: started")
        started = time.monotonic()
        code = server.stop(signal.SIGTERM, timeout=15)
        elapsed = time.monotonic() - started
        sock.close()
    assert code == 0
    assert elapsed < 6, f"shutdown took {elapsed:.1f} s with a 1 s grace period"


def run_cli(*args: str, cwd: Path = APPS) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{cwd}")
    return subprocess.run(
        [sys.executable, "-m", "driver", "--bind", "127.0.0.1", "--port", "0", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuchmod_xyz:app", "no module named 'nosuchmod_xyz'"),
        ("bad format", "expected MODULE:APP"),
        ("plain_app:missing", "has no attribute 'missing'"),
        ("plain_app:MIB", "is not callable"),
    ],
)
def test_wsgi_loading_mistakes_are_one_line_and_exit_2(spec: str, message: str) -> None:
    result = run_cli("--wsgi", spec)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_an_import_error_inside_the_app_module_shows_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "brokenapp.py").write_text("import no_such_dependency_xyz\napp = None\n")
    result = run_cli("--wsgi", "brokenapp:app", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "no_such_dependency_xyz" in result.stderr
    assert 'brokenapp.py", line 1' in result.stderr


@pytest.mark.parametrize("value", ["-1", "x", "100000"])
def test_bad_thread_counts_are_refused(value: str) -> None:
    result = run_cli("--wsgi", "plain_app:app", "--threads", value)
    assert result.returncode == 2
    assert "--threads" in result.stderr


def test_the_environ_says_which_thread_mode_runs(server: ServerProcess) -> None:
    body = get(server, "/env").partition(b"\r\n\r\n")[2]
    inline = "--threads" in server.args
    assert b"wsgi.multithread=%s" % str(not inline).encode() in body
    assert b"wsgi.input_terminated=True" in body


def test_pipelined_requests_are_answered_in_order(server: ServerProcess) -> None:
    requests = b"".join(
        b"GET /env/%d HTTP/1.1\r\nHost: x\r\n%s\r\n"
        % (i, b"Connection: close\r\n" if i == 4 else b"")
        for i in range(5)
    )
    with server.connect() as sock:
        sock.sendall(requests)
        replies = read_until_close(sock)
    order = [int(part.split(b"\n", 1)[0]) for part in replies.split(b"PATH_INFO=/env/")[1:]]
    assert order == [0, 1, 2, 3, 4]


def test_expect_100_continue_upload(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"0123456789")
        reply = interim + read_until_close(sock)
    final = reply.partition(b"\r\n\r\n")[2]
    assert final.startswith(b"HTTP/1.1 200 OK\r\n")
    assert final.endswith(b"\r\n\r\n2\r\n10\r\n0\r\n\r\n")  # chunked: the app gave no length


def test_http_1_0_streamed_response_is_close_delimited(server: ServerProcess) -> None:
    reply = get(server, "/stream?1")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK")
    assert b"content-length" not in head.lower() and b"chunked" not in head.lower()
    assert body == b"s" * MIB


def test_one_read_of_a_body_larger_than_the_input_buffer(server: ServerProcess) -> None:
    # read(CONTENT_LENGTH) in one call, as Django's request.body does: the input buffer
    # pauses the socket at its high-water mark, and the waiting reader must resume it.
    size = 4 * MIB
    head = f"POST /echo HTTP/1.0\r\nContent-Length: {size}\r\n\r\n".encode()
    with server.connect(timeout=20) as sock:
        sock.sendall(head + b"x" * size)
        response = read_until_close(sock)
    assert response.startswith(b"HTTP/1.0 200 "), response[:200]
    assert response.endswith(b"\r\n\r\n%d" % size)
