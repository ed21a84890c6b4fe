"""The per-connection memory budget: one number, and every buffer's bound derived from it.

A connection can make the server hold bytes in a few places. Each has a bound, and the
bounds are shares of ``Config.connection_budget`` (default 256 KiB) that add up to it,
so that ``max_connections x connection_budget`` bounds the whole process (10,000 x
256 KiB = 2.5 GiB at the defaults), whatever the clients and the applications do:

- **receive**: one ``recv`` in flight (``Config.recv_size``) plus a request head the
  core is still parsing (``sansio.Limits.max_head_size``): 64 + 64 KiB. The connection
  stops reading while the core holds bytes nobody has asked for, so nothing else
  accumulates on this side. What is left of the budget (``rest``) is shared out:
- **output** (``rest / 2``): the high-water mark of the output queue, which counts
  each queued item's Python objects (``ITEM_COST``), not only its payload. Above it the
  producer is paused; a producer that writes on regardless (a streaming application or
  a switched protocol that ignores ``pause_writing``) has its bytes spilled to a
  temporary file once the queue holds ``spill_above`` (driver.transport).
- **gather** (``rest / 8``): small items coalesced into one write, one chunk and one
  ``send`` (an iterable's items, a streaming app's ``write`` calls, what a WSGI worker
  posted while the loop was busy); see ``driver.gather``.
- **body** (``rest / 4``): request body held in memory: a simple application's body
  beyond it goes to a temporary file (``driver.spool``), ``wsgi.input`` pauses the
  socket once this much waits unread, ``--threads 0`` spools to a file beyond it.
- **spare** (``rest / 8``): the head of a response, an error reply, the connection's own
  objects (about 3 KiB idle).

An item handed over whole (a ``bytes`` body, one large ``write``) is the application's
own object: the server keeps a reference to it until it is sent, it does not copy it.
"""

from __future__ import annotations

import sys
from typing import Final

__all__ = ["DEFAULT_BUDGET", "ITEM_COST", "MIN_REST", "Budget"]

DEFAULT_BUDGET: Final = 256 * 1024
"""``Config.connection_budget`` when not given. With the default receive share (128 KiB)
it leaves a 64 KiB output high-water mark, measured (``bench/serve.py``'s stream 1 MiB
workload, wrk -c10, two alternating runs): 1,910 and 1,830 req/s at 64 KiB, 1,980 and
1,820 at 128 KiB, 1,200 and 1,150 at 256 KiB (the earlier default), where the queue
grows past what the socket's buffer takes at once and every wake-up sends less."""

MIN_REST: Final = 16 * 1024
"""The least a budget must leave beyond the receive share: 8 KiB of output, 2 KiB to
gather, 4 KiB of body, 2 KiB spare."""

# A queued bytes object costs its header, the memoryview over it and a deque slot; the
# other item kinds (a bytearray tail, a file range) cost less. Measured, not guessed.
ITEM_COST: Final = sys.getsizeof(memoryview(b"")) + sys.getsizeof(b"") + 8


class Budget:
    """The shares of one connection's budget (see the module docstring)."""

    __slots__ = ("body", "gather", "high_water", "low_water", "receive", "spill_above", "total")

    def __init__(self, total: int, *, recv_size: int, head_size: int) -> None:
        receive = recv_size + head_size
        rest = total - receive
        if rest < MIN_REST:
            raise ValueError(
                f"Config.connection_budget must be at least {receive + MIN_REST} bytes: "
                f"{recv_size} for a recv and {head_size} for a request head, plus "
                f"{MIN_REST} for output and bodies (got {total})"
            )
        self.total = total
        self.receive = receive
        self.high_water = rest // 2
        self.low_water = self.high_water // 4  # asyncio's ratio
        self.gather = rest // 8
        self.body = rest // 4
        self.spill_above = spill_above(self.high_water)

    def __repr__(self) -> str:
        return (
            f"Budget(total={self.total}, receive={self.receive}, high_water={self.high_water}, "
            f"gather={self.gather}, body={self.body})"
        )


def spill_above(high_water: int) -> int:
    """Bytes of output a connection may hold in memory before more spills to a file: the
    output share plus the gather and spare shares (half the output share together), so
    that a producer's last write before the pause never spills."""
    return high_water + high_water // 2
