"""Gathering an iterable's small items into one buffer: one write, one chunk, one ``send``.

An iterable body of many small items (a CSV generator yielding a row at a time) sent
an item at a time costs a ``send``, a chunk header and a queue entry per item: the
README's one-million-row ``/report.csv`` went out at 2 MB/s while its generator alone
ran at 80 MB/s. ``gather`` takes items until it holds about ``bound`` bytes (the
budget's gather share), in steps of up to ``STEP`` items taken and joined in C
(``itertools.islice``, ``bytes.join``), so the Python work is per step, not per item.

Measured (1,000,000 items, CPython 3.11, ns per item): a bare ``for`` loop over a
generator of 16-byte items 45-50, ``gather`` 73-81, a Python loop that checks each
item's size 160; 64 items per step cost 30 ns per item over the bare loop and bound
what one step can take to 64 items, whatever their size (the step shrinks to one item
once items are as large as the bound, which is also when they are sent as they are,
without a copy).

Only for producers that never block (an iterable pulled on the loop thread): a WSGI
worker's items are gathered by the loop from what the worker has already posted
(``driver.wsgi.threaded``), so a slow producer's item is never held back waiting for
the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any, Final

__all__ = ["STEP", "gather"]

STEP: Final = 64


def gather(items: Iterator[Any], bound: int) -> tuple[bytes, bool]:
    """About ``bound`` bytes from ``items`` (more only by the last step's items) and
    whether ``items`` is exhausted. Raises what the iterator raises, and ``TypeError``
    for an item that is not bytes-like."""
    parts = list(islice(items, 1))
    if not parts:
        return b"", True
    first = parts[0]
    if type(first) is bytes and len(first) >= bound:
        return first, False  # a large item goes as it is
    buffer = bytearray(_join(parts))
    count = 1
    # Also bounded by item count: an iterator of empty items must end a step too.
    while len(buffer) < bound and count < bound:
        size = len(buffer)
        # As many items as, at the average size so far, fill the rest (rounded up).
        step = min(STEP, ((bound - size) * count + size - 1) // size) if size else STEP
        parts = list(islice(items, step))
        if not parts:
            return bytes(buffer), True
        buffer += _join(parts)
        count += len(parts)
    return bytes(buffer), False


def _join(parts: list[Any]) -> bytes:
    try:
        return b"".join(parts)
    except TypeError:
        for part in parts:
            if not isinstance(part, bytes | bytearray | memoryview):
                raise TypeError(
                    f"an iterable body must yield bytes, not {type(part).__name__}"
                ) from None
        raise
