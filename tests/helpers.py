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
