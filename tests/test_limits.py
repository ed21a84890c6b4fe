"""Limits: each bound is enforced, with the right status, before data piles up."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sansio

from helpers import feed

LIMITS = sansio.Limits()


def verdict(data: bytes, pieces: list[bytes], limits: sansio.Limits = LIMITS) -> object:
    """What a server makes of ``pieces``: an error's status (in a tuple) or its events.

    The status is the verdict; the message may name a different limit when two are
    broken at once (the one crossed first as bytes arrive one at a time).
    """
    conn = sansio.Connection(sansio.SERVER, limits=limits)
    try:
        return feed(conn, [*pieces, b""])
    except sansio.RemoteProtocolError as exc:
        return (exc.status_hint,)


def test_request_line_over_the_limit_is_414() -> None:
    data = b"GET /" + b"a" * LIMITS.max_start_line_size + b" HTTP/1.0\r\n\r\n"
    assert verdict(data, [data])[0] == 414  # type: ignore[index]


def test_request_line_at_the_limit_is_accepted() -> None:
    line = b"GET /" + b"a" * (LIMITS.max_start_line_size - 14) + b" HTTP/1.0"
    assert len(line) == LIMITS.max_start_line_size
    events = verdict(line + b"\r\n\r\n", [line + b"\r\n\r\n"])
    assert isinstance(events, list) and type(events[0]) is sansio.Request


def test_414_comes_before_the_line_ends() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET /" + b"a" * (LIMITS.max_start_line_size + 10))
    with pytest.raises(sansio.RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.status_hint == 414


def test_field_over_the_limit_is_431_before_the_head_ends() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET / HTTP/1.0\r\nCookie: " + b"a" * LIMITS.max_field_size)
    with pytest.raises(sansio.RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.status_hint == 431


def test_head_over_the_limit_is_431_before_it_ends() -> None:
    conn = sansio.Connection(sansio.SERVER)
    line = b"X: " + b"a" * 1000 + b"\r\n"
    conn.receive_data(b"GET / HTTP/1.0\r\n" + line * (LIMITS.max_head_size // len(line) + 1))
    with pytest.raises(sansio.RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.status_hint == 431
    assert len(conn.trailing_data[0]) < LIMITS.max_head_size + 2 * len(line)


def test_too_many_fields_is_431() -> None:
    data = b"GET / HTTP/1.0\r\n" + b"X: y\r\n" * (LIMITS.max_header_count + 1) + b"\r\n"
    assert verdict(data, [data])[0] == 431  # type: ignore[index]
    ok = b"GET / HTTP/1.0\r\n" + b"X: y\r\n" * LIMITS.max_header_count + b"\r\n"
    assert isinstance(verdict(ok, [ok]), list)


def test_trailer_limits() -> None:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    data = head + b"X: y\r\n" * (LIMITS.max_header_count + 1) + b"\r\n"
    assert verdict(data, [data])[0] == 431  # type: ignore[index]
    data = head + b"X: " + b"y" * LIMITS.max_field_size + b"\r\n\r\n"
    assert verdict(data, [data])[0] == 400  # type: ignore[index]


def test_small_limits_are_enforced_too() -> None:
    limits = sansio.Limits(
        max_start_line_size=20, max_field_size=10, max_head_size=40, max_header_count=2
    )
    assert verdict(b"", [b"GET /aaaaaaaaaaaaaaaaaaa HTTP/1.0\r\n\r\n"], limits)[0] == 414  # type: ignore[index]
    assert verdict(b"", [b"GET / HTTP/1.0\r\nX: 12345678\r\n\r\n"], limits)[0] == 431  # type: ignore[index]
    assert verdict(b"", [b"GET / HTTP/1.0\r\nX: 1\r\nY: 2\r\nZ: 3\r\n\r\n"], limits)[0] == 431  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_head_size": 0}, "positive int"),
        ({"max_field_size": -1}, "positive int"),
        ({"max_header_count": True}, "positive int"),
        ({"max_body_size": 0}, "positive int"),
        ({"max_start_line_size": 100, "max_head_size": 50}, "cannot exceed"),
    ],
)
def test_invalid_limits_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sansio.Limits(**kwargs)


def test_connection_rejects_a_wrong_limits_or_role() -> None:
    with pytest.raises(TypeError):
        sansio.Connection(sansio.SERVER, limits={})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sansio.Connection("server")  # type: ignore[arg-type]


SMALL = sansio.Limits(
    max_start_line_size=30, max_field_size=24, max_head_size=80, max_header_count=4
)


@st.composite
def heads_near_the_limits(draw: st.DrawFn) -> bytes:
    target = b"/" + b"a" * draw(st.integers(0, 30))
    fields = draw(st.lists(st.integers(0, 26).map(lambda n: b"X: " + b"v" * n), max_size=6))
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    return b"GET " + target + b" HTTP/1.0" + eol + b"".join(f + eol for f in fields) + eol


@settings(max_examples=300, deadline=None)
@given(heads_near_the_limits(), st.data())
def test_limit_verdicts_do_not_depend_on_segmentation(head: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(head) - 1)), max_size=8)))
    pieces = [head[a:b] for a, b in zip([0, *cuts], [*cuts, len(head)]) if a < b]
    whole = verdict(head, [head], SMALL)
    assert verdict(head, pieces, SMALL) == whole
    assert verdict(head, [head[i : i + 1] for i in range(len(head))], SMALL) == whole


def test_trailer_section_size_is_bounded() -> None:
    limits = sansio.Limits(max_head_size=100, max_start_line_size=50, max_field_size=60)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    data = head + b"X: " + b"y" * 50 + b"\r\n" + b"Z: " + b"y" * 50 + b"\r\n\r\n"
    assert verdict(data, [data], limits) == (431,)


def test_response_body_size_limit() -> None:
    conn = sansio.Connection(sansio.CLIENT, limits=sansio.Limits(max_body_size=3))
    conn.send(sansio.Request(b"GET", b"/"))
    conn.send(sansio.EndOfMessage())
    conn.receive_data(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\n")
    with pytest.raises(sansio.RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.status_hint == 413
