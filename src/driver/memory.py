"""Giving freed memory back to the system after a burst.

CPython frees a connection's buffers when the connection goes, but glibc's ``malloc``
keeps the freed chunks inside its heap: only a free stretch at the very top of the
heap is returned (``M_TRIM_THRESHOLD``). After a burst of thousands of connections
(10,000 rejected 61 KB heads, say) the heap is full of holes pinned by a few
long-lived objects, and the process stays at its peak size for good. ``malloc_trim(0)``
returns every free page inside the heap as well (``madvise(MADV_DONTNEED)``, glibc
2.8 and later). It walks the heap, so the loop calls it at most once a second, and
only after connections have closed.

Elsewhere (musl, macOS) there is no ``malloc_trim`` and this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

__all__ = ["release_free_memory"]


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_malloc_trim = _find_malloc_trim()


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system; ``False`` where unsupported."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True
