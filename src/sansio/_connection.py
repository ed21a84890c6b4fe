"""The connection: one object per HTTP/1.x connection, in the client or server role.

It owns the receive buffer, both sides' states, the body reader for what the peer
sends next and the body writer for what we send next. ``next_event`` calls the reader
that ``_READERS`` names for the peer's role and state; ``send`` calls the writer that
``_WRITERS`` names for our role, our state and the event's type, a table made from
``TRANSITIONS``, so an event the table does not hold has no writer and is refused
before anything is written. Every move of either side goes through ``ConnectionState``, which checks
it against the table. Every remote error goes through one funnel that puts the peer in
ERROR for good and keeps only its message and status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from ._body import END, NO_BODY, BodyReader
from ._buffer import ReceiveBuffer
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
from ._headers import split_head
from ._heads import parse_request_lines, parse_response
from ._limits import Limits
from ._prepared import PreparedResponse
from ._state import (
    CLIENT,
    CLOSED,
    DONE,
    ERROR,
    IDLE,
    MIGHT_SWITCH_PROTOCOL,
    MUST_CLOSE,
    NEED_DATA,
    PAUSED,
    SEND_BODY,
    SEND_RESPONSE,
    SERVER,
    SWITCHED_PROTOCOL,
    TRANSITIONS,
    ConnectionState,
    EventType,
    Role,
    Sentinel,
    State,
    SwitchConnect,
    SwitchUpgrade,
)
from ._writers import (
    CLOSE,
    KEEP_ALIVE,
    BodyWriter,
    write_informational,
    write_request,
    write_response,
)

__all__ = ["Connection"]

_CLOSED = ConnectionClosed()
_END = EndOfMessage()
_END_KEEPING_NAMES = EndOfMessage((), ())
_DEFAULT_LIMITS = Limits()
_NO_BOUNDS = (False, False)


class Connection:
    """An HTTP/1.0 (and HTTP/1.1-framed) connection, as ``role`` sees it.

    Feed it bytes with ``receive_data`` and take events from ``next_event``; turn
    your events into bytes with ``send``. It does no I/O of its own.

    With ``keep_raw_names=True`` every ``Request``, ``InformationalResponse``,
    ``Response`` and ``EndOfMessage`` it parses carries ``raw_names``: the field names
    exactly as received, one per field of ``headers`` (an empty tuple when there are
    none); otherwise ``raw_names`` is ``None``.
    """

    # No __slots__: what most connections never change is a class-level default, so a
    # new connection (one per request in HTTP/1.0) sets six attributes, not twelve.
    # With the buffer's own defaults: 490 ns against 640 ns for a new connection
    # (bench/micro.py, "new connection").
    their_http_version: bytes | None = None
    _reader: BodyReader = NO_BODY
    _writer: BodyWriter | None = None
    _request_method: bytes | None = None
    _expect_continue = False
    _eof = False
    _error: tuple[str, int]  # the peer's error (message, status hint), set with ERROR

    def __init__(
        self, role: Role, *, limits: Limits = _DEFAULT_LIMITS, keep_raw_names: bool = False
    ) -> None:
        if role is not CLIENT and role is not SERVER:
            raise ValueError(f"role must be sansio.CLIENT or sansio.SERVER, not {role!r}")
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a sansio.Limits, not {type(limits).__name__}")
        self.our_role = role
        self.their_role = SERVER if role is CLIENT else CLIENT
        if keep_raw_names is False:  # an identity test: this runs for every new connection
            self._readers = _READERS[self.their_role]
        elif keep_raw_names is True:
            self._readers = _READERS_KEEPING_NAMES[self.their_role]
        else:
            raise TypeError(f"keep_raw_names must be a bool, not {type(keep_raw_names).__name__}")
        self._limits = limits
        self._buffer = ReceiveBuffer()
        self._cstate = ConnectionState()

    def __repr__(self) -> str:
        return (
            f"<sansio.Connection {self.our_role!r} our_state={self.our_state!r} "
            f"their_state={self.their_state!r} keep_alive={self.keep_alive}>"
        )

    # -- where we stand -------------------------------------------------------------

    @property
    def our_state(self) -> State:
        return self._cstate.states[self.our_role]

    @property
    def their_state(self) -> State:
        return self._cstate.states[self.their_role]

    @property
    def keep_alive(self) -> bool:
        """Whether the connection can carry another message after this one."""
        return self._cstate.keep_alive

    @property
    def they_are_waiting_for_100_continue(self) -> bool:
        """A 1.1 client sent ``Expect: 100-continue`` and waits before its body."""
        return (
            self._expect_continue
            and self.our_role is SERVER
            and self._cstate.states[CLIENT] is SEND_BODY
            and self._cstate.states[SERVER] is SEND_RESPONSE
        )

    @property
    def chunk_bounds(self) -> tuple[bool, bool]:
        """For the last ``Data`` event of a chunked body: whether it began its chunk and
        whether it ended it (h11's ``Data.chunk_start`` and ``chunk_end``, which
        ``sansio.h11compat`` needs); ``(False, False)`` for any other body."""
        bounds: tuple[bool, bool] = getattr(self._reader, "chunk_bounds", _NO_BOUNDS)
        return bounds

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """Bytes received but not yet parsed, and whether the peer has closed."""
        return bytes(self._buffer), self._eof

    # -- receiving ------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed its side."""
        if not data:
            self._eof = True
        elif self._eof:
            raise RuntimeError("received data after the peer closed the connection")
        else:
            self._buffer.append(data)

    def next_event(self) -> Event | Sentinel:
        """The next event from the peer, ``NEED_DATA`` or ``PAUSED``; or raise.

        Raises ``RemoteProtocolError`` (with ``status_hint``) if the peer broke the
        protocol; the peer is then in ERROR and every later call raises again.
        """
        try:
            return self._readers[self._cstate.states[self.their_role]](self)
        except RemoteProtocolError as exc:
            if self._cstate.states[self.their_role] is not ERROR:
                # Keep what the next call needs, not the exception: its traceback holds
                # the parser's frames (the head's bytes) and would tie them, and this
                # connection, into a reference cycle that only a full collection frees.
                self._error = (str(exc), exc.status_hint)
                self._cstate.process_error(self.their_role)
            raise

    def events(self) -> Iterator[Event]:
        """Every event available now; stops at ``NEED_DATA``, ``PAUSED`` or after
        ``ConnectionClosed``."""
        while True:
            event = self.next_event()
            if isinstance(event, Sentinel):
                return
            yield event
            if type(event) is ConnectionClosed:
                return

    # -- readers, one per (peer's role, peer's state): see _READERS -------------------

    def _read_body(self) -> Event | Sentinel:
        reader = self._reader
        event: Event | None = END if reader is NO_BODY else reader(self._buffer)
        if event is None:
            if not self._eof:
                return NEED_DATA
            event = reader.eof()
        if self._expect_continue:
            self._expect_continue = False  # the body has started: no 100 needed
        if type(event) is EndOfMessage:
            self._cstate.receive(self.their_role, EndOfMessage)
        # A Data event moves SEND_BODY to itself (in the table for both roles): no move.
        return event

    def _read_body_keeping_names(self) -> Event | Sentinel:
        event = self._read_body()
        return _END_KEEPING_NAMES if event is END else event

    def _read_request_head(self, keep_raw_names: bool = False) -> Event | Sentinel:
        buffer = self._buffer
        limits = self._limits
        lines = buffer.take_plain_head(limits)
        if lines is None:
            if not buffer:
                # Between kept-alive requests, before the next one has arrived: no head
                # to look for (issue 15).
                return self._closed() if self._eof else NEED_DATA
            head = buffer.take_head(limits, 414, skip_empty_lines=True)
            if head is None:
                return self._head_incomplete("request")
            lines = split_head(head, limits, 414)
        request, reader, keep_alive, expect, switch = parse_request_lines(
            lines, limits, keep_raw_names
        )
        self._cstate.receive(CLIENT, Request, keep_alive)
        if switch:
            self._cstate.propose_switch(switch)
        self.their_http_version = request.http_version
        self._request_method = request.method
        if expect:
            self._expect_continue = True
        if reader is not NO_BODY:  # NO_BODY is already the reader between messages
            self._reader = reader
        return request

    def _read_before_request(self) -> Event | Sentinel:
        # A client reads nothing from a server it has not asked anything yet.
        if self._buffer:
            raise RemoteProtocolError("the server sent data before any request")
        return self._closed() if self._eof else NEED_DATA

    def _read_response_head(self, keep_raw_names: bool = False) -> Event | Sentinel:
        buffer = self._buffer
        if not buffer:
            return self._closed() if self._eof else NEED_DATA
        # Tolerate stray empty lines before a status line too, as llhttp does: some
        # servers send a CRLF after a body.
        head = buffer.take_head(self._limits, 400, skip_empty_lines=True)
        if head is None:
            return self._head_incomplete("response")
        response, reader, keep_alive = parse_response(
            head, self._limits, self._request_method, keep_raw_names
        )
        self.their_http_version = response.http_version
        key = _switch_key(response, self._request_method)
        if key is SwitchUpgrade or key is SwitchConnect:
            self._cstate.receive_switch(SERVER, key)
        else:
            self._cstate.receive(SERVER, key, keep_alive)
        self._reader = reader
        return response

    def _read_nothing(self) -> Event | Sentinel:
        # Waiting for the server's answer to a proposed switch, or switched: the bytes
        # that follow may belong to another protocol, so they stay in trailing_data.
        return PAUSED

    def _read_done(self) -> Event | Sentinel:
        if self._eof and not self._buffer:
            return self._closed()
        return PAUSED

    def _read_must_close(self) -> Event | Sentinel:
        buffer = self._buffer
        if buffer:
            if not buffer.only_newlines():
                raise RemoteProtocolError(
                    "data after the end of the last message on a connection that is closing"
                )
            buffer.take_all()
        return self._closed() if self._eof else NEED_DATA

    def _read_closed(self) -> Event | Sentinel:
        return _CLOSED

    def _read_error(self) -> Event | Sentinel:
        message, status = self._error
        raise RemoteProtocolError(
            f"can't receive: the peer already broke the protocol ({message})", status
        )

    def _closed(self) -> ConnectionClosed:
        # A server that closes after a request, without a response, is refused here.
        self._cstate.receive(self.their_role, ConnectionClosed, keep_alive=False)
        return _CLOSED

    def _head_incomplete(self, what: str) -> Sentinel | ConnectionClosed:
        if not self._eof:
            return NEED_DATA
        if not self._buffer:
            return self._closed()
        raise RemoteProtocolError(f"peer closed the connection in the middle of a {what} head")

    # -- sending --------------------------------------------------------------------

    def send(self, event: Event) -> bytes:
        """Serialise ``event``; raise ``LocalProtocolError`` (and send nothing) on misuse."""
        role = self.our_role
        state = self._cstate.states[role]
        entry = _WRITERS.get((role, state, type(event)))
        if entry is None:
            raise LocalProtocolError(f"can't send {type(event).__name__} in state {state!r}")
        write, new = entry
        return write(self, event, new)

    # -- writers, one per (our role, our state, event type): see _WRITERS ---------------
    # Each serialises first (raising before anything moves), then moves our side.

    def _send_data(self, event: Data, new: State) -> bytes:
        assert self._writer is not None  # set by the head that put us in SEND_BODY
        out = self._writer.data(event.data)
        self._cstate.sent(self.our_role, Data, new, True)
        return out

    def _send_end(self, event: EndOfMessage, new: State) -> bytes:
        assert self._writer is not None
        out = self._writer.end(event.headers)
        self._cstate.sent(self.our_role, EndOfMessage, new, True)
        return out

    def _send_request(self, event: Request, new: State) -> bytes:
        cstate = self._cstate
        cstate.check_send(CLIENT, Request)  # the server's side: it must be able to answer
        out, self._writer, keep_alive, switch = write_request(event)
        self._request_method = event.method
        if switch:  # before the move: the request is complete only later
            cstate.propose_switch(switch)
        cstate.sent(CLIENT, Request, new, keep_alive)
        return out

    def _send_informational(self, event: InformationalResponse, new: State) -> bytes:
        if self.their_http_version != b"1.1":
            raise LocalProtocolError("1xx responses can only go to HTTP/1.1 peers")
        cstate = self._cstate
        key: EventType = InformationalResponse
        if event.status_code == 101:
            key = SwitchUpgrade
            new = cstate.check_switch(SERVER, key)
        out = write_informational(event.status_code, event.headers, event.reason)
        self._expect_continue = False
        cstate.sent(SERVER, key, new, True)
        return out

    def _send_response(self, event: Response, new: State) -> bytes:
        cstate = self._cstate
        key: EventType = Response
        if cstate.proposals and _switch_key(event, self._request_method) is SwitchConnect:
            key = SwitchConnect
            new = cstate.check_switch(SERVER, key)
        out, self._writer, keep_alive = write_response(
            event, self._request_method, self.their_http_version, cstate.keep_alive
        )
        cstate.sent(SERVER, key, new, keep_alive)
        return out

    def _send_closed(self, event: ConnectionClosed, new: State) -> bytes:
        self._cstate.sent(self.our_role, ConnectionClosed, new, False)
        return b""

    def send_prepared(self, prepared: PreparedResponse) -> bytes:
        """``send(prepared.response)``, ``send(Data(prepared.body))`` and
        ``send(EndOfMessage())`` in one call, without checking again what was checked
        when ``prepared`` was built: the same bytes, the same state moves and the same
        ``LocalProtocolError`` (nothing sent) where ``send`` would refuse. After HEAD
        the body is left out, as ``send`` requires."""
        if type(prepared) is not PreparedResponse:
            raise TypeError(
                f"send_prepared takes a sansio.PreparedResponse, not {type(prepared).__name__}"
            )
        cstate = self._cstate
        response = prepared.response
        method = self._request_method
        if (
            cstate.proposals  # a switch to settle: a 101 or 2xx to CONNECT is not prepared
            or method == b"CONNECT"
            or (response.http_version == b"1.1" and self.their_http_version != b"1.1")
        ):
            # The rare cases, and the refusals, are send's.
            if prepared.body and _switch_key(response, method) is SwitchConnect:
                raise LocalProtocolError("a 2xx to CONNECT opens a tunnel: it has no body")
            out = self.send(response)
            if cstate.states[SERVER] is not SEND_BODY:
                return out  # switched to the tunnel
            if prepared.body and method != b"HEAD":
                out += self.send(Data(prepared.body))
            return out + self.send(_END)
        body_state = cstate.check_send(self.our_role, Response)  # a client: refused
        keep_alive = prepared.persistent and cstate.keep_alive
        head = prepared.status_line + prepared.fields + (KEEP_ALIVE if keep_alive else CLOSE)
        cstate.sent(SERVER, Response, body_state, keep_alive)
        cstate.sent(SERVER, EndOfMessage, cstate.check_send(SERVER, EndOfMessage), True)
        return head if method == b"HEAD" else head + prepared.body

    def send_body_framing(self, size: int) -> tuple[bytes, bytes]:
        """Account for ``size`` body bytes that you send yourself (``os.sendfile``, a
        ``memoryview`` of a mapped file ...) and return the bytes to send just before
        and just after them: nothing for a Content-Length or close-delimited body, the
        chunk-size line and CRLF for a chunked one. It is ``send(Data(...))`` without
        the copy, with the same checks (a body longer than its Content-Length, a body
        after HEAD ...) and the same state move.
        """
        if type(size) is not int or size < 0:
            raise LocalProtocolError(f"a body size is a non-negative int, not {size!r}")
        new = self._cstate.check_send(self.our_role, Data)
        assert self._writer is not None
        framing = self._writer.frame(size)
        self._cstate.sent(self.our_role, Data, new, True)
        return framing

    def start_next_cycle(self) -> None:
        """Reset both sides to IDLE for the next request on a kept-alive connection."""
        self._cstate.start_next_cycle()
        self._reader = NO_BODY
        self._writer = None
        self._request_method = None
        self._expect_continue = False


