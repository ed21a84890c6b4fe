"""Expect: 100-continue (RFC 9110 §10.1.1): who is invited to send a body, and when the
invitation is no longer owed. The server's side (when the driver sends it, and closes
rather than invite a body nobody reads) is in ``test_server_protocol.py``."""

from __future__ import annotations

import pytest

import sansio
from sansio import Data

from helpers import feed


def test_expect_100_continue_is_visible_to_http11_only() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(
        conn,
        [b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-Continue\r\n\r\n"],
    )
    assert conn.they_are_waiting_for_100_continue
    wire = conn.send(sansio.InformationalResponse(100, reason=b"Continue"))
    assert wire == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert not conn.they_are_waiting_for_100_continue
    conn = sansio.Connection(sansio.SERVER)
    feed(
        conn,
        [b"PUT / HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"],
    )
    # RFC 9110 §10.1.1: a server MUST ignore 100-continue from an HTTP/1.0 client.
    assert not conn.they_are_waiting_for_100_continue
    with pytest.raises(sansio.LocalProtocolError, match=r"HTTP/1\.1 peers"):
        conn.send(sansio.InformationalResponse(100))


def test_receiving_body_data_ends_the_wait_for_100_continue() -> None:
    conn = sansio.Connection(sansio.SERVER)
    feed(
        conn,
        [b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"],
    )
    assert conn.they_are_waiting_for_100_continue
    assert feed(conn, [b"ok"]) == [Data(b"ok")]
    assert not conn.they_are_waiting_for_100_continue
