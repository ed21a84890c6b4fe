"""Access log in Common Log Format, and the set-up of the error log.

One line per response, as Apache and nginx write it::

    127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a.html HTTP/1.0" 200 2326

Lines are gathered in memory and written once per loop iteration, so a busy loop makes
one ``write`` for many requests; the timestamp is formatted at most once per second.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sansio import Request

__all__ = ["AccessLog", "setup_logging"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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
    """Buffers Common Log Format lines and writes them to one file descriptor."""

    __slots__ = ("_fd", "_lines", "_owned", "_second", "_stamp")

    def __init__(self, path: str | None = None) -> None:
        if path is None:
            self._fd = sys.stderr.fileno()
            self._owned = False
        else:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._owned = True
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
        """Write the buffered lines (called by the loop once per iteration)."""
        if self._lines:
            data = "".join(self._lines).encode()
            self._lines.clear()
            try:
                while data:
                    data = data[os.write(self._fd, data) :]
            except OSError:
                pass

    def close(self) -> None:
        self.flush()
        if self._owned:
            os.close(self._fd)


def setup_logging(level: str = "INFO") -> None:
    """Errors and lifecycle messages go through ``logging`` to standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] %(levelname)s %(message)s"))
    root = logging.getLogger("driver")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
