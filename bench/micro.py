"""Micro-benchmarks: each speed trick in the core against the plain code it replaces.

A trick earns its place only with a measured gain (STYLE.md, guideline 12). Each case
here runs the core as it is ("trick") and the same work done the plain way ("plain"),
interleaved in one run, and prints both and their ratio; the comment next to each
trick quotes the gain measured here. A plain variant is a subclass or a stand-in that
undoes exactly one trick, so nothing else differs.

    python bench/micro.py            # every case, about 20 s
    python bench/micro.py --quick    # a smoke run: same table, rough numbers
"""

from __future__ import annotations

import argparse
import gc
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass

import sansio
from sansio import _connection as connection_module
from sansio import _state
from sansio import _writers as writers_module
from sansio._body import NO_BODY
from sansio._buffer import ReceiveBuffer
from sansio._connection import Connection
from sansio._state import CLIENT, SERVER, ConnectionState, EventType


@dataclass(frozen=True)
class Case:
    name: str
    trick: Callable[[], object]
    plain: Callable[[], object]
    where: str
    outcome: Callable[[object], object] = lambda result: result
    """What must be equal between the two results (outside the timed call)."""


# -- receive a request: subscripts, not dict.get ---------------------------------------


class PlainState(ConnectionState):
    """``receive`` written the plain way: ``dict.get`` and a test for None."""

    __slots__ = ()

    def receive(self, role: sansio.Role, event_type: EventType, keep_alive: bool = True) -> None:
        states = self.states
        new = _state.TRANSITIONS.get((role, states[role], event_type))
        server: sansio.State | None = states[SERVER]
        if event_type is sansio.Request:
            server = _state.PEER_TRANSITIONS.get((SERVER, states[SERVER], sansio.Request))
        if new is None or server is None:
            raise sansio.RemoteProtocolError("refused")
        states[SERVER] = server
        states[role] = new
        if not keep_alive or not self.keep_alive:
            self.disable_keep_alive()
        if self.proposals:
            self._settle_switch()


def _receive_request(state_class: type[ConnectionState]) -> Callable[[], object]:
    def run() -> object:
        state = state_class()
        state.receive(CLIENT, sansio.Request, False)
        return state

    return run


# -- a new connection: class-level defaults on Connection and ReceiveBuffer ------------


