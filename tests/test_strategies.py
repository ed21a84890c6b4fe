"""The public strategies keep their promises: what they say the core parses, it parses."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import sansio

import strategies as hs


def _parse(conn: sansio.Connection, pieces: list[bytes], eof: bool = False) -> list[sansio.Event]:
    events: list[sansio.Event] = []
    for piece in pieces:
        conn.receive_data(piece)
        events.extend(conn.events())
    if eof:
        conn.receive_data(b"")
        events.extend(e for e in conn.events() if type(e) is not sansio.ConnectionClosed)
    return events


def test_import_sansio_does_not_import_hypothesis() -> None:
    code = (
        "import sys, sansio\n"
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported'\n"
        "assert 'sansio.strategies' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@given(req_pieces=hs.with_pieces(hs.requests()))
def test_requests_parse_to_their_events(
    req_pieces: tuple[hs.GeneratedRequest, list[bytes]],
) -> None:
    req, pieces = req_pieces
    conn = sansio.Connection(sansio.SERVER)
    assert hs.coalesce(_parse(conn, pieces)) == req.events
    assert conn.keep_alive is req.keep_alive


@given(
    versions=st.sampled_from([(b"1.0",), (b"1.1",), (b"1.0", b"1.1")]),
    with_body=st.sampled_from([None, True, False]),
    data=st.data(),
)
def test_requests_honour_their_arguments(
    versions: tuple[bytes, ...], with_body: bool | None, data: st.DataObject
) -> None:
    req = data.draw(hs.requests(versions=versions, with_body=with_body))
    assert req.request.http_version in versions
    if with_body is not None:
        assert bool(req.body) is with_body
    hosts = [v for n, v in req.request.headers if n == b"host"]
    if req.request.http_version == b"1.1":
        assert len(hosts) == 1
        assert req.framing != "chunked" or req.request.http_version == b"1.1"
    assert req.trailers == () or req.framing == "chunked"


@given(resp=hs.responses(), data=st.data())
def test_responses_parse_to_their_events(resp: hs.GeneratedResponse, data: st.DataObject) -> None:
    conn = sansio.Connection(sansio.CLIENT)
    conn.send(resp.request)
    conn.send(sansio.EndOfMessage())
    events = _parse(conn, data.draw(hs.chunkings(resp.wire)), eof=resp.framing == "close")
    assert hs.coalesce(events) == resp.events
    assert conn.keep_alive is resp.keep_alive


@given(resp=hs.responses(request_method=b"HEAD"))
def test_responses_to_head_have_no_body(resp: hs.GeneratedResponse) -> None:
    assert resp.framing == "none" and resp.body == b""
    assert resp.request.method == b"HEAD"


@settings(max_examples=300)
@given(bad=hs.hostile_requests(limits=sansio.Limits(max_body_size=1000)))
def test_hostile_requests_are_rejected_with_their_status(bad: hs.HostileRequest) -> None:
    assert bad.smuggling_class in hs.HOSTILE_CLASSES
    conn = sansio.Connection(sansio.SERVER, limits=sansio.Limits(max_body_size=1000))
    with pytest.raises(sansio.RemoteProtocolError) as info:
        _parse(conn, [bad.wire], eof=bad.eof)
    assert info.value.status_hint == bad.status_hint


@given(data=st.binary(), max_pieces=st.none() | st.integers(1, 8), more=st.data())
def test_chunkings_cut_without_losing_or_emptying(
    data: bytes, max_pieces: int | None, more: st.DataObject
) -> None:
    pieces = more.draw(hs.chunkings(data, max_pieces=max_pieces))
    assert b"".join(pieces) == data
    assert all(pieces)
    if max_pieces is not None:
        assert len(pieces) <= max_pieces


def test_coalesce_merges_data_and_drops_empty_pieces() -> None:
    events = [sansio.Data(b"a"), sansio.Data(b""), sansio.Data(b"b"), sansio.EndOfMessage()]
    assert hs.coalesce(events) == (sansio.Data(b"ab"), sansio.EndOfMessage())
    assert hs.coalesce([sansio.Data(b"")]) == ()


@pytest.mark.parametrize(
    "make",
    [
        lambda: hs.requests(versions=(b"2.0",)),
        lambda: hs.requests(framings=("gzip",)),  # type: ignore[arg-type]
        lambda: hs.requests(with_body=True, framings=("none",)),
        lambda: hs.requests(versions=(b"1.0",), framings=("chunked",)),
        lambda: hs.responses(request_method=b"HEAD", with_body=True),
        lambda: hs.responses(request_method=b"CONNECT"),
        lambda: hs.hostile_requests(classes=["no-such-class"]),
        lambda: hs.hostile_requests(classes=["body-too-large"]),
    ],
)
def test_bad_arguments_are_refused(make: object) -> None:
    with pytest.raises(InvalidArgument):
        make()  # type: ignore[operator]
