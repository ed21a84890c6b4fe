"""Every cell of the state table, in both directions: it follows the table or raises.

Send side: for each role, each state our side can reach and each event type, ``send``
either moves our side as ``TRANSITIONS`` says or raises ``LocalProtocolError`` and
moves nothing. Receive side: for each state the peer's side can reach and each event
type, the wire form of that event either comes back as an event whose move the table
holds, or raises ``RemoteProtocolError`` (the peer is then in ERROR), or is not read yet
(a sentinel, nothing moved). Every entry of the table is taken in both directions.

The switch keys (``SwitchUpgrade``: a 101; ``SwitchConnect``: a 2xx to CONNECT) are
cells too: for them the connection is built with a request that proposes that switch
(Upgrade, or CONNECT), and so are the states reached only through a proposal. They are
the table's own keys, not exported event types: taken here from ``TRANSITIONS`` itself,
and ``send`` refuses them (and every other type that is not an exported event) in
every state.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

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

Cell = tuple[sansio.Role, sansio.State, type[Event]]

_KEYS: dict[str, type[Event]] = {key[2].__name__: key[2] for key in sansio.TRANSITIONS}
SwitchUpgrade = _KEYS["SwitchUpgrade"]
SwitchConnect = _KEYS["SwitchConnect"]
EXPORTED_EVENTS = [
    value
    for value in map(partial(getattr, sansio), sansio.__all__)
    if isinstance(value, type) and issubclass(value, Event)
]

_HOST = (b"Host", b"x")
_UPGRADE = ((b"Upgrade", b"websocket"), (b"Connection", b"upgrade"))

EVENTS: dict[type[Event], Event] = {
    Request: Request(b"GET", b"/", (_HOST,), b"1.1"),
    InformationalResponse: InformationalResponse(100),
    SwitchUpgrade: InformationalResponse(101, _UPGRADE[:1]),
    Response: Response(200, ((b"Content-Length", b"0"),), b"1.1"),
    SwitchConnect: Response(200, (), b"1.1"),
    Data: Data(b""),
    EndOfMessage: EndOfMessage(),
    ConnectionClosed: ConnectionClosed(),
}

# The request that proposes what a cell needs: in SEND_RESPONSE, CONNECT for
# SwitchConnect and Upgrade for SwitchUpgrade; Upgrade for the states only a proposal
# reaches; else a plain request.
_SWITCH_STATES = (sansio.MIGHT_SWITCH_PROTOCOL, sansio.SWITCHED_PROTOCOL)


def _proposal(state: sansio.State, event_type: type[Event]) -> bytes:
    if state in _SWITCH_STATES:
        return b"Upgrade"
    if state is sansio.SEND_RESPONSE and event_type is SwitchConnect:
        return b"CONNECT"
    if state is sansio.SEND_RESPONSE and event_type is SwitchUpgrade:
        return b"Upgrade"
    return b""


def _request_head(proposal: bytes, extra: bytes = b"") -> bytes:
    if proposal == b"CONNECT":
        return b"CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n" + extra + b"\r\n"
    upgrade = b"Upgrade: websocket\r\nConnection: upgrade\r\n" if proposal else b""
    return b"GET / HTTP/1.1\r\nHost: x\r\n" + upgrade + extra + b"\r\n"


def _request_event(proposal: bytes, extra: sansio.Headers = ()) -> Request:
    if proposal == b"CONNECT":
        return Request(b"CONNECT", b"x:1", ((b"Host", b"x:1"), *extra), b"1.1")
    upgrade = _UPGRADE if proposal else ()
    return Request(b"POST", b"/", (_HOST, (b"Content-Length", b"0"), *upgrade, *extra), b"1.1")


def table_key(event: Event, request_method: bytes | None) -> type[Event]:
    """The key the table has for ``event``: a 101 and a 2xx to CONNECT switch."""
    if type(event) is InformationalResponse and event.status_code == 101:
        return SwitchUpgrade
    if type(event) is Response and request_method == b"CONNECT" and event.status_code < 300:
        return SwitchConnect
    return type(event)


# -- our side in every state --------------------------------------------------------


def server_in(state: sansio.State, event_type: type[Event] = Request) -> sansio.Connection:
    conn = sansio.Connection(sansio.SERVER)
    if state is sansio.CLOSED:
        conn.send(ConnectionClosed())
        return conn
    if state is sansio.IDLE:
        return conn
    proposal = _proposal(state, event_type)
    close = b"Connection: close\r\n" if state is sansio.MUST_CLOSE else b""
    feed(conn, [_request_head(proposal, close)])
    if state is sansio.SEND_RESPONSE:
        return conn
    if state is sansio.SWITCHED_PROTOCOL:
        conn.send(EVENTS[SwitchUpgrade])
        return conn
    conn.send(EVENTS[Response])
    if state is sansio.SEND_BODY:
        return conn
    conn.send(EndOfMessage())
    return conn


def client_in(state: sansio.State, event_type: type[Event] = Request) -> sansio.Connection:
    conn = sansio.Connection(sansio.CLIENT)
    if state is sansio.CLOSED:
        conn.send(ConnectionClosed())
        return conn
    if state is sansio.IDLE:
        return conn
    extra: sansio.Headers = ((b"Connection", b"close"),) if state is sansio.MUST_CLOSE else ()
    conn.send(_request_event(_proposal(state, event_type), extra))
    if state is sansio.SEND_BODY:
        return conn
    conn.send(EndOfMessage())
    if state is sansio.SWITCHED_PROTOCOL:
        feed(conn, [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"])
    return conn


BUILDERS: dict[sansio.Role, Callable[[sansio.State, type[Event]], sansio.Connection]] = {
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
        sansio.SWITCHED_PROTOCOL,
        sansio.CLOSED,
    ],
    sansio.CLIENT: [
        sansio.IDLE,
        sansio.SEND_BODY,
        sansio.DONE,
        sansio.MUST_CLOSE,
        sansio.MIGHT_SWITCH_PROTOCOL,
        sansio.SWITCHED_PROTOCOL,
        sansio.CLOSED,
    ],
}
PAIRS = [(role, state) for role, states in REACHABLE.items() for state in states]


@pytest.mark.parametrize(("role", "state"), PAIRS, ids=[f"{r!r}-{s!r}" for r, s in PAIRS])
def test_builders_reach_the_state(role: sansio.Role, state: sansio.State) -> None:
    for event_type in EVENTS:
        assert BUILDERS[role](state, event_type).our_state is state


CELLS = [(role, state, event_type) for role, state in PAIRS for event_type in EVENTS]


def _cell_id(cell: Cell) -> str:
    role, state, event_type = cell
    return f"{role!r}-{state!r}-{event_type.__name__}"


def send_outcome(role: sansio.Role, state: sansio.State, event_type: type[Event]) -> bool:
    """Send ``event_type`` from ``state``; True if it moved by the table, False if it
    was refused; fail on anything else."""
    conn = BUILDERS[role](state, event_type)
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
def test_every_cell_we_send_follows_the_table_or_raises(cell: Cell) -> None:
    send_outcome(*cell)


# -- the peer's side in every state: the receive side -------------------------------

# What each event looks like on the wire. The body-carrying states are built with
# chunked bodies, so a chunk is a Data and the last chunk an EndOfMessage; a switch is
# a 101 or a 2xx without framing; ConnectionClosed is EOF.
WIRE: dict[type[Event], bytes] = {
    Request: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    InformationalResponse: b"HTTP/1.1 100 Continue\r\n\r\n",
    SwitchUpgrade: b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    Response: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    SwitchConnect: b"HTTP/1.1 200 OK\r\n\r\n",
    Data: b"1\r\na\r\n",
    EndOfMessage: b"0\r\n\r\n",
    ConnectionClosed: b"",
}

_CHUNKED = b"Transfer-Encoding: chunked\r\n"


def peer_server_in(state: sansio.State, event_type: type[Event] = Request) -> sansio.Connection:
    """A client whose peer (the server) is in ``state``."""
    conn = sansio.Connection(sansio.CLIENT)
    if state is sansio.IDLE:
        return conn
    conn.send(_request_event(_proposal(state, event_type)))
    conn.send(EndOfMessage())
    if state is sansio.SEND_RESPONSE:
        return conn
    if state is sansio.SWITCHED_PROTOCOL:
        feed(conn, [WIRE[SwitchUpgrade]])
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


def peer_client_in(state: sansio.State, event_type: type[Event] = Request) -> sansio.Connection:
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
    if state in _SWITCH_STATES:
        feed(conn, [_request_head(b"Upgrade")])
        if state is sansio.SWITCHED_PROTOCOL:
            conn.send(EVENTS[SwitchUpgrade])
        return conn
    close = b"Connection: close\r\n" if state is sansio.MUST_CLOSE else b""
    feed(conn, [b"POST / HTTP/1.1\r\nHost: x\r\n" + _CHUNKED + close + b"\r\n"])
    if state is not sansio.SEND_BODY:
        feed(conn, [b"0\r\n\r\n"])
    return conn


PEER_BUILDERS: dict[sansio.Role, Callable[[sansio.State, type[Event]], sansio.Connection]] = {
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
    for event_type in EVENTS:
        assert PEER_BUILDERS[role](state, event_type).their_state is state


def receive_outcome(
    role: sansio.Role, state: sansio.State, event_type: type[Event]
) -> tuple[type[Event], ...] | None:
    """Feed the wire form of ``event_type`` from a peer in ``state``. Returns the table
    keys of the events read, each checked against the table, or None if it was refused
    (RemoteProtocolError, or new bytes after EOF); fails on anything else."""
    conn = PEER_BUILDERS[role](state, event_type)
    method = b"CONNECT" if _proposal(state, event_type) == b"CONNECT" else b"GET"
    wire = WIRE[event_type]
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
        key = (role, before, table_key(event, method))
        assert key in sansio.TRANSITIONS, f"{key} was received but is not in the table"
        expected = sansio.TRANSITIONS[key]
        if expected is sansio.DONE and not conn.keep_alive:
            expected = sansio.MUST_CLOSE
        assert conn.their_state is expected, key
        seen.append(key[2])
        if type(event) is ConnectionClosed:
            return tuple(seen)


@pytest.mark.parametrize("cell", PEER_CELLS, ids=[_cell_id(c) for c in PEER_CELLS])
def test_every_cell_we_receive_follows_the_table_or_raises(cell: Cell) -> None:
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


# -- the table is closed: nothing outside it is sent ---------------------------------


class _OwnData(Data):
    """A subclass of an exported event: not a type of the table either."""

    __slots__ = ()


def test_the_exported_event_types_are_the_tables_and_the_base() -> None:
    assert set(EXPORTED_EVENTS) == {*EVENTS, Event} - {SwitchUpgrade, SwitchConnect}
    assert "SwitchUpgrade" not in sansio.__all__ and "SwitchConnect" not in sansio.__all__
    assert not hasattr(sansio, "SwitchUpgrade") and not hasattr(sansio, "SwitchConnect")


STRANGERS: list[Event] = [Event(), SwitchUpgrade(), SwitchConnect(), _OwnData(b"x")]


@pytest.mark.parametrize(("role", "state"), PAIRS, ids=[f"{r!r}-{s!r}" for r, s in PAIRS])
@pytest.mark.parametrize("event", STRANGERS, ids=lambda e: type(e).__name__)
def test_an_event_outside_the_table_is_refused_in_every_state(
    role: sansio.Role, state: sansio.State, event: Event
) -> None:
    conn = BUILDERS[role](state, Request)
    other = conn.their_state
    with pytest.raises(sansio.LocalProtocolError, match=f"can't send {type(event).__name__}"):
        conn.send(event)
    assert (conn.our_state, conn.their_state) == (state, other)


def test_after_a_plain_get_a_switch_key_is_refused_not_sent() -> None:
    # Issue 15: send(SwitchUpgrade()) returned b"" and moved the server to
    # SWITCHED_PROTOCOL with no Upgrade proposed and no 101 sent.
    conn = sansio.Connection(sansio.SERVER)
    feed(conn, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    for key in (SwitchUpgrade, SwitchConnect):
        with pytest.raises(sansio.LocalProtocolError):
            conn.send(key())
        assert conn.our_state is sansio.SEND_RESPONSE
    # What the table does hold still goes out, by its own writer.
    assert conn.send(Response(200, ((b"Content-Length", b"0"),))).startswith(b"HTTP/1.0 200")
