"""SpillFile: output that does not fit a connection's budget, kept on disk until it is sent.

A producer should stop at ``pause_writing``; one that writes on regardless (a streaming
application writing a large body in one loop, a switched protocol that has no flow
control) would otherwise grow the output queue without end. Beyond the budget's
``spill_above`` its bytes are appended to an unnamed temporary file, and the transport
sends them from there with ``sendfile``, in order with the rest of the queue: memory
stays bounded, nothing is lost, and nothing is refused below ``SPILL_LIMIT``.

The writes go to the page cache (the file is never synced), as nginx's temporary files
do without aio; the file is emptied whenever everything spilled has been sent, and
closed with the connection.
"""

from __future__ import annotations

import os
import tempfile
from typing import Final

__all__ = ["SPILL_LIMIT", "SpillFile"]

SPILL_LIMIT: Final = 1 << 30
"""Bytes a connection may have spilled and unsent at once: a producer that outruns its
client by a GiB is a bug, and its connection is aborted rather than fill the disk."""


class SpillFile:
    """An append-only temporary file whose unsent tail the transport queues."""

    __slots__ = ("end", "fd", "unsent")

    def __init__(self) -> None:
        self.fd = _anonymous_file()
        self.end = 0  # where the next append goes
        self.unsent = 0  # bytes appended and not yet sent

    def append(self, data: bytes) -> int:
        """Write ``data`` at the end; return the offset it starts at."""
        offset = self.end
        view = memoryview(data)
        written = 0
        while written < len(view):
            written += os.pwrite(self.fd, view[written:], offset + written)
        self.end += len(data)
        self.unsent += len(data)
        return offset

    def sent(self, count: int) -> None:
        """``count`` spilled bytes have left; once none is left, the file is emptied."""
        self.unsent -= count
        if not self.unsent:
            os.ftruncate(self.fd, 0)
            self.end = 0

    def close(self) -> None:
        os.close(self.fd)


def _anonymous_file() -> int:
    """A read-write descriptor of a file with no name (it goes when it is closed)."""
    directory = tempfile.gettempdir()
    try:
        return os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except (AttributeError, OSError):  # no O_TMPFILE (an old kernel, another system)
        fd, path = tempfile.mkstemp(dir=directory)
        os.unlink(path)
        return fd
