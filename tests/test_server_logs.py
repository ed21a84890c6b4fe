"""The access and error logs never block the loop: a reader of standard error (or of
an access-log FIFO) that stops reading holds lines, up to a bound, never the server;
past the bound lines are dropped, counted and reported once the reader is back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driver.log import AccessLog, LogWriter, _WriterHandler

from server_helpers import DOCROOT_FILES, docroot, raw_exchange, running_server
from stress_harness import StuckStderrServer

__all__ = ["docroot"]  # fixture used by this module

# More than a full pipe (64 KiB) of access-log lines, well under LogWriter's bound.
REQUESTS = 1500


def _get_small(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_stuck_reader_of_stderr_does_not_stop_the_server(docroot: Path) -> None:
    # The access log was written with a blocking write on the loop: once the pipe was
    # full (about 800 lines), every client waited for the reader.
    server = StuckStderrServer([str(docroot)])
    try:
        for number in range(REQUESTS):
            try:
                response = _get_small(server.port)
            except TimeoutError:
                pytest.fail(f"request {number} not answered with standard error stuck")
            assert response.endswith(DOCROOT_FILES["small.txt"])
    finally:
        code, log = server.stop()
    lines = [line for line in log.splitlines() if '"GET /small.txt HTTP/1.0" 200' in line]
    assert len(lines) == REQUESTS  # held, not lost: the reader came back in time
    assert code == 0  # and the shutdown, logged too, was not held


def test_shutdown_is_not_held_by_a_reader_stuck_for_good(docroot: Path) -> None:
    server = StuckStderrServer([str(docroot), "--grace-period", "1"])
    try:
        for _ in range(REQUESTS):
            _get_small(server.port)
        server.proc.terminate()
        code = server.proc.wait(15)  # still stuck: nobody reads
    finally:
        server.stop()
    assert code == 0


def test_an_access_log_fifo_that_is_not_read_does_not_stop_the_server(
    docroot: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # there, never reading
    try:
        with running_server(str(docroot), "--access-log", str(fifo)) as server:
            for number in range(REQUESTS):
                try:
                    assert _get_small(server.port).endswith(DOCROOT_FILES["small.txt"])
                except TimeoutError:
                    pytest.fail(f"request {number} not answered with the access log stuck")
    finally:
        os.close(reader)


def test_workers_write_their_own_access_log_lines(docroot: Path) -> None:
    # Each worker starts its own writer thread after the fork.
    with running_server(str(docroot), "--workers", "2") as server:
        for _ in range(40):
            raw_exchange(server.port, b"GET /small.txt?worker HTTP/1.0\r\n\r\n")
        deadline = time.monotonic() + 5
        while server.stderr.count("?worker HTTP/1.0") < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        log = server.stderr
    assert log.count('"GET /small.txt?worker HTTP/1.0" 200') == 40


# -- the writer on its own -----------------------------------------------------------------


@pytest.fixture
def stuck_pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    try:
        yield read_end, write_end
    finally:
        for fd in (read_end, write_end):
            with contextlib.suppress(OSError):
                os.close(fd)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.arrived.set()


@pytest.fixture
def warnings() -> Iterator[_Records]:
    records = _Records()
    logger = logging.getLogger("driver")
    logger.addHandler(records)
    try:
        yield records
    finally:
        logger.removeHandler(records)


def _read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_lines_beyond_the_bound_are_dropped_counted_and_reported(
    stuck_pipe: tuple[int, int], warnings: _Records
) -> None:
    read_end, write_end = stuck_pipe
    writer = LogWriter(write_end, "the test pipe", limit=100_000)
    line = b"x" * 99 + b"\n"
    for _ in range(5000):  # 500 KB: the pipe takes 64 KiB, the writer 100 KB
        writer.write(line)
    assert not warnings.messages  # nothing reported while the reader is away
    received = b""
    while not warnings.arrived.wait(0.05):
        received += _read_all(read_end)  # the reader comes back
    received += _read_all(read_end)
    assert writer.drain(5)
    received += _read_all(read_end)
    kept = received.count(b"\n")
    assert set(received.split(b"\n")[:-1]) == {b"x" * 99}  # whole lines only
    (message,) = warnings.messages
    assert message == f"{5000 - kept} log lines dropped: the test pipe was not read fast enough"
    assert 0 < kept < 5000
    writer.write(line)  # caught up: lines go through again
    assert writer.drain(5)
    assert _read_all(read_end) == line
    writer.close()


def test_the_error_log_does_not_block_on_a_stuck_reader(stuck_pipe: tuple[int, int]) -> None:
    _read_end, write_end = stuck_pipe
    handler = _WriterHandler(LogWriter(write_end, "the test pipe"))
    logger = logging.getLogger("test_server_logs.stuck")
    logger.addHandler(handler)
    logger.propagate = False
    done = threading.Event()

    def log_a_lot() -> None:
        for number in range(20_000):
            logger.error("error number %d, with a few words to fill the pipe", number)
        done.set()

    try:
        thread = threading.Thread(target=log_a_lot, daemon=True)
        thread.start()
        # A blocking write would wait for a reader that never comes.
        assert done.wait(30), "logging blocked on a stuck reader"
    finally:
        logger.removeHandler(handler)
        handler.writer.close(0.1)


def test_closing_a_stuck_owned_log_leaves_its_descriptor_to_the_writer(
    stuck_pipe: tuple[int, int], tmp_path: Path
) -> None:
    _read_end, write_end = stuck_pipe
    writer = LogWriter(write_end, "the test pipe", owned=True)
    writer.write(b"y" * 200_000)  # more than the pipe holds: the thread blocks
    writer.close(0.2)
    # The thread is still in write(): the number must not be closed under it (a
    # new socket or file could get it and receive the log).
    os.fstat(write_end)


def test_an_access_log_file_is_closed_once_written(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    access_log = AccessLog(str(path))
    access_log.log_error("127.0.0.1", 400, 16)
    access_log.close()
    assert path.read_text().endswith('"-" 400 16\n')
