"""What every fuzz target shares: feeding a connection, counting work, the corpus, budgets.

``feed`` is the one place that drives a ``Connection`` with untrusted bytes. It checks the
invariants every target relies on: the only exception is ``RemoteProtocolError``, after
which the peer stays in ``ERROR``; and every call to ``next_event`` makes progress, so
the number of calls is bounded by the bytes fed (no livelock, no hang).
"""

from __future__ import annotations

import functools
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from types import FrameType
from typing import Any, ParamSpec, TypeVar

from hypothesis import settings
from hypothesis import strategies as st

import sansio
from sansio.strategies import coalesce

CORPUS = Path(__file__).resolve().parent / "corpus"
SANSIO_DIR = str(Path(sansio.__file__).resolve().parent)

EXAMPLES: Counter[str] = Counter()
"""Examples run per test (``module::name``), printed by conftest.py at the end."""

P = ParamSpec("P")
R = TypeVar("R")


def counted(test: Callable[P, R]) -> Callable[P, R]:
    """Count every call of ``test`` (one per Hypothesis example). Goes under ``@given``."""
    key = f"{test.__module__.rpartition('.')[2]}::{test.__name__}"

    @functools.wraps(test)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        EXAMPLES[key] += 1
        return test(*args, **kwargs)

    return wrapper


def budget(fraction: float) -> settings:
    """Settings for a test that should run ``fraction`` of the profile's examples
    (slow targets: real sockets, traced work). HypoFuzz ignores example counts."""
    return settings(max_examples=max(10, int(settings().max_examples * fraction)))


# RFC 9110 §6.5.1: no trailer describes framing, routing, authentication, request
# modifiers, response controls or content format. Written out again for the oracles,
# apart from the core's list (sansio.allowed_in_trailers), so that each checks the other.
_NOT_TRAILERS = {
    b"content-length", b"transfer-encoding", b"trailer", b"connection", b"keep-alive",
    b"proxy-connection", b"te", b"upgrade", b"host", b"max-forwards", b"authorization",
    b"proxy-authorization", b"www-authenticate", b"proxy-authenticate", b"cookie",
    b"set-cookie", b"expect", b"range", b"cache-control", b"pragma", b"location",
    b"retry-after", b"vary", b"age", b"expires", b"content-type", b"content-encoding",
    b"content-range",
}  # fmt: skip


def trailer_ok(name: bytes) -> bool:
    """The oracle's answer: may a field called ``name`` (any case) be a trailer?"""
    name = name.lower()
    return name not in _NOT_TRAILERS and not name.startswith(b"if-")


CUTS = st.one_of(
    st.lists(st.integers(0, 1 << 16), max_size=24),
    st.just([-1]),  # one byte at a time
)
"""Split points for ``split_at``: arbitrary cuts, or every byte. Unlike ``chunkings`` it
needs no ``st.data()``, so tests using it can take seeds as ``@example``s."""


