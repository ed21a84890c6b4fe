"""Field names as received: ``Connection(..., keep_raw_names=True)``.

Such a connection sets ``raw_names`` on every ``Request``, ``InformationalResponse``,
``Response`` and ``EndOfMessage`` it parses: the names exactly as they were on the wire,
one per field of ``headers`` and in the same order (``()`` when there are none). Any
other connection leaves it ``None``. ``raw_names`` takes no part in ``==``, ``hash`` or
``repr``, so the two kinds of connection give equal events.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sansio
from sansio import EndOfMessage, InformationalResponse, Request, Response

from helpers import feed
from strategies import chunkings, pipelines, requests, responses

HEAD_EVENTS = (Request, InformationalResponse, Response, EndOfMessage)


def _raw(events: list[sansio.Event]) -> list[tuple[type, object]]:
    return [(type(e), e.raw_names) for e in events if isinstance(e, HEAD_EVENTS)]


@given(requests(), st.data())
def test_a_server_keeps_every_name_as_sent_however_the_bytes_arrive(
    req: Any, data: st.DataObject
) -> None:
    conn = sansio.Connection(sansio.SERVER, keep_raw_names=True)
    events = feed(conn, data.draw(chunkings(req.wire)))
    assert tuple(events) == req.events
    assert _raw(events) == _raw(list(req.events))
    for event in events:
        if isinstance(event, HEAD_EVENTS):
            assert event.raw_names is not None
            assert [n.lower() for n in event.raw_names] == [n for n, _ in event.headers]


@given(responses(), st.data())
def test_a_client_keeps_every_name_as_sent_however_the_bytes_arrive(
    resp: Any, data: st.DataObject
) -> None:
    conn = sansio.Connection(sansio.CLIENT, keep_raw_names=True)
    conn.send(resp.request)
    conn.send(EndOfMessage())
    pieces = data.draw(chunkings(resp.wire)) + ([b""] if resp.framing == "close" else [])
    events = [e for e in feed(conn, pieces) if type(e) is not sansio.ConnectionClosed]
    assert tuple(events) == resp.events
    assert _raw(events) == _raw(list(resp.events))


@given(pipelines())
def test_names_are_kept_on_every_cycle_of_a_kept_alive_connection(reqs: Any) -> None:
    conn = sansio.Connection(sansio.SERVER, keep_raw_names=True)
    conn.receive_data(b"".join(r.wire for r in reqs))
    for req in reqs:
        events = list(conn.events())
        assert _raw(events) == _raw(list(req.events))
        conn.send(Response(200, ((b"Content-Length", b"0"),)))
        conn.send(EndOfMessage())
        if conn.our_state is sansio.DONE:
            conn.start_next_cycle()


@given(requests())
def test_a_connection_that_does_not_keep_them_leaves_raw_names_none(req: Any) -> None:
    events = feed(sansio.Connection(sansio.SERVER), [req.wire])
    assert tuple(events) == req.events
    assert all(e.raw_names is None for e in events if isinstance(e, HEAD_EVENTS))


def test_obs_fold_lines_add_no_name_and_a_message_without_fields_has_none() -> None:
    conn = sansio.Connection(sansio.CLIENT, keep_raw_names=True)
    conn.send(Request(b"GET", b"/", ((b"Host", b"a"),), b"1.1"))
    conn.send(EndOfMessage())
    events = feed(
        conn,
        [
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\n\tc\r\nSET-cookie: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\nx-SUM: 1\r\n\r\n"
        ],
    )
    heads = [e for e in events if isinstance(e, HEAD_EVENTS)]
    assert len(heads) == len(events)
    assert [e.raw_names for e in heads] == [
        (),
        (b"X-Long", b"SET-cookie", b"Transfer-Encoding"),
        (b"x-SUM",),
    ]
    assert heads[1].headers[0] == (b"x-long", b"a b c")


@pytest.mark.parametrize(
    "wire",
    [
        b"GET / HTTP/1.0\r\n\r\n",  # no fields, no body
        b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",  # a Content-Length body
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
)
def test_an_end_of_message_without_trailers_has_an_empty_tuple(wire: bytes) -> None:
    events = feed(sansio.Connection(sansio.SERVER, keep_raw_names=True), [wire])
    assert type(events[-1]) is EndOfMessage
    assert events[-1].raw_names == ()
    assert sansio.EndOfMessage().raw_names is None  # the shared one is left alone


def test_raw_names_take_no_part_in_equality_hash_or_repr() -> None:
    plain = Request(b"GET", b"/", ((b"host", b"a"),), b"1.1")
    kept = Request(b"GET", b"/", ((b"host", b"a"),), b"1.1", raw_names=(b"HoSt",))
    assert plain == kept and hash(plain) == hash(kept) and repr(plain) == repr(kept)
    assert plain.raw_names is None and kept.raw_names == (b"HoSt",)


def test_raw_names_survive_copy_pickle_and_replace() -> None:
    kept = Response(200, [(b"x-a", b"1")], raw_names=[bytearray(b"X-A")])
    assert kept.raw_names == (b"X-A",) and type(kept.raw_names[0]) is bytes
    for clone in (copy.copy(kept), copy.deepcopy(kept), pickle.loads(pickle.dumps(kept))):
        assert clone.raw_names == (b"X-A",)
    assert dataclasses.replace(kept, status_code=201).raw_names == (b"X-A",)
    plain = EndOfMessage()
    assert pickle.loads(pickle.dumps(plain)).raw_names is None
    assert dataclasses.asdict(plain) == {"headers": (), "raw_names": None}


# The constructors without their annotations: these calls are wrong on purpose.
untyped: Any = sansio


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (
            lambda: untyped.Request(b"GET", b"/", [(b"a", b"1")], raw_names=b"A"),
            TypeError,
            "Request.raw_names must be an iterable of bytes, not bytes",
        ),
        (
            lambda: untyped.Response(200, [(b"a", b"1")], raw_names=["A"]),
            TypeError,
            "a Response.raw_names item must be bytes, not str",
        ),
        (
            lambda: untyped.EndOfMessage([(b"a", b"1")], raw_names=()),
            ValueError,
            "EndOfMessage.raw_names has 0 names for 1 header fields",
        ),
        (
            lambda: untyped.InformationalResponse(103, [(b"link", b"x")], raw_names=[b"Lnk"]),
            ValueError,
            "InformationalResponse.raw_names item b'Lnk' does not name the field b'link'",
        ),
        (
            lambda: untyped.Connection(sansio.SERVER, keep_raw_names=1),
            TypeError,
            "keep_raw_names must be a bool, not int",
        ),
    ],
)
def test_wrong_raw_names_are_refused_at_construction(
    build: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build()
