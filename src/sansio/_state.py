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

Protocol switch, as h11 does it: a request with ``Upgrade`` (HTTP/1.1) or the method
``CONNECT`` proposes to hand the connection over to another protocol. Once that
request is complete the client is ``MIGHT_SWITCH_PROTOCOL`` until the server answers.
A ``101`` to an Upgrade or a ``2xx`` to CONNECT accepts: the table keys those answers
as ``SwitchUpgrade`` and ``SwitchConnect``, and both sides end in
``SWITCHED_PROTOCOL``, where nothing more is read or written (``trailing_data`` hands
the bytes after the head to the next protocol). Any other final response declines, and
the client is ``DONE`` again.
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
    "MIGHT_SWITCH_PROTOCOL",
    "MUST_CLOSE",
    "NEED_DATA",
    "PAUSED",
    "PEER_TRANSITIONS",
    "SEND_BODY",
    "SEND_RESPONSE",
    "SERVER",
    "SWITCHED_PROTOCOL",
    "TRANSITIONS",
    "ConnectionState",
    "Role",
    "Sentinel",
    "State",
    "SwitchConnect",
    "SwitchUpgrade",
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
MIGHT_SWITCH_PROTOCOL = State("MIGHT_SWITCH_PROTOCOL")
SWITCHED_PROTOCOL = State("SWITCHED_PROTOCOL")
NEED_DATA, PAUSED = Sentinel("NEED_DATA"), Sentinel("PAUSED")


class SwitchUpgrade(Event):
    """Not an event anyone builds: the table's key for a ``101 Switching Protocols``
    that accepts a request's ``Upgrade``."""

    __slots__ = ()


class SwitchConnect(Event):
    """Not an event anyone builds: the table's key for a ``2xx`` that accepts a
    ``CONNECT`` request and opens a tunnel."""

    __slots__ = ()


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
    (SERVER, SEND_RESPONSE, SwitchUpgrade): SWITCHED_PROTOCOL,
    (SERVER, SEND_RESPONSE, Response): SEND_BODY,
    (SERVER, SEND_RESPONSE, SwitchConnect): SWITCHED_PROTOCOL,
    (SERVER, SEND_BODY, Data): SEND_BODY,
    (SERVER, SEND_BODY, EndOfMessage): DONE,
    (SERVER, IDLE, ConnectionClosed): CLOSED,
    (SERVER, DONE, ConnectionClosed): CLOSED,
    (SERVER, MUST_CLOSE, ConnectionClosed): CLOSED,
    (SERVER, CLOSED, ConnectionClosed): CLOSED,
}
"""The sender's side: ``(role, state, event type) -> next state``. The client's moves
into and out of ``MIGHT_SWITCH_PROTOCOL`` follow from the server's answer (see the
module's docstring), not from an event of its own."""

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


_NO_PROPOSALS: frozenset[EventType] = frozenset()


_UNPROPOSED: dict[EventType, str] = {
    SwitchUpgrade: "101 Switching Protocols answers only a request with Upgrade",
    SwitchConnect: "a 2xx to CONNECT answers only a CONNECT request",
}


class ConnectionState:
    """Both sides' states and the keep-alive verdict, moved only through the tables.

    Every move goes through here, in both directions, and is checked against the
    tables first: one we would send that is not in them is a ``LocalProtocolError``
    (``check_send``), one the peer made is a ``RemoteProtocolError`` (``receive``).
    Nothing moves unless the whole move, a request's effect on the server included,
    is legal.
    """

    __slots__ = ("keep_alive", "proposals", "states")

    def __init__(self) -> None:
        self.states: dict[Role, State] = {CLIENT: IDLE, SERVER: IDLE}
        self.keep_alive = True
        self.proposals = _NO_PROPOSALS
        """The switches the client's request proposed (``SwitchUpgrade``,
        ``SwitchConnect``) and the server has not answered yet."""

    def propose_switch(self, proposals: frozenset[EventType]) -> None:
        """The request just moved (sent or received) proposes these switches."""
        self.proposals = proposals

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

    def check_switch(self, role: Role, event_type: EventType) -> State:
        """``check_send`` for a switch key (``SwitchUpgrade``, ``SwitchConnect``): also
        refused unless the request proposed that switch."""
        if event_type not in self.proposals:
            raise LocalProtocolError(_UNPROPOSED[event_type])
        return self.check_send(role, event_type)

    def sent(self, role: Role, event_type: EventType, new: State, keep_alive: bool) -> None:
        """Apply a move ``check_send`` allowed; ``keep_alive`` is False if the message
        sent rules out another one on this connection."""
        states = self.states
        states[role] = new
        if event_type is Request:
            states[SERVER] = PEER_TRANSITIONS[SERVER, states[SERVER], Request]
        if not keep_alive or not self.keep_alive:
            self.disable_keep_alive()
        if self.proposals:
            self._settle_switch()

    # -- the peer's moves -------------------------------------------------------------

    def receive(self, role: Role, event_type: EventType, keep_alive: bool = True) -> None:
        """Apply a move the peer made by sending ``event_type``, or raise
        ``RemoteProtocolError`` (and move nothing) if the tables do not allow it."""
        states = self.states
        try:
            # Subscripts, not .get: a receive is on every message's path (bench/micro.py,
            # "receive a request").
            new = TRANSITIONS[role, states[role], event_type]
            if event_type is Request:
                states[SERVER] = PEER_TRANSITIONS[SERVER, states[SERVER], Request]
        except KeyError:
            raise self._refused(role, event_type) from None
        states[role] = new
        if not keep_alive:
            self.keep_alive = False
        # disable_keep_alive only where it has a side to move: an HTTP/1.0 message is
        # received in two moves and would pay for two calls (bench/micro.py, "receive a
        # request").
        if not self.keep_alive and (states[CLIENT] is DONE or states[SERVER] is DONE):
            self.disable_keep_alive()
        if self.proposals:
            self._settle_switch()

    def receive_switch(self, role: Role, event_type: EventType) -> None:
        """``receive`` for a switch key: also refused unless the request proposed it."""
        if event_type not in self.proposals:
            raise RemoteProtocolError(_UNPROPOSED[event_type])
        self.receive(role, event_type)

    def _settle_switch(self) -> None:
        """The client's moves that follow from the server's answer to a proposal."""
        states = self.states
        server, client = states[SERVER], states[CLIENT]
        if server is SWITCHED_PROTOCOL:
            if client is DONE or client is MUST_CLOSE or client is MIGHT_SWITCH_PROTOCOL:
                states[CLIENT] = SWITCHED_PROTOCOL
        elif server is SEND_RESPONSE:
            if client is DONE or client is MUST_CLOSE:
                states[CLIENT] = MIGHT_SWITCH_PROTOCOL  # complete; waiting for the answer
        else:  # a final response that does not switch: declined
            self.proposals = _NO_PROPOSALS
            if client is MIGHT_SWITCH_PROTOCOL:
                states[CLIENT] = DONE
                if not self.keep_alive:
                    self.disable_keep_alive()

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
        """No further message on this connection: a side that is DONE must close.

        The one home of that rule: every move that ends a message or turns keep-alive
        off comes through here."""
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