def split_at(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at ``cuts`` (taken modulo its length); ``[-1]`` cuts everywhere."""
    if not data:
        return []
    if list(cuts) == [-1]:
        return [data[i : i + 1] for i in range(len(data))]
    points = sorted({0, len(data), *(c % len(data) for c in cuts)})
    return [data[a:b] for a, b in pairwise(points) if a < b]


# -- driving a connection -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    events: tuple[sansio.Event, ...]
    """Every event returned, Data coalesced, without the final ConnectionClosed."""
    error: sansio.RemoteProtocolError | None
    closed: bool
    """A ConnectionClosed was returned."""
    calls: int
    """Calls of ``next_event``."""
    exchanges: int = 0
    """Responses this harness sent (server role with ``respond``)."""

    @property
    def verdict(self) -> tuple[str, int]:
        return ("rejected", self.error.status_hint) if self.error else ("accepted", 0)


Responder = Callable[[sansio.Connection, sansio.Request], bytes]


def ok_response(conn: sansio.Connection, request: sansio.Request) -> bytes:
    """The smallest valid answer: 200 with an empty body."""
    return conn.send(sansio.Response(200, ((b"content-length", b"0"),))) + conn.send(
        sansio.EndOfMessage()
    )


def feed(
    conn: sansio.Connection,
    pieces: Sequence[bytes],
    *,
    eof: bool = False,
    respond: Responder | None = None,
) -> Outcome:
    """Give ``pieces`` to ``conn`` one by one, taking every event after each, then EOF.

    With ``respond`` (server role), each complete request is answered and, if the
    connection is kept alive, the next cycle starts, so pipelined requests are read too.
    """
    total = sum(map(len, pieces))
    # Each call returns an event that consumed at least one byte, or one of the few
    # events per message that consume none, or a sentinel that ends a drain.
    max_calls = 4 * total + 4 * len(pieces) + 16
    events: list[sansio.Event] = []
    calls = 0
    exchanges = 0
    current: sansio.Request | None = None
    closed = False

    def drain() -> bool:
        nonlocal calls, exchanges, current, closed
        while True:
            calls += 1
            assert calls <= max_calls, f"livelock: {calls} next_event calls for {total} bytes"
            event = conn.next_event()
            if type(event) is sansio.ConnectionClosed:
                closed = True
                return False
            if event is sansio.NEED_DATA:
                return True
            if event is sansio.PAUSED:
                if respond is None or current is None:
                    return True
                exchanges += 1
                respond(conn, current)
                current = None
                if conn.our_state is not sansio.DONE or conn.their_state is not sansio.DONE:
                    return True
                conn.start_next_cycle()
                continue
            assert isinstance(event, sansio.Event), f"next_event returned {event!r}"
            events.append(event)
            if type(event) is sansio.Request:
                current = event
            elif (
                type(event) is sansio.EndOfMessage
                and respond is not None
                and current is not None
                and conn.their_state is sansio.MUST_CLOSE
            ):
                # The last request on this connection: answer it now, nothing follows.
                exchanges += 1
                respond(conn, current)
                current = None

    error: sansio.RemoteProtocolError | None = None
    try:
        going = True
        for piece in pieces:
            assert piece, "an empty piece would be EOF"
            conn.receive_data(piece)
            going = drain()
            if not going:
                break
        if eof and going:
            conn.receive_data(b"")
            drain()
    except sansio.RemoteProtocolError as exc:
        error = exc
        assert conn.their_state is sansio.ERROR, conn
        try:
            conn.next_event()
        except sansio.RemoteProtocolError as again:
            assert again.status_hint == exc.status_hint
        else:
            raise AssertionError("a connection in ERROR returned an event")
    return Outcome(coalesce(events), error, closed, calls, exchanges)


def assert_same_outcome(whole: Outcome, split: Outcome) -> None:
    """Segmentation must not change the verdict or any event. After an error, bodies may
    differ in how much was delivered before it, never in content."""
    assert whole.verdict == split.verdict, (whole, split)
    if whole.error is None:
        assert whole.events == split.events, (whole.events, split.events)
        assert whole.closed == split.closed
        return
    heads = [e for e in whole.events if type(e) is not sansio.Data]
    assert heads == [e for e in split.events if type(e) is not sansio.Data], (whole, split)
    body_a, body_b = _body(whole.events), _body(split.events)
    assert body_a.startswith(body_b) or body_b.startswith(body_a), (body_a, body_b)


def _body(events: Iterable[sansio.Event]) -> bytes:
    return b"".join(e.data for e in events if type(e) is sansio.Data)


# -- counting work --------------------------------------------------------------------


class LineCounter:
    """Counts the Python lines executed inside the core (``src/sansio``, not strategies)."""

    def __init__(self) -> None:
        self.lines = 0

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.lines += 1
        return self._local

    def _global(self, frame: FrameType, event: str, arg: Any) -> Any:
        filename = frame.f_code.co_filename
        if filename.startswith(SANSIO_DIR) and not filename.endswith("strategies.py"):
            return self._local
        return None


@contextmanager
def count_lines() -> Iterator[LineCounter]:
    counter = LineCounter()
    previous = sys.gettrace()
    sys.settrace(counter._global)
    try:
        yield counter
    finally:
        sys.settrace(previous)


# -- the seed corpus ------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes
    status: int | None = None
    """For hostile seeds: the status_hint the core must raise with."""
    eof: bool = False
    method: bytes = b"GET"
    """For response seeds: the method of the request answered."""


def corpus(kind: str) -> list[Seed]:
    """Every seed under ``fuzz/corpus/<kind>/``, by file name.

    Names say what is expected: ``requests/hostile/<class>/<what>.<status>[.eof].http``,
    ``responses/<METHOD>/<what>.http``; a ``.eof`` file is followed by EOF.
    """
    seeds = []
    for path in sorted((CORPUS / kind).rglob("*.http")):
        parts = path.name.split(".")[1:-1]
        status = next((int(p) for p in parts if p.isdigit()), None)
        rel = path.relative_to(CORPUS / kind)
        method = rel.parts[0].encode() if kind == "responses" else b"GET"
        seeds.append(Seed(str(rel), path.read_bytes(), status, "eof" in parts, method))
    if not seeds and os.environ.get("FUZZ_ALLOW_EMPTY_CORPUS") is None:
        raise FileNotFoundError(f"no seeds in {CORPUS / kind}")
    return seeds
