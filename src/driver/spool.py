"""SpooledBody: a request body held in memory up to a bound, in a temporary file beyond.

A simple application gets its request body whole, and ``--threads 0`` runs a WSGI
application once its body is in: both must hold the body somewhere until then. In
memory, 200 clients uploading 16 MiB each cost 3.2 GiB; here each connection holds at
most the budget's body share (``driver.budget``, 32 KiB by default) in memory, and the
rest goes to an unnamed temporary file, as waitress's ``buffers.py`` does past its
``inbuf_overflow``. The writes go to the page cache (nothing is synced).

``getvalue()`` reads a spilled body back whole, for the application call: the loop runs
one simple application at a time, so the process holds one such body at a time, not
one per connection (an application that keeps the body, an echo, holds it longer).
"""

from __future__ import annotations

import io
import tempfile
from typing import IO

__all__ = ["SpooledBody"]


class SpooledBody:
    """Bytes appended in pieces, kept in a ``bytearray`` up to ``memory_limit`` and in a
    temporary file beyond (``OSError`` from ``write`` if the file cannot be written)."""

    __slots__ = ("_file", "_memory", "memory_limit", "size")

    def __init__(self, memory_limit: int) -> None:
        self.memory_limit = memory_limit
        self._memory: bytearray | None = bytearray()
        self._file: IO[bytes] | None = None
        self.size = 0

    @property
    def spilled(self) -> bool:
        return self._file is not None

    def write(self, data: bytes) -> None:
        memory = self._memory
        if memory is not None:
            if len(memory) + len(data) <= self.memory_limit:
                memory += data
                self.size += len(data)
                return
            # Closed by close() (not a with-block: the body spans many callbacks).
            self._file = tempfile.TemporaryFile()  # noqa: SIM115
            self._file.write(memory)
            self._memory = None
        assert self._file is not None
        self._file.write(data)
        self.size += len(data)

    def getvalue(self) -> bytes:
        """The whole body."""
        if self._memory is not None:
            return bytes(self._memory)
        assert self._file is not None
        self._file.seek(0)
        return self._file.read()

    def file(self) -> IO[bytes]:
        """The body as a file, at its start (``wsgi.input`` for an inline call)."""
        if self._memory is not None:
            return io.BytesIO(self._memory)
        assert self._file is not None
        self._file.flush()
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._memory = None
        if self._file is not None:
            self._file.close()
            self._file = None
