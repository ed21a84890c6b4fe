"""At ``--max-connections``, idle kept-alive connections make room for new clients,
the one idle longest first (nginx's ``ngx_drain_connections``); a connection that is
receiving a request or sending a response never does, nor one whose kernel still holds
its last answer or its next request (a close would reset it), until those are gone.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_helpers import (
    DOCROOT_FILES,
    ServerProcess,
    docroot,
    read_response,
    read_until_close,
    running_server,
    trigger,
)

__all__ = ["docroot", "trigger"]  # fixtures used by this module

SMALL = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def capped(docroot: Path, trigger: list[str]) -> Iterator[ServerProcess]:
    # Keep-alive far longer than the test: only making room can close a connection.
    args = [str(docroot), "--max-connections", "5", "--keepalive-timeout", "300", *trigger]
    with running_server(*args) as server:
        yield server


def _kept_alive(server: ServerProcess) -> socket.socket:
    """A connection that has had one answer and waits, kept alive."""
    sock = server.connect()
    sock.sendall(SMALL)
    status, _, body = read_response(sock, bytearray())
    assert (status, body) == (b"HTTP/1.1 200 OK", DOCROOT_FILES["small.txt"])
    return sock


def _closed(sock: socket.socket, wait: float = 2.0) -> bool:
    """Whether the server has closed ``sock`` (EOF within ``wait`` seconds)."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def _served(server: ServerProcess, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        return read_until_close(sock)


def test_at_the_cap_the_connection_idle_longest_makes_room(capped: ServerProcess) -> None:
    # Before: the listener stopped at the cap, and a new client got nothing until a
    # kept-alive connection met its 75 s timeout.
    idle = [_kept_alive(capped) for _ in range(5)]
    time.sleep(0.1)
    assert _served(capped).endswith(DOCROOT_FILES["small.txt"])
    assert _closed(idle[0])
    for sock in idle[1:]:  # the others are untouched and still kept alive
        sock.sendall(SMALL)
        assert read_response(sock, bytearray())[0] == b"HTTP/1.1 200 OK"
    for sock in idle:
        sock.close()


def test_a_connection_used_again_is_idle_anew(capped: ServerProcess) -> None:
    idle = [_kept_alive(capped) for _ in range(5)]
    idle[0].sendall(SMALL)  # the oldest is used again: now the newest idle one
    assert read_response(idle[0], bytearray())[0] == b"HTTP/1.1 200 OK"
    time.sleep(0.1)
    newcomers = []
    for expected in (1, 2):  # each newcomer stays, kept alive: it holds its slot
        newcomers.append(_kept_alive(capped))
        assert _closed(idle[expected]), expected
    assert not _closed(idle[0], wait=0.2)
    for sock in idle + newcomers:
        sock.close()


def test_connections_in_the_middle_of_a_request_or_a_response_never_make_room(
    capped: ServerProcess,
) -> None:
    partial = capped.connect()
    partial.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n")  # the head is not complete
    downloading = socket.socket()
    downloading.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    downloading.connect(("127.0.0.1", capped.port))
    downloading.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")  # and not read
    idle = [_kept_alive(capped) for _ in range(3)]
    time.sleep(0.1)
    # The idle ones make room, one per new client (which then hold the slots).
    newcomers = [_kept_alive(capped) for _ in range(3)]
    assert [_closed(sock) for sock in idle] == [True] * 3
    for sock in newcomers:  # idle in their turn: the oldest of them goes for the next
        sock.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n")  # a head begun
    time.sleep(0.1)
    waiting = capped.connect(timeout=0.5)  # the kernel completes the handshake ...
    waiting.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
    with pytest.raises(TimeoutError):
        waiting.recv(1024)  # ... but nobody is idle: it waits in the backlog
    partial.sendall(b"\r\n")  # the request completes; once answered, it is idle ...
    status, _, body = read_response(partial, bytearray())
    assert (status, body) == (b"HTTP/1.1 200 OK", DOCROOT_FILES["small.txt"])
    waiting.settimeout(5)
    assert read_until_close(waiting).endswith(DOCROOT_FILES["small.txt"])  # ... and makes room
    assert _closed(partial)
    downloading.settimeout(5)
    received = b""
    while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < 1 << 20:
        chunk = downloading.recv(1 << 16)
        assert chunk, "the download was cut"
        received += chunk
    for sock in (partial, downloading, waiting, *idle, *newcomers):
        sock.close()


