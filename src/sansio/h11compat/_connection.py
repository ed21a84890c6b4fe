"""h11's ``Connection``, translated to and from one ``sansio.Connection``.

Theory of operation. The core parses, frames, validates and keeps the state; this
class turns its events into h11's and h11's into its, and reads its states as h11's.
h11 differs from the core in a few rules its users rely on, and those are applied
here on top of the core's verdicts, never instead of them:

- h11 keeps nothing alive after an HTTP/1.0 message, even with ``Connection:
  keep-alive``: such a connection reads as ``MUST_CLOSE`` where the core would be
  ``DONE``, and a response to it carries ``Connection: close`` so that the core agrees.
- An exception from ``send`` (or ``send_failed()``) puts our side in ``ERROR`` for good.
- h11's joint rules: a side that is ``IDLE`` or ``DONE`` while the other has closed
  (or a ``DONE`` side while the other is in ``ERROR``) must close; a server whose
  client broke the protocol before any request stays ``IDLE`` (it may still answer).
- ``PAUSED`` only while bytes of a next request are really waiting (h11 says
  ``NEED_DATA`` on an empty buffer), ``None`` from ``send(ConnectionClosed())``, and
  ``client_is_waiting_for_100_continue`` kept in both roles as h11 keeps it.

Responses go out in HTTP/1.1 to HTTP/1.1 peers and in HTTP/1.0 otherwise, as the core
does (h11 writes ``HTTP/1.1`` in every status line).
"""

from __future__ import annotations

from typing import Any

import sansio

from ._events import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    Request,
    Response,
    parsed_data,
    parsed_end_of_message,
    parsed_request,
    parsed_response,
)
from ._headers import EMPTY, Headers
from ._state import (
    CLIENT,
    CLOSED,
    DONE,
    ERROR,
    FROM_CORE,
    IDLE,
    MUST_CLOSE,
    SEND_RESPONSE,
    SERVER,
    TO_CORE_ROLE,
)
from ._util import LocalProtocolError, RemoteProtocolError, Sentinel

__all__ = ["DEFAULT_MAX_INCOMPLETE_EVENT_SIZE", "NEED_DATA", "PAUSED", "Connection"]


class NEED_DATA(Sentinel, metaclass=Sentinel):
    pass


class PAUSED(Sentinel, metaclass=Sentinel):
    pass


DEFAULT_MAX_INCOMPLETE_EVENT_SIZE = 16 * 1024
"""h11's default bound on a head being received, in bytes."""

_LIMITS: dict[int, sansio.Limits] = {}


def _limits(size: int) -> sansio.Limits:
    """The core's limits for h11's one bound: no line, head or chunk-size line beyond
    ``size`` bytes (httpcore raises it to 100 KiB for large cookies and expects them to
    pass); the core's bound on the number of fields stays. Cached: a server makes one
    connection per client with the same bound."""
    limits = _LIMITS.get(size)
    if limits is None:
        if type(size) is not int or size < 1:
            raise ValueError(f"max_incomplete_event_size must be a positive int, not {size!r}")
        limits = sansio.Limits(
            max_start_line_size=size,
            max_field_size=size,
            max_head_size=size,
            max_chunk_line_size=size,
        )
        _LIMITS[size] = limits
    return limits


_CORE_CLOSED = sansio.ConnectionClosed()
_CORE_END = sansio.EndOfMessage()
_CLOSED = ConnectionClosed()
_END = parsed_end_of_message(EMPTY)
_CLOSE = ((b"Connection", b"close"),)
Fields = tuple[tuple[bytes, bytes], ...]


def _wants_continue(headers: Headers) -> bool:
    """h11's rule: ``100-continue`` among the comma-separated ``Expect`` values."""
    for name, value in headers:
        if name == b"expect" and b"100-continue" in (
            item.strip() for item in value.lower().split(b",")
        ):
            return True
    return False


