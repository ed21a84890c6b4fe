"""The server as a process: graceful shutdown on SIGTERM/SIGINT, the grace period,
``--max-connections``, ``--workers``, the access log, ``--help``, and ``driver.serve``
embedded in a program. Loop behaviour is checked in both epoll trigger modes.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import driver

from server_helpers import (
    SRC,
    app_dir,
    read_response,
    read_until_close,
    running_server,
    threaded_server,
    trigger,
    wait_for,
)

__all__ = ["app_dir", "trigger"]  # fixtures used by this module

MiB = 1024 * 1024

BIG = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def big_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big")
    (root / "big.bin").write_bytes(b"q" * BIG)
    (root / "small.txt").write_bytes(b"small\n")
    return root


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_finishes_in_flight_responses_and_exits_0(
    big_root: Path, trigger: list[str], sig: int
) -> None:
    with running_server(str(big_root), *trigger) as server:
        idle = server.connect()
        idle.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(idle, bytearray())[2] == b"small\n"
        busy = server.connect(timeout=10)
        busy.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
        first = busy.recv(65536)
        assert first.startswith(b"HTTP/1.0 200 OK")
        server.proc.send_signal(sig)
        # The idle kept-alive connection is closed at once ...
        assert read_until_close(idle) == b""
        idle.close()
        # ... and the one being served gets its whole response.
        rest = read_until_close(busy)
        busy.close()
        body = (first + rest).partition(b"\r\n\r\n")[2]
        assert len(body) == BIG
        assert server.proc.wait(10) == 0
        # A new connection is refused once the listener is closed.
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    assert "shutting down" in server.stderr


def test_grace_period_bounds_the_shutdown(big_root: Path, trigger: list[str]) -> None:
    with running_server(str(big_root), "--grace-period", "0.5", *trigger) as server:
        stuck = server.connect()
        stuck.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")  # and never read it
        time.sleep(0.2)
        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
        assert time.monotonic() - start < 3
        stuck.close()
    assert "grace period over" in server.stderr


def test_max_connections_holds_new_clients_in_the_backlog(
    big_root: Path, trigger: list[str]
) -> None:
    with running_server(str(big_root), "--max-connections", "2", *trigger) as server:
        first, second = server.connect(), server.connect()
        time.sleep(0.2)
        waiting = server.connect(timeout=0.5)  # the kernel completes the handshake
        waiting.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        with pytest.raises(TimeoutError):
            waiting.recv(1024)  # ... but the server does not take it yet
        first.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        assert read_until_close(first).endswith(b"small\n")  # a slot frees ...
        waiting.settimeout(5)
        assert read_until_close(waiting).endswith(b"small\n")  # ... and it is served
        second.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        assert read_until_close(second).endswith(b"small\n")
        for sock in (first, second, waiting):
            sock.close()


def test_workers_share_the_port(app_dir: Path, trigger: list[str]) -> None:
    with running_server("--wsgi", "testapp:app", "--workers", "2", *trigger, cwd=app_dir) as server:
        pids = set()
        for _ in range(60):
            with server.connect() as sock:
                sock.sendall(b"GET /pid HTTP/1.0\r\n\r\n")
                pids.add(read_until_close(sock).partition(b"\r\n\r\n")[2])
        assert len(pids) == 2
        assert str(server.proc.pid).encode() not in pids  # the parent only supervises
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(15) == 0


CLF = re.compile(
    r"^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "
    r'"GET /small\.txt\?q=1 HTTP/1\.1" 200 6$',
    re.MULTILINE,
)


def test_access_log_is_common_log_format_on_stderr(big_root: Path) -> None:
    with running_server(str(big_root)) as server:
        with server.connect() as sock:
            sock.sendall(b"GET /small.txt?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            read_until_close(sock)
        log = server.wait_for_log('"GET /small.txt?q=1 HTTP/1.1" 200 6')
    assert CLF.search(log), log


def test_access_log_to_a_file(big_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    with running_server(str(big_root), "--access-log", str(path)) as server:
        with server.connect() as sock:
            sock.sendall(b"GET /small.txt?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            read_until_close(sock)
        deadline = time.monotonic() + 5
        while not (path.exists() and path.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
    assert CLF.search(path.read_text())
    assert "GET /small.txt" not in server.stderr


def test_no_access_log(big_root: Path) -> None:
    with running_server(str(big_root), "--no-access-log") as server, server.connect() as sock:
        sock.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        assert read_until_close(sock).endswith(b"small\n")
    assert server.proc.returncode == 0
    assert "GET /small.txt" not in server.stderr


def test_help_documents_every_option() -> None:
    from driver.cli import build_parser

    result = subprocess.run(
        [sys.executable, "-m", "driver", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={"PYTHONPATH": str(SRC), "COLUMNS": "200"},
    )
    options = [option for action in build_parser()._actions for option in action.option_strings]
    assert len(options) > 20
    for option in options:
        assert option in result.stdout
    for action in build_parser()._actions:
        assert action.help, action


LIBRARY_SCRIPT = """
import driver

def app(request: driver.HTTPRequest) -> driver.Reply:
    text = b"%s %s %d" % (request.method, request.target, len(request.body))
    return driver.Reply(201, ((b"content-type", b"text/plain"), (b"x-app", b"yes")), text)

