"""Every (our state, event type) pair either follows the transition table or raises."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


@given(st.sampled_from(PAIRS), st.sampled_from(list(EVENTS)))
def test_every_state_event_pair_follows_the_table_or_raises(
    pair: tuple[sansio.Role, sansio.State], event_type: type[Event]
) -> None:
    role, state = pair
    conn = BUILDERS[role](state)
    key = (role, state, event_type)
    if key not in sansio.TRANSITIONS:
        with pytest.raises(sansio.LocalProtocolError, match="can't send"):
            conn.send(EVENTS[event_type])
        assert conn.our_state is state
        return
    conn.send(EVENTS[event_type])
    expected = sansio.TRANSITIONS[key]
    if expected is sansio.DONE and not conn.keep_alive:
        expected = sansio.MUST_CLOSE
    assert conn.our_state is expected


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
