"""Small helpers shared by the core's tests: drive a Connection and collect events."""

from __future__ import annotations

from collections.abc import Iterable

import sansio
from sansio import Data, EndOfMessage, Event


def feed(conn: sansio.Connection, pieces: Iterable[bytes]) -> list[Event]:
    """Feed ``pieces`` one by one, collecting every event; Data merged, sentinels dropped."""
    events: list[Event] = []
    for piece in pieces:
        conn.receive_data(piece)
        events.extend(conn.events())
    return merge_data(events)


def merge_data(events: Iterable[Event]) -> list[Event]:
    """Join consecutive Data events, so that any segmentation compares equal."""
    out: list[Event] = []
    for event in events:
        if type(event) is Data and out and type(out[-1]) is Data:
            out[-1] = Data(out[-1].data + event.data)
        elif type(event) is Data and not event.data:
            continue
        else:
            out.append(event)
    return out


def server_events(data: bytes, *, eof: bool = False) -> list[Event]:
    """Every event a server reads from ``data`` (whole), optionally followed by EOF."""
    conn = sansio.Connection(sansio.SERVER)
    events = feed(conn, [data]) if data else []
    if eof:
        events += feed(conn, [b""])
    return events


def client_events(data: bytes, *, method: bytes = b"GET", eof: bool = False) -> list[Event]:
    """Every event a client reads from ``data`` after sending a ``method`` request."""
    conn = sansio.Connection(sansio.CLIENT)
    conn.send(sansio.Request(method, b"/", ((b"host", b"example.com"),), b"1.1"))
    conn.send(EndOfMessage())
    events = feed(conn, [data]) if data else []
    if eof:
        events += feed(conn, [b""])
    return events


def server_error(data: bytes) -> sansio.RemoteProtocolError:
    """The error a server raises on ``data`` (whole, then EOF); fails if none is raised."""
    conn = sansio.Connection(sansio.SERVER)
    try:
        feed(conn, [data, b""])
    except sansio.RemoteProtocolError as exc:
        assert conn.their_state is sansio.ERROR
        return exc
    raise AssertionError(f"no RemoteProtocolError for {data!r}")


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


NEXT_REQUEST = b"GET /next HTTP/1.1\r\nHost: n\r\n\r\n"


def deliveries(data: bytes) -> list[tuple[str, list[bytes]]]:
    """``data`` as a peer may deliver it: whole, one byte at a time, and whole with the
    next request right behind it in the same read (pipelined)."""
    return [
        ("whole", [data]),
        ("byte by byte", byte_by_byte(data)),
        ("with trailing data", [data + NEXT_REQUEST]),
    ]


def first_message(
    data: bytes, role: sansio.Role = sansio.SERVER
) -> list[Event] | sansio.RemoteProtocolError:
    """The events of the first message in ``data`` (up to its ``EndOfMessage``, Data
    merged), or the error it is refused with; checked to be the same however ``data``
    is delivered (``deliveries``). What follows the first message is not read."""
    outcomes: list[tuple[str, list[Event] | sansio.RemoteProtocolError]] = []
    for how, pieces in deliveries(data):
        conn = sansio.Connection(role)
        events: list[Event] = []
        try:
            for piece in pieces:
                conn.receive_data(piece)
                while not events or type(events[-1]) is not EndOfMessage:
                    event = conn.next_event()
                    if isinstance(event, sansio.Sentinel):
                        break
                    events.append(event)
        except sansio.RemoteProtocolError as exc:
            outcomes.append((how, exc))
        else:
            outcomes.append((how, merge_data(events)))
    first = outcomes[0][1]
    for how, outcome in outcomes[1:]:
        if isinstance(first, sansio.RemoteProtocolError):
            assert isinstance(outcome, sansio.RemoteProtocolError), (how, outcome)
            assert outcome.status_hint == first.status_hint, (how, outcome)
        else:
            assert outcome == first, (how, outcome, first)
    return first
