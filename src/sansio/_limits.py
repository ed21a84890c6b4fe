"""Limits: one frozen object with every bound the parser enforces.

Each bound exists so that a peer cannot make us buffer or scan without end. The
defaults follow what nginx and other hardened servers use; each field says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a peer may send. Exceeding one raises ``RemoteProtocolError``."""

    max_start_line_size: int = 8 * 1024
    """Longest request line or status line, in bytes before its LF. 8 KiB, as nginx's
    ``large_client_header_buffers``; a longer request line gets 414 (URI Too Long)."""

    max_field_size: int = 16 * 1024
    """Longest single header (or trailer) line. 16 KiB fits large cookies; beyond it
    the server answers 431 (Request Header Fields Too Large)."""

    max_head_size: int = 64 * 1024
    """Largest whole head: start line plus every header line. 64 KiB bounds the memory
    one connection may pin before it has sent a complete head; beyond it, 431."""

    max_header_count: int = 100
    """Most header (or trailer) fields in one message. 100 is what Go's and most
    proxies' defaults allow; beyond it, 431."""

    max_chunk_line_size: int = 4 * 1024
    """Longest chunk-size line, extensions included. Extensions carry nothing we use, so
    4 KiB is generous; a longer line is rejected (400) rather than buffered."""

    max_body_size: int | None = None
    """Largest request or response body, or ``None`` for no bound. The core streams
    bodies and buffers nothing, so the default is unbounded; a server that must cap
    uploads sets it and gets 413 (Content Too Large), checked against Content-Length
    before any body byte arrives and against the running total of a chunked body."""

    small_head_size: int = field(init=False, repr=False, compare=False)
    """Derived: a head no larger than this is within every size limit at once, so the
    parser's fast path checks one number instead of three."""

    def __post_init__(self) -> None:
        for f in fields(self):
            if not f.init:
                continue
            value = getattr(self, f.name)
            if value is None and f.name == "max_body_size":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{f.name} must be a positive int, got {value!r}")
        if self.max_start_line_size > self.max_head_size:
            raise ValueError("Limits.max_start_line_size cannot exceed max_head_size")
        small = min(self.max_start_line_size, self.max_field_size, self.max_head_size)
        object.__setattr__(self, "small_head_size", small)