def _h11_response_fields(status: int, fields: Fields) -> Fields:
    """The fields h11 would put on the wire where the core refuses the application's.

    h11 rewrites a response's framing fields before writing them, and applications rely
    on it: with ``Transfer-Encoding`` it drops ``Content-Length`` (uvicorn's test app
    sends both); on a 204 it keeps ``Content-Length: 0``, which RFC 9110 §8.6 says a
    server MUST NOT send and the core refuses, so the facade drops the framing fields
    of a 204 instead (a 204 has no body whatever they say). Asked only after the core
    refused a response: the common response pays nothing.
    """
    names = [name.lower() for name, _ in fields]
    if status == 204:
        drop: tuple[bytes, ...] = (b"content-length", b"transfer-encoding")
    elif b"transfer-encoding" in names:
        drop = (b"content-length",)
    else:
        return fields
    return tuple(pair for pair, name in zip(fields, names) if name not in drop)


class Connection:
    """An HTTP/1.1 connection as h11 presents one, in the client or server role."""

    def __init__(
        self,
        our_role: type[Sentinel],
        max_incomplete_event_size: int = DEFAULT_MAX_INCOMPLETE_EVENT_SIZE,
    ) -> None:
        if our_role is not CLIENT and our_role is not SERVER:
            raise ValueError(f"expected CLIENT or SERVER, not {our_role!r}")
        self.our_role = our_role
        self.their_role = SERVER if our_role is CLIENT else CLIENT
        self._core = sansio.Connection(
            TO_CORE_ROLE[our_role],
            limits=_limits(max_incomplete_event_size),
            keep_raw_names=True,  # for Headers.raw_items(), as httpcore reads them
        )
        self.client_is_waiting_for_100_continue = False
        self._our_error = False  # send raised, or send_failed(): ERROR for good
        self._must_close = False  # h11 keeps nothing alive after this cycle's messages
        self._request_seen = False  # a Request went by in this cycle
        self._adjusted = False  # any of h11's rules above may change a state's reading

    def __repr__(self) -> str:
        return (
            f"<h11compat.Connection {self.our_role!r} our_state={self.our_state!r} "
            f"their_state={self.their_state!r}>"
        )

    # -- where we stand -------------------------------------------------------------

    @property
    def states(self) -> dict[type[Sentinel], type[Sentinel]]:
        """``{CLIENT: client's state, SERVER: server's state}``, as h11 has them."""
        core = self._core
        ours, theirs = FROM_CORE[core.our_state], FROM_CORE[core.their_state]
        if self.our_role is CLIENT:
            client, server = ours, theirs
        else:
            client, server = theirs, ours
        if not self._adjusted:
            return {CLIENT: client, SERVER: server}
        if self._our_error:
            if self.our_role is CLIENT:
                client = ERROR
            else:
                server = ERROR
        if self._must_close:
            client = MUST_CLOSE if client is DONE else client
            server = MUST_CLOSE if server is DONE else server
        if client is ERROR and server is SEND_RESPONSE and not self._request_seen:
            server = IDLE  # h11 lets a server answer a broken request from IDLE
        # h11's joint rules (its STATE_TRIGGERED_TRANSITIONS).
        if (client is CLOSED and (server is DONE or server is IDLE)) or (
            client is ERROR and server is DONE
        ):
            server = MUST_CLOSE
        if (server is CLOSED and (client is DONE or client is IDLE)) or (
            server is ERROR and client is DONE
        ):
            client = MUST_CLOSE
        return {CLIENT: client, SERVER: server}

    @property
    def our_state(self) -> type[Sentinel]:
        if not self._adjusted:
            return FROM_CORE[self._core.our_state]
        return self.states[self.our_role]

    @property
    def their_state(self) -> type[Sentinel]:
        if not self._adjusted:
            return FROM_CORE[self._core.their_state]
        return self.states[self.their_role]

    @property
    def their_http_version(self) -> bytes | None:
        return self._core.their_http_version

    @property
    def they_are_waiting_for_100_continue(self) -> bool:
        return self.their_role is CLIENT and self.client_is_waiting_for_100_continue

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """Bytes received and not parsed (after a protocol switch, the new protocol's),
        and whether the peer has closed."""
        return self._core.trailing_data

    # -- receiving ------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed its side."""
        try:
            self._core.receive_data(data)
        except RuntimeError:
            raise RuntimeError("received close, then received more data?") from None

    def next_event(self) -> Any:
        """The next event from the peer, ``NEED_DATA`` or ``PAUSED``; or raise
        ``RemoteProtocolError`` (the peer is then in ``ERROR``)."""
        core = self._core
        try:
            event = core.next_event()
        except sansio.RemoteProtocolError as exc:
            self._adjusted = True
            raise RemoteProtocolError(str(exc), exc.status_hint) from None
        kind = type(event)
        if kind is sansio.Data:
            start, end = core.chunk_bounds
            return parsed_data(event.data, start, end)  # type: ignore[union-attr]
        if kind is sansio.EndOfMessage:
            if self.our_role is SERVER:
                self.client_is_waiting_for_100_continue = False
            trailers = event.headers  # type: ignore[union-attr]
            if not trailers:
                return _END
            return parsed_end_of_message(Headers(trailers, event.raw_names))  # type: ignore[union-attr]
        if kind is sansio.Request:
            return self._received_request(event)  # type: ignore[arg-type]
        if kind is sansio.Response or kind is sansio.InformationalResponse:
            return self._received_response(event)  # type: ignore[arg-type]
        if event is sansio.NEED_DATA:
            return NEED_DATA
        if event is sansio.PAUSED:
            # The core pauses after a complete message whatever is buffered; h11 only
            # when a next one is there, and asks for data otherwise.
            if core.their_state is sansio.DONE and not core.trailing_data[0]:
                return NEED_DATA
            return PAUSED
        self._adjusted = True  # ConnectionClosed: h11's joint rules apply now
        return _CLOSED

    def _received_request(self, event: sansio.Request) -> Request:
        self._request_seen = True
        headers = Headers(event.headers, event.raw_names)
        if event.http_version != b"1.1":
            self._must_close = self._adjusted = True
        elif self._core.they_are_waiting_for_100_continue:
            self.client_is_waiting_for_100_continue = True
        return parsed_request(event.method, event.target, headers, event.http_version)

    def _received_response(
        self, event: sansio.Response | sansio.InformationalResponse
    ) -> Response | InformationalResponse:
        self.client_is_waiting_for_100_continue = False
        headers = Headers(event.headers, event.raw_names)
        if type(event) is sansio.InformationalResponse:
            cls: type[Any] = InformationalResponse
        else:
            cls = Response
            if event.http_version != b"1.1":
                self._must_close = self._adjusted = True
        return parsed_response(  # type: ignore[no-any-return]
            cls, event.status_code, headers, event.http_version, event.reason
        )

    # -- sending --------------------------------------------------------------------

    def send(self, event: Event) -> bytes | None:
        """The bytes for ``event`` (``None`` for ``ConnectionClosed``); raise
        ``LocalProtocolError`` and send nothing if it breaks the protocol, which also
        puts our side in ``ERROR`` for good, as in h11."""
        if self._our_error:
            raise LocalProtocolError("Can't send data when our state is ERROR")
        try:
            if type(event) is Data:
                if self.our_role is CLIENT:
                    self.client_is_waiting_for_100_continue = False
                return self._core.send(sansio.Data(event.data))
            return self._send_other(event)
        except sansio.LocalProtocolError as exc:
            self.send_failed()
            raise LocalProtocolError(str(exc), exc.status_hint) from None
        except BaseException:
            self.send_failed()
            raise

    def send_with_data_passthrough(self, event: Event) -> list[Any] | None:
        """``send``, as a list of pieces to write; for ``Data`` the list holds
        ``event.data`` itself, uncopied (a ``memoryview``, or any object your writer
        knows, such as a file range: only its ``len()`` is taken)."""
        if type(event) is not Data:
            out = self.send(event)
            return None if out is None else [out]
        if self._our_error:
            raise LocalProtocolError("Can't send data when our state is ERROR")
        try:
            before, after = self._core.send_body_framing(len(event.data))
        except sansio.LocalProtocolError as exc:
            self.send_failed()
            raise LocalProtocolError(str(exc), exc.status_hint) from None
        except BaseException:
            self.send_failed()
            raise
        if self.our_role is CLIENT:
            self.client_is_waiting_for_100_continue = False
        return [before, event.data, after] if before else [event.data]

    def send_failed(self) -> None:
        """We could not send what ``send`` gave us: our side is in ``ERROR`` for good."""
        self._our_error = self._must_close = self._adjusted = True

    def _send_other(self, event: Event) -> bytes | None:
        core = self._core
        kind = type(event)
        if kind is Response:
            response: Response = event  # type: ignore[assignment]
            fields = response.headers.wire()
            if self._must_close and core.keep_alive:
                fields += _CLOSE  # h11's rule for 1.0 peers; the core then agrees
            status, reason = response.status_code, response.reason
            version = self._version_to_send(response.http_version)
            try:
                out = core.send(sansio.Response(status, fields, version, reason))
            except sansio.LocalProtocolError:
                # Nothing was written and nothing moved: retry once the h11 way.
                rewritten = _h11_response_fields(status, fields)
                if rewritten == fields:
                    raise
                out = core.send(sansio.Response(status, rewritten, version, reason))
            self.client_is_waiting_for_100_continue = False
            return out
        if kind is EndOfMessage:
            if self.our_role is CLIENT:
                self.client_is_waiting_for_100_continue = False
            trailers = event.headers  # type: ignore[attr-defined]
            return core.send(sansio.EndOfMessage(trailers.wire()) if trailers else _CORE_END)
        if kind is Request:
            request: Request = event  # type: ignore[assignment]
            version = request.http_version
            if version != b"1.1" and version != b"1.0":
                raise LocalProtocolError("I only send HTTP/1.1 (or HTTP/1.0)")
            out = core.send(
                sansio.Request(request.method, request.target, request.headers.wire(), version)
            )
            self._request_seen = True
            if version != b"1.1":
                self._must_close = self._adjusted = True
            elif request.headers and _wants_continue(request.headers):
                self.client_is_waiting_for_100_continue = True
            return out
        if kind is InformationalResponse:
            info: InformationalResponse = event  # type: ignore[assignment]
            self._version_to_send(info.http_version)
            out = core.send(
                sansio.InformationalResponse(
                    info.status_code, info.headers.wire(), b"1.1", info.reason
                )
            )
            self.client_is_waiting_for_100_continue = False
            return out
        if kind is ConnectionClosed:
            core.send(_CORE_CLOSED)
            self._adjusted = True
            return None
        raise LocalProtocolError(f"can't send {kind.__name__}: not an h11 event")

    def _version_to_send(self, version: bytes) -> bytes:
        """h11 only sends HTTP/1.1; the core answers an HTTP/1.0 peer in HTTP/1.0."""
        if version != b"1.1" and version != b"1.0":
            raise LocalProtocolError("I only send HTTP/1.1")
        return b"1.1" if self._core.their_http_version == b"1.1" else b"1.0"

    def start_next_cycle(self) -> None:
        """Both sides ``DONE`` on a kept-alive connection: reset both to ``IDLE``."""
        states = self.states
        if states[CLIENT] is not DONE or states[SERVER] is not DONE:
            raise LocalProtocolError(f"not in a reusable state. self.states={states}")
        self._core.start_next_cycle()
        self._request_seen = False
        self.client_is_waiting_for_100_continue = False
