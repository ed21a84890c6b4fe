"""``wsgi.input``: the request body as it arrives, read by a worker thread.

The loop thread feeds pieces of the body (``feed``, ``feed_eof``) as the connection
delivers them; the application's thread reads them with the file methods PEP 3333
asks for (``read``, ``read(n)``, ``readline``, ``readline(n)``, ``readlines``,
iteration). A read blocks the worker, never the loop, and returns only bytes the client
sent: at the end of the body it returns ``b""``, so ``read()`` to EOF is safe
(``wsgi.input_terminated``). If the connection dies before the body ended, a read that
would wait raises ``ClientDisconnected`` instead.

Memory is bounded: once ``high_water`` bytes wait unread, the feeder calls
``pause_reading`` (on the loop thread, where it runs); once the reader has taken the
buffer down to half of that, it calls ``resume_reading`` (from its own thread: the
caller hands that to the loop). When the application has answered, ``discard`` drops
whatever it left unread, so that the server can skip the rest.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator

__all__ = ["EMPTY_INPUT", "ClientDisconnected", "EmptyInput", "WSGIInput"]

HIGH_WATER = 64 * 1024

_OPEN, _ENDED, _FAILED, _DISCARDED = range(4)


class ClientDisconnected(ConnectionError):
    """The client went away before the request body ended (or while the response was
    being written)."""


class WSGIInput:
    """A thread-safe, bounded, blocking byte stream fed by the loop thread."""

    __slots__ = (
        "_chunks",
        "_cond",
        "_high_water",
        "_lock",
        "_offset",
        "_pause_reading",
        "_paused",
        "_resume_reading",
        "_size",
        "_state",
    )

    def __init__(
        self,
        pause_reading: Callable[[], None],
        resume_reading: Callable[[], None],
        high_water: int = HIGH_WATER,
    ) -> None:
        self._lock = threading.Lock()
        # Made by the first reader that has to wait: most bodies (and every GET) are
        # complete before the application reads them, and a Condition is not free.
        self._cond: threading.Condition | None = None
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # bytes of _chunks[0] already read
        self._size = 0  # bytes buffered and unread
        self._state = _OPEN
        self._paused = False
        self._high_water = high_water
        self._pause_reading = pause_reading
        self._resume_reading = resume_reading

    # -- the loop thread's side ------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """A piece of the body (loop thread)."""
        with self._lock:
            if self._state != _OPEN:
                return
            self._chunks.append(data)
            self._size += len(data)
            if self._cond is not None:
                self._cond.notify()
            pause = self._size >= self._high_water and not self._paused
            if pause:
                self._paused = True
        if pause:
            self._pause_reading()

    def feed_eof(self) -> None:
        """The body is complete (loop thread)."""
        self._finish(_ENDED)

    def abort(self) -> None:
        """The connection died: a reader waiting for more gets ``ClientDisconnected``."""
        self._finish(_FAILED)

    def discard(self) -> bool:
        """The application has answered: drop what it left unread, so the server can
        skip the rest of the body (loop thread). Returns whether reading was paused:
        the caller resumes it."""
        with self._lock:
            self._chunks.clear()
            self._size = 0
            if self._state == _OPEN:
                self._state = _DISCARDED
            paused = self._paused
            self._paused = False
        return paused

    def _finish(self, state: int) -> None:
        with self._lock:
            if self._state == _OPEN:
                self._state = state
                if self._cond is not None:
                    self._cond.notify_all()

    # -- the application's side ------------------------------------------------------

    def _wait(self) -> bool:
        """Wait (lock held) until data or the end arrives; False at the end of the body."""
        while not self._size:
            state = self._state
            if state in (_ENDED, _DISCARDED):
                return False
            if state == _FAILED:
                raise ClientDisconnected("the client closed the connection during the body")
            if self._cond is None:
                self._cond = threading.Condition(self._lock)
            self._cond.wait()
        return True

    def _take(self, limit: int, until_newline: bool) -> bytes:
        """Up to ``limit`` buffered bytes (lock held, ``_size > 0``), stopping after a
        newline if asked."""
        chunk = self._chunks[0]
        start = self._offset
        end = min(len(chunk), start + limit)
        if until_newline:
            newline = chunk.find(b"\n", start, end)
            if newline != -1:
                end = newline + 1
        if end == len(chunk):
            self._chunks.popleft()
            self._offset = 0
            piece = chunk if start == 0 else chunk[start:]
        else:
            self._offset = end
            piece = chunk[start:end]
        self._size -= len(piece)
        return piece

    def _read(self, size: int, until_newline: bool) -> bytes:
        pieces: list[bytes] = []
        wanted = size
        with self._lock:
            while wanted != 0:
                if not self._size:
                    # About to wait for more: a paused socket must be resumed first, or
                    # a read larger than the high-water mark (read() of a big body)
                    # would wait for bytes the loop no longer reads.
                    self._maybe_resume()
                    if not self._wait():
                        break
                piece = self._take(wanted if wanted > 0 else self._size, until_newline)
                pieces.append(piece)
                if wanted > 0:
                    wanted -= len(piece)
                if until_newline and piece.endswith(b"\n"):
                    break
            self._maybe_resume()
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)

    def _maybe_resume(self) -> None:
        """Resume the socket once the reader has drained to half the high-water mark
        (lock held; the callback only posts work to the loop, it takes no lock of ours)."""
        if self._paused and self._size <= self._high_water // 2:
            self._paused = False
            self._resume_reading()

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes (fewer only at the end of the body); all of it by default."""
        return self._read(-1 if size is None else size, until_newline=False)

    def readline(self, size: int | None = -1) -> bytes:
        """One line, with its ``\\n`` (at most ``size`` bytes if given)."""
        return self._read(-1 if size is None else size, until_newline=True)

    def readlines(self, hint: int = -1) -> list[bytes]:
        """The remaining lines (stopping once ``hint`` bytes were read, if given)."""
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release; the server owns the connection."""


class EmptyInput:
    """``wsgi.input`` of a request without a body (most of them): always at its end.
    Stateless, so one instance serves every such request."""

    __slots__ = ()

    def read(self, size: int | None = -1) -> bytes:
        return b""

    def readline(self, size: int | None = -1) -> bytes:
        return b""

    def readlines(self, hint: int = -1) -> list[bytes]:
        return []

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release."""


EMPTY_INPUT = EmptyInput()