def _switch_key(response: InformationalResponse | Response, method: bytes | None) -> EventType:
    """The table's key for a response: a 101, or a 2xx to CONNECT, switches protocols."""
    status = response.status_code
    if type(response) is InformationalResponse:
        return SwitchUpgrade if status == 101 else InformationalResponse
    if method == b"CONNECT" and 200 <= status <= 299:
        return SwitchConnect
    return Response


Reader = Callable[[Connection], Event | Sentinel]
Writer = Callable[[Connection, Any, State], bytes]

_WRITER_OF: dict[EventType, Writer] = {
    Request: Connection._send_request,
    InformationalResponse: Connection._send_informational,
    Response: Connection._send_response,
    Data: Connection._send_data,
    EndOfMessage: Connection._send_end,
    ConnectionClosed: Connection._send_closed,
}

_WRITERS: dict[tuple[Role, State, EventType], tuple[Writer, State]] = {
    key: (_WRITER_OF[key[2]], new) for key, new in TRANSITIONS.items() if key[2] in _WRITER_OF
}
"""What serialises an event we send, and the state it moves our side to:
``_WRITERS[our role, our state, type(event)]``, one entry per move of ``TRANSITIONS``
made by an event a user can build. The switch keys have no writer of their own: a 101
or a 2xx to CONNECT is sent as the ``InformationalResponse`` or ``Response`` it is,
whose writer checks that the request proposed that switch."""