driver.serve(app, driver.Config(host="127.0.0.1", port=0, access_log=False))
"""


def test_serve_embeds_an_application(tmp_path: Path) -> None:
    script = tmp_path / "embedded.py"
    script.write_text(LIBRARY_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env={"PYTHONPATH": str(SRC)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        port = int(re.search(r"port (\d+)", banner).group(1))  # type: ignore[union-attr]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"PUT /thing HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcd")
            response = read_until_close(sock)
        assert response.startswith(b"HTTP/1.0 201 Created\r\n")
        assert b"x-app: yes" in response
        assert response.endswith(b"\r\n\r\nPUT /thing 4")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_port_in_use_is_a_clean_error(big_root: Path) -> None:
    with running_server(str(big_root)) as server:
        result = subprocess.run(
            [sys.executable, "-m", "driver", "--bind", "127.0.0.1", "--port", str(server.port)],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PYTHONPATH": str(SRC)},
        )
    assert result.returncode == 2  # a startup mistake (see test_cli.py)
    assert "Address already in use" in result.stderr


def test_server_runs_in_a_thread_and_stops_from_another() -> None:
    import driver

    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, (), b"threaded " + request.target)

    config = driver.Config(host="127.0.0.1", port=0, access_log=False)
    server = driver.Server(app, config, driver.make_listener(config))
    port = server.listener.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"install_signals": False})
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /t HTTP/1.0\r\n\r\n")
            assert read_until_close(sock).endswith(b"\r\n\r\nthreaded /t")
    finally:
        server.stop_threadsafe()
        thread.join(10)
    assert not thread.is_alive()


def test_file_of_a_failed_response_is_closed(tmp_path: Path) -> None:
    import os

    import driver

    path = tmp_path / "f.txt"
    path.write_bytes(b"0123456789")
    opened: list[int] = []

    def app(request: driver.HTTPRequest) -> driver.Reply:
        fd = os.open(path, os.O_RDONLY)
        opened.append(fd)
        # A Content-Length that disagrees with the file: the server must answer 500
        # and still close the descriptor it was handed.
        return driver.Reply(200, ((b"content-length", b"3"),), driver.FileBody(fd, 0, 10))

    config = driver.Config(host="127.0.0.1", port=0, access_log=False)
    server = driver.Server(app, config, driver.make_listener(config))
    port = server.listener.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"install_signals": False})
    thread.start()
    try:
        for method in (b"GET", b"HEAD"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(method + b" / HTTP/1.0\r\n\r\n")
                response = read_until_close(sock)
            expected = b"HTTP/1.0 500 " if method == b"GET" else b"HTTP/1.0 200 "
            assert response.startswith(expected), response
    finally:
        server.stop_threadsafe()
        thread.join(10)
    assert len(opened) == 2
    for fd in opened:
        with pytest.raises(OSError):
            os.fstat(fd)  # closed by the server


def _broken_app(request: driver.HTTPRequest) -> driver.Reply:
    if request.target == b"/broken":
        # A descriptor that is not open: closing it (the body of a HEAD reply is
        # never sent) raises OSError deep inside the transport.
        return driver.Reply(200, (), driver.FileBody(-1, 0, 10))
    return driver.Reply(200, (), b"alive " + request.target)


@pytest.mark.parametrize("when", ["with-the-connect", "after-accept"])
def test_exception_escaping_a_connection_closes_only_that_connection(
    trigger: list[str], caplog: pytest.LogCaptureFixture, when: str
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="driver"),
        threaded_server(_broken_app, trigger) as server,
    ):
        with server.connect() as bystander:
            bystander.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(bystander, bytearray())[2] == b"alive /1"
            with server.connect() as victim:
                if when == "after-accept":
                    # Accepted and registered with epoll first: the request then
                    # arrives through the loop's dispatch, not through accept.
                    time.sleep(0.2)
                victim.sendall(b"HEAD /broken HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_until_close(victim) == b""  # dropped, with no response
            bystander.sendall(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(bystander, bytearray())[2] == b"alive /2"
        with server.connect() as late:
            late.sendall(b"GET /3 HTTP/1.0\r\n\r\n")
            assert read_until_close(late).endswith(b"\r\n\r\nalive /3")
        assert server.thread.is_alive()
        deadline = time.monotonic() + 5
        while server.server.loop.transports and time.monotonic() < deadline:
            time.sleep(0.02)  # the bystander's close reaches the loop asynchronously
        assert not server.server.loop.transports  # the victim was forgotten, not leaked
    crashes = [r for r in caplog.records if "internal error on the connection" in r.getMessage()]
    assert len(crashes) == 1 and crashes[0].exc_info is not None
    assert isinstance(crashes[0].exc_info[1], OSError)


def test_call_soon_threadsafe_after_the_loop_ended_writes_nowhere(
    trigger: list[str], tmp_path: os.PathLike[str]
) -> None:
    # Loop.run closes its eventfd (a plain int); call_soon_threadsafe then does
    # os.eventfd_write(self._eventfd, 1) and only suppresses OSError. Once the number is
    # reused (a log file, a socket), a late worker thread writes 8 bytes into it.
    with threaded_server(lambda request: driver.Reply(200, (), b"ok"), trigger) as server:
        loop = server.server.loop
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
        loop = server.server.loop
        for _ in range(count):
            with server.connect() as sock:
                sock.sendall(partial_head)
                time.sleep(0.002)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert wait_for(lambda: not loop.transports, 10)
        # The heap holds weak references: what a closed connection still pins there.
        entries = [entry[2]() for entry in list(loop.heap)]
        closed: list[object] = [timed for timed in entries if timed is not None and timed.closed]
        shared = {
            id(loop),
            id(server.server),
            id(server.server.context),
            id(loop.config),
            id(loop.transport_config),
        }
        retained = _retained_bytes(closed, shared)
    assert retained < 1 * MiB, f"{len(closed)} closed connections keep {retained} bytes"
