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
from sansio import _state
from sansio._connection import Connection
from sansio._state import CLIENT, DONE, MUST_CLOSE, SERVER, ConnectionState, EventType


@dataclass(frozen=True)
class Case:
    name: str
    trick: Callable[[], object]
    plain: Callable[[], object]
    where: str


# -- receive a request: subscripts and the keep-alive rule inline ---------------------


class PlainState(ConnectionState):
    """``receive`` written the plain way: ``dict.get`` and a call to disable keep-alive."""

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
        if not keep_alive:
            self.disable_keep_alive()
        elif new is DONE and not self.keep_alive:
            states[role] = MUST_CLOSE


def _receive_request(state_class: type[ConnectionState]) -> Callable[[], object]:
    def run() -> object:
        state = state_class()
        state.receive(CLIENT, sansio.Request, False)
        return state

    return run


# -- the end of a body-less message, without a call to _read_body ---------------------

_GET10 = b"GET / HTTP/1.0\r\n\r\n"


class PlainConnection(Connection):
    """``next_event`` that always goes through the reader table."""

    def next_event(self) -> sansio.Event | sansio.Sentinel:
        return self._readers[self._cstate.states[self.their_role]](self)


def _end_of_message(conn_class: type[Connection]) -> Callable[[], object]:
    def run() -> object:
        conn = conn_class(SERVER)
        conn.receive_data(_GET10)
        conn.next_event()
        return conn.next_event()

    return run


CASES = [
    Case(
        "receive a request",
        _receive_request(ConnectionState),
        _receive_request(PlainState),
        "_state.ConnectionState.receive",
    ),
    Case(
        "end of a body-less message",
        _end_of_message(Connection),
        _end_of_message(PlainConnection),
        "_connection.Connection.next_event (whole GET / HTTP/1.0 request)",
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
        trick = plain = float("inf")
        for _ in range(rounds):  # interleaved: a noisy spell hits both
            trick = min(trick, measure(case.trick, number, 1))
            plain = min(plain, measure(case.plain, number, 1))
        print(f"{case.name:32s} {trick:9.0f} {plain:9.0f} {plain / trick:11.2f}x  {case.where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
