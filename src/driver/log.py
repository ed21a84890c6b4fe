"""The access log in Common Log Format, the error log, and the writer both go through.

One access-log line per response, as Apache and nginx write it::

    127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a.html HTTP/1.0" 200 2326

Neither log ever blocks the loop. Standard error may be a pipe whose reader has
stopped (a stuck ``less``, a full log collector), and a blocking ``write`` there would
halt every connection; it cannot be made non-blocking either, since the flag belongs
to the open file, which other processes share. So each destination has a
``LogWriter``: the loop hands it bytes, a thread of its own writes them. What it holds
is bounded (``LOG_BUFFER`` bytes, queued and being written); a line that does not fit
is dropped and counted, and once the writer has caught up it reports the count (a
warning in the error log). The access log gathers its lines in memory and hands them
over once per loop iteration (one ``write`` for many requests; the timestamp is
formatted at most once per second). The error log (``logging``, on standard error)
shares the standard error writer, so the two stay in order.

A writer's thread starts with its first line, also in a worker process after ``fork``
(the parent's thread and lines stay in the parent).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from sansio import Request

__all__ = ["LOG_BUFFER", "AccessLog", "LogWriter", "setup_logging", "stderr_writer"]

log = logging.getLogger("driver")

LOG_BUFFER: Final = 1 << 20
"""Bytes a log writer holds at most (about 10,000 access-log lines): the most a
stalled reader costs in memory, and the lines that wait for it before any is dropped."""

CLOSE_SECONDS: Final = 2.0
"""How long closing a log waits for its lines to be written: a reader that is only
slow gets them all; one that is stuck for good does not hold the exit."""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WRITERS: weakref.WeakSet[LogWriter] = weakref.WeakSet()


class LogWriter:
    """Writes to one descriptor from a thread, never blocking the caller (any thread).
    ``owned``: close the descriptor on ``close()`` (after the thread has let go of it:
    a number closed under a blocked write could be reused by a socket)."""

    def __init__(self, fd: int, name: str, *, owned: bool = False, limit: int = LOG_BUFFER) -> None:
        self.fd = fd
        self.name = name
        self.owned = owned
        self.limit = limit
        self._reset()
        _WRITERS.add(self)

    def _reset(self) -> None:
        self._lock = threading.Condition(threading.Lock())
        self._chunks: list[bytes] = []
        self._size = 0  # bytes queued or being written
        self._dropped = 0  # lines dropped since the last report
        self._closing = False
        self._thread: threading.Thread | None = None

    def write(self, data: bytes, lines: int = 1) -> None:
        """Queue ``data`` (``lines`` lines) to be written, or drop it if the writer
        already holds ``limit`` bytes."""
        with self._lock:
            if self._closing:
                return
            if self._size + len(data) > self.limit:
                self._dropped += lines
                return
            self._chunks.append(data)
            self._size += len(data)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"log writer ({self.name})", daemon=True
                )
                self._thread.start()
            self._lock.notify()

    def _run(self) -> None:
        lock = self._lock
        while True:
            with lock:
                while not self._chunks:
                    if self._closing:
                        return
                    lock.wait()
                chunks, self._chunks = self._chunks, []
            data = b"".join(chunks)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view) :]
            except OSError:
                pass  # closed, or a full disk: nowhere to say so but here
            with lock:
                self._size -= len(data)
                dropped = 0
                if not self._chunks:  # caught up: only then is the count final
                    dropped, self._dropped = self._dropped, 0
                lock.notify_all()  # a close() waiting for the queue to drain
            if dropped:
                log.warning("%d log lines dropped: %s was not read fast enough", dropped, self.name)

    def drain(self, timeout: float = CLOSE_SECONDS) -> bool:
        """Wait up to ``timeout`` seconds for what is queued to be written; whether it
        was."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._size and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)
            return not self._size

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """``drain``, then stop the thread (and close an owned descriptor, once the
        thread is done with it)."""
        deadline = time.monotonic() + timeout
        self.drain(timeout)
        with self._lock:
            self._closing = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return  # stuck in write(): the descriptor stays open for it
        if self.owned:
            self.owned = False
            os.close(self.fd)


def _after_fork_in_child() -> None:
    # The child has none of the parent's threads, and its copies of their locks may
    # be held: each writer starts afresh, without the parent's queued lines.
    for writer in list(_WRITERS):
        writer._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)

_stderr: LogWriter | None = None


def stderr_writer() -> LogWriter:
    """The process's one writer for standard error."""
    global _stderr
    if _stderr is None:
        _stderr = LogWriter(sys.stderr.fileno(), "standard error")
    return _stderr


def _clf_time(now: float) -> str:
    t = time.localtime(now)
    offset = t.tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} "
        f"{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    )


def _printable(raw: bytes) -> str:
    # A request line is attacker-controlled: keep the log one line per request.
    return raw.decode("latin-1").encode("unicode_escape").decode("ascii").replace('"', '\\"')


class AccessLog:
    """Buffers Common Log Format lines and hands them to a ``LogWriter`` once per
    loop iteration: standard error's, or one for the file at ``path``."""

    __slots__ = ("_lines", "_second", "_stamp", "_writer")

    def __init__(self, path: str | None = None) -> None:
        if path is None:
            self._writer = stderr_writer()
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            self._writer = LogWriter(fd, path, owned=True)
        self._lines: list[str] = []
        self._second = -1
        self._stamp = ""

    def _now(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = _clf_time(now)
        return self._stamp

    def log(self, host: str, request: Request, status: int, size: int) -> None:
        """Record one answered request; ``size`` is the body length (CLF's ``%b``)."""
        line = _printable(b"%s %s HTTP/%s" % (request.method, request.target, request.http_version))
        self._lines.append(
            f'{host} - - [{self._now()}] "{line}" {status} {size if size else "-"}\n'
        )

    def log_error(self, host: str, status: int, size: int, line: bytes = b"") -> None:
        """Record an error answered before (or instead of) a parsed request; ``line`` is
        the first line the client sent, as received (escaped here), if any."""
        shown = _printable(line) if line else "-"
        self._lines.append(f'{host} - - [{self._now()}] "{shown}" {status} {size}\n')

    def flush(self) -> None:
        """Hand the buffered lines to the writer (called by the loop once per iteration)."""
        lines = self._lines
        if lines:
            self._writer.write("".join(lines).encode(), len(lines))
            lines.clear()

    def close(self) -> None:
        """Flush, and wait (bounded) for the lines to be written; standard error's
        writer goes on for the error log."""
        self.flush()
        if self._writer is _stderr:
            self._writer.drain()
        else:
            self._writer.close()


class _WriterHandler(logging.Handler):
    """A ``logging`` handler that formats on the caller's thread and hands the text
    to a ``LogWriter``."""

    def __init__(self, writer: LogWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + "\n"
            self.writer.write(text.encode("utf-8", "backslashreplace"), text.count("\n"))
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.writer.drain()


def setup_logging(level: str = "INFO") -> None:
    """Errors and lifecycle messages go through ``logging`` to standard error (through
    its writer, like the access log)."""
    handler = _WriterHandler(stderr_writer())
    handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] %(levelname)s %(message)s"))
    root = logging.getLogger("driver")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
