"""Segmentation and near misses: any cutting of the bytes into reads, and mutations
with the bytes parsers trip on.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from hypothesis import strategies as st

__all__ = ["chunkings", "mutations"]


def chunkings(data: bytes, *, max_pieces: int | None = None) -> st.SearchStrategy[list[bytes]]:
    """``data`` cut into consecutive non-empty pieces (all of them, in order).

    Shrinks towards one piece; often cuts everywhere (one byte at a time, or a few at
    a time past 4 KiB) or at the places parsers find hard, next to CR and LF.
    ``chunkings(b"")`` is ``[]``; ``max_pieces`` bounds the number of pieces.
    """
    if not data:
        return st.just([])
    limit = len(data) if max_pieces is None else max(1, min(max_pieces, len(data)))
    strategies = [st.just([data]), _random_cuts(data, limit)]
    if limit == len(data):
        # Every byte alone; for big inputs every few bytes, so one draw stays cheap.
        step = -(-len(data) // _MAX_STRIDE_PIECES)
        strategies.append(st.just([data[i : i + step] for i in range(0, len(data), step)]))
    if limit > 2 and (b"\n" in data or b"\r" in data):
        strategies.append(_cuts_at_line_ends(data, limit))
    return st.one_of(strategies)


_MAX_CUTS = 64  # random cuts drawn; "every byte" is its own case, so no need for more
_MAX_STRIDE_PIECES = 4096


def _split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in pairwise(points) if a < b]


def _random_cuts(data: bytes, limit: int) -> st.SearchStrategy[list[bytes]]:
    if len(data) < 2:
        return st.just([data])
    cuts = st.lists(st.integers(1, len(data) - 1), unique=True, max_size=min(limit - 1, _MAX_CUTS))
    return cuts.map(lambda cuts: _split(data, cuts))


def _cuts_at_line_ends(data: bytes, limit: int) -> st.SearchStrategy[list[bytes]]:
    # Just before, between and after CR and LF: where half-seen line ends live.
    points = sorted(
        {p for i, b in enumerate(data) if b in b"\r\n" for p in (i, i + 1) if 0 < p < len(data)}
    )
    if not points:
        return st.just([data])
    max_cuts = min(limit - 1, _MAX_CUTS)
    return st.lists(st.sampled_from(points), unique=True, max_size=max_cuts).map(
        lambda cuts: _split(data, cuts)
    )


_INTERESTING = (
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n\r\n",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b'"',
    b"\\",
    b"0",
    b"f",
    b"\x00",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"chunked",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 5\r\n",
    b"Host: a\r\n",
    b"0\r\n\r\n",
    b"HTTP/1.1",
    b"GET / HTTP/1.1\r\n",
)


@st.composite
def _mutation(draw: st.DrawFn, data: bytes, max_edits: int) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, max_edits))):
        at = draw(st.integers(0, len(out)))
        op = draw(st.sampled_from(("insert", "replace", "delete", "duplicate", "truncate")))
        snippet = draw(st.sampled_from(_INTERESTING) | st.binary(min_size=1, max_size=4))
        if op == "insert" or not out:
            out[at:at] = snippet
        elif op == "replace":
            out[at : at + len(snippet)] = snippet
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 8))]
        elif op == "duplicate":
            size = draw(st.integers(1, 32))
            out[at:at] = out[at : at + size]
        else:
            del out[at:]
    return bytes(out)


def mutations(data: bytes, *, max_edits: int = 4) -> st.SearchStrategy[bytes]:
    """Near misses of ``data``: a few insertions, replacements, deletions, duplications
    or a truncation, with the bytes parsers trip on (CR, LF, SP, ``:``, ``;``, NUL, …).

    No verdict comes with them: use them for invariants that hold for any input
    ("parses or raises RemoteProtocolError, never anything else").
    """
    return _mutation(data, max_edits)