_READERS: dict[Role, dict[State, Reader]] = {
    CLIENT: {
        IDLE: Connection._read_request_head,
        SEND_BODY: Connection._read_body,
        DONE: Connection._read_done,
        MUST_CLOSE: Connection._read_must_close,
        MIGHT_SWITCH_PROTOCOL: Connection._read_nothing,
        SWITCHED_PROTOCOL: Connection._read_nothing,
        CLOSED: Connection._read_closed,
        ERROR: Connection._read_error,
    },
    SERVER: {
        IDLE: Connection._read_before_request,
        SEND_RESPONSE: Connection._read_response_head,
        SEND_BODY: Connection._read_body,
        DONE: Connection._read_done,
        MUST_CLOSE: Connection._read_must_close,
        SWITCHED_PROTOCOL: Connection._read_nothing,
        CLOSED: Connection._read_closed,
        ERROR: Connection._read_error,
    },
}
"""What reads the peer's next event: ``_READERS[their role][their state]``. Every state
a side can be in has its reader; the client is never in SEND_RESPONSE, the server never
in MIGHT_SWITCH_PROTOCOL."""

_READERS_KEEPING_NAMES: dict[Role, dict[State, Reader]] = {
    CLIENT: {
        **_READERS[CLIENT],
        IDLE: partial(Connection._read_request_head, keep_raw_names=True),
        SEND_BODY: Connection._read_body_keeping_names,
    },
    SERVER: {
        **_READERS[SERVER],
        SEND_RESPONSE: partial(Connection._read_response_head, keep_raw_names=True),
        SEND_BODY: Connection._read_body_keeping_names,
    },
}
"""The readers of a connection made with ``keep_raw_names=True``: the head readers keep
the names, and the shared end of a message without trailers becomes one whose
``raw_names`` is ``()``. A table of its own, not a flag that every connection tests."""