class PlainBuffer(ReceiveBuffer):
    """The buffer with an ``__init__`` that sets every field, as slots would need."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._searched = 0
        self._first_lf = -1
        self._last_lf = -1
        self.bytes_scanned = 0


class PlainInitConnection(Connection):
    """A connection whose ``__init__`` sets every attribute (no class-level defaults)
    and builds the plain buffer: ``Connection.__init__`` with the defaults written out."""

    def __init__(self, role: sansio.Role) -> None:
        if role is not CLIENT and role is not SERVER:
            raise ValueError(role)
        if not isinstance(_LIMITS, sansio.Limits):
            raise TypeError(_LIMITS)
        self.our_role = role
        self.their_role = SERVER if role is CLIENT else CLIENT
        self._readers = connection_module._READERS[self.their_role]
        self._limits = _LIMITS
        self._buffer = PlainBuffer()
        self._cstate = ConnectionState()
        self.their_http_version = None
        self._reader = NO_BODY
        self._writer = None
        self._request_method = None
        self._expect_continue = False
        self._eof = False


_LIMITS = sansio.Limits()


def _new_connection(conn_class: Callable[[sansio.Role], Connection]) -> Callable[[], object]:
    def run() -> object:
        return conn_class(SERVER)

    return run


# -- a whole head in one read: the bytes received are kept, not copied ----------------


class CopyingBuffer(ReceiveBuffer):
    """The buffer that copies every read into a ``bytearray``."""

    def append(self, data: bytes) -> None:
        buffered = self._data
        if isinstance(buffered, bytearray):
            buffered += data
        else:
            self._data = bytearray(buffered) + data


_WRK = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"


def _whole_head(buffer_class: type[ReceiveBuffer]) -> Callable[[], object]:
    limits = sansio.Limits()

    def run() -> object:
        buffer = buffer_class()
        buffer.append(_WRK)
        return buffer.take_plain_head(limits)

    return run


# -- a repeated response head: the writer's cache of checked heads --------------------

_HEADERS = (
    (b"Content-Type", b"text/html; charset=utf-8"),
    (b"Cache-Control", b"no-cache"),
    (b"X-Frame-Options", b"DENY"),
    (b"Content-Length", b"1024"),
)
_RESPONSE = sansio.Response(200, _HEADERS)
_GET11 = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def _repeated_head(cached: bool) -> Callable[[], object]:
    def run() -> object:
        conn = Connection(SERVER)
        conn.receive_data(_GET11)
        conn.next_event()
        conn.next_event()
        if not cached:
            writers_module._CHECKED_HEADS.clear()
        return conn.send(_RESPONSE)

    return run


# -- a name in the names index: find, not in ----------------------------------------

_NAMES = b"\nhost\nuser-agent\naccept\naccept-encoding\n"
_NEEDLES = (b"\ncontent-length\n", b"\ntransfer-encoding\n", b"\nconnection\n", b"\nexpect\n")


def _find() -> object:
    names = _NAMES
    return [names.find(needle) >= 0 for needle in _NEEDLES]


def _contains() -> object:
    names = _NAMES
    return [needle in names for needle in _NEEDLES]


# -- a prepared response: one call, validated once, against three sends ---------------

_KEPT_ALIVE_GET = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"
_STATIC = sansio.Response(
    200, ((b"Content-Type", b"text/plain"), (b"Content-Length", b"13")), b"1.1"
)
_STATIC_BODY = sansio.Data(b"Hello, world!")
_END = sansio.EndOfMessage()
_PREPARED = sansio.PreparedResponse(_STATIC, _STATIC_BODY.data)


def _kept_alive_cycle(prepared: bool) -> Callable[[], object]:
    """A whole kept-alive cycle: read a GET, answer it, ``start_next_cycle``."""
    conn = Connection(SERVER)

    def run() -> object:
        conn.receive_data(_KEPT_ALIVE_GET)
        conn.next_event()
        conn.next_event()
        if prepared:
            out = conn.send_prepared(_PREPARED)
        else:
            out = conn.send(_STATIC) + conn.send(_STATIC_BODY) + conn.send(_END)
        conn.start_next_cycle()
        return out

    return run


CASES = [
    Case(
        "receive a request",
        _receive_request(ConnectionState),
        _receive_request(PlainState),
        "_state.ConnectionState.receive",
        lambda state: (dict(state.states), state.keep_alive),  # type: ignore[attr-defined]
    ),
    Case(
        "new connection",
        _new_connection(Connection),
        _new_connection(PlainInitConnection),
        "class-level defaults: _connection.Connection, _buffer.ReceiveBuffer",
        lambda c: (c.our_state, c.their_state, c.keep_alive, c.trailing_data),  # type: ignore[attr-defined]
    ),
    Case(
        "a whole head in one read",
        _whole_head(ReceiveBuffer),
        _whole_head(CopyingBuffer),
        "_buffer.ReceiveBuffer.append keeps bytes (append + take_plain_head)",
    ),
    Case(
        "a name in the names index",
        _find,
        _contains,
        "_heads.parse_request_lines: names.find(...) >= 0 for 4 fields, not `in`",
    ),
    Case(
        "a repeated response head",
        _repeated_head(cached=True),
        _repeated_head(cached=False),
        "_writers._CHECKED_HEADS (a whole GET, then send(Response))",
    ),
    Case(
        "a prepared response",
        _kept_alive_cycle(prepared=True),
        _kept_alive_cycle(prepared=False),
        "_connection.Connection.send_prepared (a kept-alive GET, answered, next cycle)",
    ),
]


def measure(fn: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, rough numbers")
    args = parser.parse_args(argv)
    number, rounds = (200, 3) if args.quick else (2000, 25)
    gc.disable()
    print(f"h10 micro-benchmarks: CPython {sys.version.split()[0]}, ns per call, min of {rounds}")
    print(f"{'case':32s} {'trick ns':>9s} {'plain ns':>9s} {'plain/trick':>12s}  where")
    for case in CASES:
        # Same work both ways, or the comparison means nothing.
        same = case.outcome(case.trick()) == case.outcome(case.plain())
        assert same, f"{case.name}: the plain variant differs"
        trick = plain = float("inf")
        for _ in range(rounds):  # interleaved: a noisy spell hits both
            trick = min(trick, measure(case.trick, number, 1))
            plain = min(plain, measure(case.plain, number, 1))
        print(f"{case.name:32s} {trick:9.0f} {plain:9.0f} {plain / trick:11.2f}x  {case.where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
