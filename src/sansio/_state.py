"""Every state of both sides of a connection, and every legal transition, as data.

Each side (client, server) has its own state. An event moves its sender's side by
``TRANSITIONS[(role, state, event type)]``; a pair missing from the table is illegal,
in both directions: ``LocalProtocolError`` for an event we would send, and
``RemoteProtocolError`` for one the peer sent. ``ConnectionState`` is the only code
that moves a state, and it checks every move, both sides of it, before making it.
HTTP/1.x has exactly one cross-side effect: a ``Request`` also moves the server from
``IDLE`` to ``SEND_RESPONSE`` (it now owes a response), which ``PEER_TRANSITIONS`` holds.

Keep-alive decides the rest: a side that would be ``DONE`` on a connection that will
not be reused is ``MUST_CLOSE`` instead. ``start_next_cycle`` takes
both sides from ``DONE`` back to ``IDLE``.
"""

from __future__ import annotations

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    Request,
    Response,
)

__all__ = [
    "CLIENT",
    "CLOSED",
    "DONE",
    "ERROR",
    "IDLE",
    "MUST_CLOSE",
    "NEED_DATA",
    "PAUSED",
    "PEER_TRANSITIONS",
    "SEND_BODY",
    "SEND_RESPONSE",
    "SERVER",
    "TRANSITIONS",
    "ConnectionState",
    "Role",
    "Sentinel",
    "State",
]


class _Named:
    """A named constant compared by identity.

    Not an ``enum.Enum``: an Enum member's ``__hash__`` is Python code, and the state
    table is consulted on every event, so its keys must hash in C.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> str:
        return self.name  # pickles as the module-level constant of that name


class Role(_Named):
    """Which end of the connection a side is: ``CLIENT`` or ``SERVER``."""

    __slots__ = ()


class State(_Named):
    """Where one side of a connection stands (``IDLE``, ``SEND_BODY``, ``DONE`` ...)."""

    __slots__ = ()


class Sentinel(_Named):
    """What ``next_event`` returns when it has no event to give.

    ``NEED_DATA``: more bytes (or EOF) are needed before the next event. ``PAUSED``:
    the peer's message is complete; call ``start_next_cycle`` to read the next one.
    """

    __slots__ = ()


CLIENT, SERVER = Role("CLIENT"), Role("SERVER")
IDLE, SEND_RESPONSE, SEND_BODY = State("IDLE"), State("SEND_RESPONSE"), State("SEND_BODY")
DONE, MUST_CLOSE, CLOSED, ERROR = (
    State("DONE"),
    State("MUST_CLOSE"),
    State("CLOSED"),
    State("ERROR"),
)
NEED_DATA, PAUSED = Sentinel("NEED_DATA"), Sentinel("PAUSED")

EventType = type[Event]

TRANSITIONS: dict[tuple[Role, State, EventType], State] = {
    (CLIENT, IDLE, Request): SEND_BODY,
    (CLIENT, SEND_BODY, Data): SEND_BODY,
    (CLIENT, SEND_BODY, EndOfMessage): DONE,
    (CLIENT, IDLE, ConnectionClosed): CLOSED,
    (CLIENT, DONE, ConnectionClosed): CLOSED,
    (CLIENT, MUST_CLOSE, ConnectionClosed): CLOSED,
    (CLIENT, CLOSED, ConnectionClosed): CLOSED,
    (SERVER, SEND_RESPONSE, InformationalResponse): SEND_RESPONSE,
    (SERVER, SEND_RESPONSE, Response): SEND_BODY,
    (SERVER, SEND_BODY, Data): SEND_BODY,
    (SERVER, SEND_BODY, EndOfMessage): DONE,
    (SERVER, IDLE, ConnectionClosed): CLOSED,
    (SERVER, DONE, ConnectionClosed): CLOSED,
    (SERVER, MUST_CLOSE, ConnectionClosed): CLOSED,
    (SERVER, CLOSED, ConnectionClosed): CLOSED,
}
"""The sender's side: ``(role, state, event type) -> next state``."""

PEER_TRANSITIONS: dict[tuple[Role, State, EventType], State] = {
    (SERVER, IDLE, Request): SEND_RESPONSE,
}
"""The other side: a request obliges the server to respond."""


# Why a move the peer made is refused, where a plain "can't receive" would say too little.
_RECEIVE_REFUSALS: dict[tuple[Role, State, EventType], str] = {
    (SERVER, SEND_RESPONSE, ConnectionClosed): (
        "peer closed the connection before sending a response"
    ),
}


