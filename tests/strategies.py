"""The project's shared Hypothesis strategies.

The public ones live in ``sansio.strategies`` (so that people who embed the core can use
them too) and are re-exported here; this module adds what only our own tests need.
"""

from __future__ import annotations

from hypothesis import strategies as st

import sansio
from sansio.strategies import (
    HOSTILE_CLASSES,
    GeneratedRequest,
    GeneratedResponse,
    HostileRequest,
    chunkings,
    coalesce,
    field_values,
    hostile_requests,
    mutations,
    request_targets,
    requests,
    responses,
    tokens,
)

__all__ = [
    "HOSTILE_CLASSES",
    "GeneratedRequest",
    "GeneratedResponse",
    "HostileRequest",
    "chunkings",
    "coalesce",
    "field_values",
    "hostile_requests",
    "limits",
    "mutations",
    "pipelines",
    "request_targets",
    "requests",
    "responses",
    "roles",
    "tokens",
    "with_pieces",
]


def roles() -> st.SearchStrategy[sansio.Role]:
    return st.sampled_from((sansio.SERVER, sansio.CLIENT))


@st.composite
def limits(draw: st.DrawFn) -> sansio.Limits:
    """Valid ``Limits``, often small enough for generated messages to reach them."""
    small = st.integers(1, 256) | st.integers(256, 1 << 16)
    head = draw(small)
    return sansio.Limits(
        max_start_line_size=draw(st.integers(1, head)),
        max_field_size=draw(small),
        max_head_size=head,
        max_header_count=draw(st.integers(1, 120)),
        max_chunk_line_size=draw(small),
        max_body_size=draw(st.none() | st.integers(1, 1 << 12)),
    )


def pipelines(max_size: int = 4) -> st.SearchStrategy[list[GeneratedRequest]]:
    """Requests to send back to back on one connection: each keeps it alive but the last."""
    kept = requests().filter(lambda r: r.keep_alive)
    return st.tuples(st.lists(kept, max_size=max_size - 1), requests()).map(lambda t: [*t[0], t[1]])


def with_pieces(
    messages: st.SearchStrategy[GeneratedRequest],
) -> st.SearchStrategy[tuple[GeneratedRequest, list[bytes]]]:
    """Each message together with a segmentation of its wire bytes."""
    return messages.flatmap(lambda m: st.tuples(st.just(m), chunkings(m.wire)))