def test_without_idle_connections_new_clients_wait_for_a_close(
    docroot: Path, trigger: list[str]
) -> None:
    # Fresh connections that have sent nothing yet are not reclaimed: they may be
    # sending their first request right now.
    with running_server(str(docroot), "--max-connections", "2", *trigger) as server:
        fresh = [server.connect(), server.connect()]
        time.sleep(0.1)
        waiting = server.connect(timeout=0.5)
        waiting.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        with pytest.raises(TimeoutError):
            waiting.recv(1024)
        fresh[0].close()
        waiting.settimeout(5)
        assert read_until_close(waiting).endswith(DOCROOT_FILES["small.txt"])
        for sock in (*fresh, waiting):
            sock.close()


def _slow_reader(server: ServerProcess, path: str) -> socket.socket:
    """A connection that asks for ``path`` and does not read the answer yet: with a
    4 KiB receive window, most of it waits in the server's kernel send queue while the
    server, having handed it all over, sees the connection idle."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def _answer_intact(sock: socket.socket, body: bytes) -> bool:
    status, _, received = read_response(sock, bytearray())
    return status == b"HTTP/1.1 200 OK" and received == body


@pytest.fixture
def medium(docroot: Path) -> bytes:
    """A file larger than a slow reader's window, small enough for the kernel's send
    queue to take the rest."""
    content = bytes(range(256)) * 192  # 48 KiB
    (docroot / "medium.bin").write_bytes(content)
    return content


def test_an_idle_connection_is_not_closed_before_its_answer_is_read(
    docroot: Path, trigger: list[str], medium: bytes
) -> None:
    # Closing it then would reset it as the client writes, and the reset destroys the
    # part of the answer it has not read. Nor is it skipped for good: once its bytes
    # have gone it makes room (before, the newcomer waited for the keep-alive timeout:
    # no event says when the kernel's queue is empty).
    args = [str(docroot), "--max-connections", "2", "--keepalive-timeout", "300", *trigger]
    with running_server(*args) as server:
        slow = _slow_reader(server, "/medium.bin")
        busy = server.connect()
        busy.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n")  # a head begun
        time.sleep(0.2)
        newcomer = server.connect(timeout=0.5)
        newcomer.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        with pytest.raises(TimeoutError):
            newcomer.recv(1024)  # the only idle connection still owes bytes
        assert _answer_intact(slow, medium)
        newcomer.settimeout(5)
        assert read_until_close(newcomer).endswith(DOCROOT_FILES["small.txt"])
        assert _closed(slow)
        for sock in (slow, busy, newcomer):
            sock.close()


def test_slow_readers_at_the_head_of_the_idle_order_do_not_stop_room_being_made(
    docroot: Path, trigger: list[str], medium: bytes
) -> None:
    # More of them than one round looks at (32): the idle ones behind make room.
    crowd, cap = 40, 43
    args = [str(docroot), "--max-connections", str(cap), "--keepalive-timeout", "300"]
    with running_server(*args, *trigger) as server:
        slow = [_slow_reader(server, "/medium.bin") for _ in range(crowd)]
        time.sleep(0.3)
        idle = [_kept_alive(server) for _ in range(cap - crowd)]
        time.sleep(0.1)
        # Each newcomer stays, kept alive: each needs room of its own.
        newcomers = [_kept_alive(server) for _ in range(cap - crowd)]
        assert [_closed(sock) for sock in idle] == [True] * len(idle)
        assert all(_answer_intact(sock, medium) for sock in slow)  # none was cut
        for sock in (*slow, *idle, *newcomers):
            sock.close()


def test_a_next_request_already_arrived_is_answered_not_reset(
    capped: ServerProcess,
) -> None:
    # The loop sees the newcomer before it reads the request the oldest idle
    # connection has sent (the server is stopped while both arrive, the newcomer first):
    # closing that connection would reset it, its request lost.
    idle = [_kept_alive(capped) for _ in range(5)]
    time.sleep(0.1)
    os.kill(capped.proc.pid, signal.SIGSTOP)
    try:
        newcomer = capped.connect()
        newcomer.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        time.sleep(0.05)
        idle[0].sendall(SMALL)
        time.sleep(0.05)
    finally:
        os.kill(capped.proc.pid, signal.SIGCONT)
    status, _, body = read_response(idle[0], bytearray())
    assert (status, body) == (b"HTTP/1.1 200 OK", DOCROOT_FILES["small.txt"])
    assert read_until_close(newcomer).endswith(DOCROOT_FILES["small.txt"])
    assert _closed(idle[1])  # the next one idle longest made room instead
    for sock in (*idle, newcomer):
        sock.close()