class ConnectionState:
    """Both sides' states and the keep-alive verdict, moved only through the tables.

    Every move goes through here, in both directions, and is checked against the
    tables first: one we would send that is not in them is a ``LocalProtocolError``
    (``check_send``), one the peer made is a ``RemoteProtocolError`` (``receive``).
    Nothing moves unless the whole move, a request's effect on the server included,
    is legal.
    """

    __slots__ = ("keep_alive", "states")

    def __init__(self) -> None:
        self.states: dict[Role, State] = {CLIENT: IDLE, SERVER: IDLE}
        self.keep_alive = True

    # -- our moves ------------------------------------------------------------------

    def check_send(self, role: Role, event_type: EventType) -> State:
        """The state ``role`` moves to by sending ``event_type``; raise
        ``LocalProtocolError`` if it may not send it now. Nothing moves yet: the
        caller serialises first, then calls ``sent``."""
        states = self.states
        new = TRANSITIONS.get((role, states[role], event_type))
        if new is None:
            raise LocalProtocolError(f"can't send {event_type.__name__} in state {states[role]!r}")
        if event_type is Request and (SERVER, states[SERVER], Request) not in PEER_TRANSITIONS:
            raise LocalProtocolError(f"can't send a Request: the server is {states[SERVER]!r}")
        return new

    def sent(self, role: Role, event_type: EventType, new: State, keep_alive: bool) -> None:
        """Apply a move ``check_send`` allowed; ``keep_alive`` is False if the message
        sent rules out another one on this connection."""
        if not keep_alive:
            self.disable_keep_alive()
        states = self.states
        if new is DONE and not self.keep_alive:
            new = MUST_CLOSE
        states[role] = new
        if event_type is Request:
            states[SERVER] = PEER_TRANSITIONS[SERVER, states[SERVER], Request]

    # -- the peer's moves -------------------------------------------------------------

    def receive(self, role: Role, event_type: EventType, keep_alive: bool = True) -> None:
        """Apply a move the peer made by sending ``event_type``, or raise
        ``RemoteProtocolError`` (and move nothing) if the tables do not allow it."""
        states = self.states
        try:
            # Subscripts, not .get, and disable_keep_alive's rule inline below: a receive
            # is on every message's path, and the plain code takes 1.11x as long
            # (482 ns against 536 ns: bench/micro.py, "receive a request").
            new = TRANSITIONS[role, states[role], event_type]
            if event_type is Request:
                states[SERVER] = PEER_TRANSITIONS[SERVER, states[SERVER], Request]
        except KeyError:
            raise self._refused(role, event_type) from None
        states[role] = new
        if not keep_alive:
            self.keep_alive = False
        if not self.keep_alive:
            # disable_keep_alive's rule: no side is DONE once keep-alive is off.
            if states[CLIENT] is DONE:
                states[CLIENT] = MUST_CLOSE
            if states[SERVER] is DONE:
                states[SERVER] = MUST_CLOSE

    def _refused(self, role: Role, event_type: EventType) -> RemoteProtocolError:
        states = self.states
        return RemoteProtocolError(
            _RECEIVE_REFUSALS.get((role, states[role], event_type))
            or f"peer sent {event_type.__name__} while the client is {states[CLIENT]!r} "
            f"and the server is {states[SERVER]!r}"
        )

    def process_error(self, role: Role) -> None:
        """``role`` broke the protocol: it is in ERROR for good, and nothing is reused.

        A server whose client erred before a request was read may still answer it (with
        the error's status), so an IDLE server moves to SEND_RESPONSE.
        """
        self.states[role] = ERROR
        if role is CLIENT and self.states[SERVER] is IDLE:
            self.states[SERVER] = SEND_RESPONSE
        self.disable_keep_alive()

    def disable_keep_alive(self) -> None:
        """No further message on this connection: a side that is DONE must close."""
        self.keep_alive = False
        states = self.states
        if states[CLIENT] is DONE:
            states[CLIENT] = MUST_CLOSE
        if states[SERVER] is DONE:
            states[SERVER] = MUST_CLOSE

    def start_next_cycle(self) -> None:
        states = self.states
        if states[CLIENT] is not DONE or states[SERVER] is not DONE:
            raise LocalProtocolError(
                "start_next_cycle needs both sides DONE on a kept-alive connection; "
                f"client is {states[CLIENT]!r}, server is {states[SERVER]!r}"
            )
        states[CLIENT] = states[SERVER] = IDLE
