"""Every cell of the state table, in both directions: it follows the table or raises.

Send side: for each role, each state our side can reach and each event type, ``send``
either moves our side as ``TRANSITIONS`` says or raises ``LocalProtocolError`` and
moves nothing. Receive side: for each state the peer's side can reach and each event
type, the wire form of that event either comes back as an event whose move the table
holds, or raises ``RemoteProtocolError`` (the peer is then in ERROR), or is not read yet
(a sentinel, nothing moved). Every entry of the table is taken in both directions.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import sansio
from sansio import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    Request,
    Response,
)

from helpers import feed

EVENTS: dict[type[Event], Event] = {
    Request: Request(b"GET", b"/", ((b"Host", b"x"),), b"1.1"),
    InformationalResponse: InformationalResponse(100),
    Response: Response(200, ((b"Content-Length", b"0"),), b"1.1"),
    Data: Data(b""),
    EndOfMessage: EndOfMessage(),
    ConnectionClosed: ConnectionClosed(),
}


def server_in(state: sansio.State) -> sansio.Connection:
    conn = sansio.Connection(sansio.SERVER)
    if state is sansio.CLOSED:
        conn.send(ConnectionClosed())
        return conn
    if state is sansio.IDLE:
        return conn
    close = b"Connection: close\r\n" if state is sansio.MUST_CLOSE else b""
    feed(conn, [b"GET / HTTP/1.1\r\nHost: x\r\n" + close + b"\r\n"])
    if state is sansio.SEND_RESPONSE:
        return conn
    conn.send(EVENTS[Response])
    if state is sansio.SEND_BODY:
        return conn
    conn.send(EndOfMessage())
    return conn


def client_in(state: sansio.State) -> sansio.Connection:
    conn = sansio.Connection(sansio.CLIENT)
    if state is sansio.CLOSED:
        conn.send(ConnectionClosed())
        return conn
    if state is sansio.IDLE:
        return conn
    headers: sansio.Headers = ((b"Host", b"x"), (b"Content-Length", b"0"))
    if state is sansio.MUST_CLOSE:
        headers += ((b"Connection", b"close"),)
    conn.send(Request(b"POST", b"/", headers, b"1.1"))
    if state is sansio.SEND_BODY:
        return conn
    conn.send(EndOfMessage())
    return conn


BUILDERS: dict[sansio.Role, Callable[[sansio.State], sansio.Connection]] = {
    sansio.SERVER: server_in,
    sansio.CLIENT: client_in,
}
REACHABLE = {
    sansio.SERVER: [
        sansio.IDLE,
        sansio.SEND_RESPONSE,
        sansio.SEND_BODY,
        sansio.DONE,
        sansio.MUST_CLOSE,
        sansio.CLOSED,
    ],
    sansio.CLIENT: [sansio.IDLE, sansio.SEND_BODY, sansio.DONE, sansio.MUST_CLOSE, sansio.CLOSED],
}
PAIRS = [(role, state) for role, states in REACHABLE.items() for state in states]


@pytest.mark.parametrize(("role", "state"), PAIRS, ids=[f"{r!r}-{s!r}" for r, s in PAIRS])
def test_builders_reach_the_state(role: sansio.Role, state: sansio.State) -> None:
    assert BUILDERS[role](state).our_state is state


CELLS = [(role, state, event_type) for role, state in PAIRS for event_type in EVENTS]


def _cell_id(cell: tuple[sansio.Role, sansio.State, type[Event]]) -> str:
    role, state, event_type = cell
    return f"{role!r}-{state!r}-{event_type.__name__}"


def send_outcome(role: sansio.Role, state: sansio.State, event_type: type[Event]) -> bool:
    """Send ``event_type`` from ``state``; True if it moved by the table, False if it
    was refused; fail on anything else."""
    conn = BUILDERS[role](state)
    key = (role, state, event_type)
    try:
        conn.send(EVENTS[event_type])
    except sansio.LocalProtocolError:
        assert conn.our_state is state, "a refused send moved the state"
        assert key not in sansio.TRANSITIONS or event_type is Request, key
        return False
    expected = sansio.TRANSITIONS[key]
    if expected is sansio.DONE and not conn.keep_alive:
        expected = sansio.MUST_CLOSE
    assert conn.our_state is expected, key
    return True


@pytest.mark.parametrize("cell", CELLS, ids=[_cell_id(c) for c in CELLS])
def test_every_cell_we_send_follows_the_table_or_raises(
    cell: tuple[sansio.Role, sansio.State, type[Event]],
) -> None:
    send_outcome(*cell)


# -- the receive side -----------------------------------------------------------------

# What each event looks like on the wire, from a peer in the given role. The body-carrying
# states are built with chunked bodies, so a chunk is a Data and the last chunk an
# EndOfMessage. ConnectionClosed is EOF.
WIRE: dict[sansio.Role, dict[type[Event], bytes]] = {
    sansio.CLIENT: {
        Request: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        InformationalResponse: b"HTTP/1.1 100 Continue\r\n\r\n",
        Response: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        Data: b"1\r\na\r\n",
        EndOfMessage: b"0\r\n\r\n",
        ConnectionClosed: b"",
    },
}
WIRE[sansio.SERVER] = WIRE[sansio.CLIENT]

_CHUNKED = b"Transfer-Encoding: chunked\r\n"


def peer_server_in(state: sansio.State) -> sansio.Connection:
    """A client whose peer (the server) is in ``state``."""
    conn = sansio.Connection(sansio.CLIENT)
    if state is sansio.IDLE:
        return conn
    conn.send(Request(b"GET", b"/", ((b"Host", b"x"),), b"1.1"))
    conn.send(EndOfMessage())
    if state is sansio.SEND_RESPONSE:
        return conn
    if state is sansio.CLOSED:
        feed(conn, [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b""])
        return conn
    if state is sansio.ERROR:
        with pytest.raises(sansio.RemoteProtocolError):
            feed(conn, [b"\x00\r\n\r\n"])
        return conn
    close = b"Connection: close\r\n" if state is sansio.MUST_CLOSE else b""
    feed(conn, [b"HTTP/1.1 200 OK\r\n" + _CHUNKED + close + b"\r\n"])
    if state is not sansio.SEND_BODY:
        feed(conn, [b"0\r\n\r\n"])
    return conn


def peer_client_in(state: sansio.State) -> sansio.Connection:
    """A server whose peer (the client) is in ``state``."""
    conn = sansio.Connection(sansio.SERVER)
    if state is sansio.IDLE:
        return conn
    if state is sansio.CLOSED:
        feed(conn, [b""])
        return conn
    if state is sansio.ERROR:
        with pytest.raises(sansio.RemoteProtocolError):
            feed(conn, [b"\x00\r\n\r\n"])
        return conn
    close = b"Connection: close\r\n" if state is sansio.MUST_CLOSE else b""
    feed(conn, [b"POST / HTTP/1.1\r\nHost: x\r\n" + _CHUNKED + close + b"\r\n"])
    if state is not sansio.SEND_BODY:
        feed(conn, [b"0\r\n\r\n"])
    return conn


PEER_BUILDERS: dict[sansio.Role, Callable[[sansio.State], sansio.Connection]] = {
    sansio.SERVER: peer_server_in,
    sansio.CLIENT: peer_client_in,
}
PEER_REACHABLE = {
    sansio.SERVER: [*REACHABLE[sansio.SERVER], sansio.ERROR],
    sansio.CLIENT: [*REACHABLE[sansio.CLIENT], sansio.ERROR],
}
PEER_PAIRS = [(role, state) for role, states in PEER_REACHABLE.items() for state in states]
PEER_CELLS = [(role, state, event_type) for role, state in PEER_PAIRS for event_type in EVENTS]


@pytest.mark.parametrize(("role", "state"), PEER_PAIRS, ids=[f"{r!r}-{s!r}" for r, s in PEER_PAIRS])
def test_peer_builders_reach_the_state(role: sansio.Role, state: sansio.State) -> None:
    assert PEER_BUILDERS[role](state).their_state is state


def receive_outcome(
    role: sansio.Role, state: sansio.State, event_type: type[Event]
) -> tuple[type[Event], ...] | None:
    """Feed the wire form of ``event_type`` from a peer in ``state``. Returns the types
    of the events read, each checked against the table, or None if it was refused
    (RemoteProtocolError, or new bytes after EOF); fails on anything else."""
    conn = PEER_BUILDERS[role](state)
    wire = WIRE[role][event_type]
    try:
        conn.receive_data(wire)
    except RuntimeError:
        assert state is sansio.CLOSED and wire, "only bytes after EOF are refused here"
        return None
    seen: list[type[Event]] = []
    while True:
        before = conn.their_state
        try:
            event = conn.next_event()
        except sansio.RemoteProtocolError:
            assert conn.their_state is sansio.ERROR
            return None
        if isinstance(event, sansio.Sentinel):
            assert conn.their_state is before, "a sentinel moved the state"
            return tuple(seen)
        key = (role, before, type(event))
        assert key in sansio.TRANSITIONS, f"{key} was received but is not in the table"
        expected = sansio.TRANSITIONS[key]
        if expected is sansio.DONE and not conn.keep_alive:
            expected = sansio.MUST_CLOSE
        assert conn.their_state is expected, key
        seen.append(type(event))
        if type(event) is ConnectionClosed:
            return tuple(seen)


@pytest.mark.parametrize("cell", PEER_CELLS, ids=[_cell_id(c) for c in PEER_CELLS])
def test_every_cell_we_receive_follows_the_table_or_raises(
    cell: tuple[sansio.Role, sansio.State, type[Event]],
) -> None:
    receive_outcome(*cell)


def test_every_move_in_the_table_is_taken_in_both_directions() -> None:
    sent = {cell for cell in CELLS if send_outcome(*cell)}
    assert sent == set(sansio.TRANSITIONS)
    received = set()
    for role, state, event_type in PEER_CELLS:
        outcome = receive_outcome(role, state, event_type)
        if outcome and outcome[0] is event_type:
            received.add((role, state, event_type))
    assert received == set(sansio.TRANSITIONS)


def test_a_request_obliges_the_server_to_respond() -> None:
    assert {(sansio.SERVER, sansio.IDLE, Request): sansio.SEND_RESPONSE} == sansio.PEER_TRANSITIONS
    conn = server_in(sansio.SEND_RESPONSE)
    assert conn.their_state is sansio.DONE


def test_state_names_are_readable() -> None:
    assert repr(sansio.SEND_BODY) == "SEND_BODY"
    assert repr(sansio.SERVER) == "SERVER"
    assert repr(sansio.NEED_DATA) == "NEED_DATA"
    assert sansio.SEND_BODY.name == "SEND_BODY"


def test_states_survive_pickling_as_the_same_constants() -> None:
    import pickle

    for constant in (sansio.IDLE, sansio.ERROR, sansio.CLIENT, sansio.PAUSED):
        assert pickle.loads(pickle.dumps(constant)) is constant


def test_a_request_after_the_server_closed_is_a_remote_error_and_moves_nothing() -> None:
    # Issue 10: this was a KeyError((SERVER, CLOSED, Request)) with the client side
    # already moved to SEND_BODY.
    conn = sansio.Connection(sansio.SERVER)
    conn.send(ConnectionClosed())
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(sansio.RemoteProtocolError, match="server is CLOSED"):
        conn.next_event()
    assert conn.their_state is sansio.ERROR
    assert conn.our_state is sansio.CLOSED
