"""A peer's error: final, repeated on every later call, and kept without its traceback."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

import sansio


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Only reference counting frees objects: anything in a cycle stays."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# Refused for a NUL at its end, after the whole head was split and checked. The flood in
# issue 10 sent 61 KB heads (a server went from 18 MiB to 1,098 MiB); the count of
# connections left is what matters, and 1 KB keeps a regression from eating the machine.
REJECTED_HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: a\r\n" * 90 + b"X: \x00\r\n\r\n"


def test_rejected_heads_leave_no_connection_behind(no_gc: None) -> None:
    alive: list[weakref.ref[sansio.Connection]] = []
    for _ in range(10_000):
        conn = sansio.Connection(sansio.SERVER)
        alive.append(weakref.ref(conn))
        conn.receive_data(REJECTED_HEAD)
        with pytest.raises(sansio.RemoteProtocolError) as info:
            conn.next_event()
        assert info.value.status_hint == 400
        del conn, info
    assert sum(ref() is not None for ref in alive) == 0


def test_the_error_is_raised_again_fresh_with_its_message_and_status() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n")
    with pytest.raises(sansio.RemoteProtocolError) as first:
        conn.next_event()
    assert first.value.status_hint == 431
    for _ in range(2):
        with pytest.raises(sansio.RemoteProtocolError, match="already broke") as again:
            conn.next_event()
        assert again.value is not first.value
        assert again.value.status_hint == 431
        assert str(first.value) in str(again.value)
    assert conn.their_state is sansio.ERROR
    assert not conn.keep_alive


def test_a_connection_keeps_no_exception_of_the_peer() -> None:
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"\x00\r\n\r\n")
    with pytest.raises(sansio.RemoteProtocolError) as info:
        conn.next_event()
    exc = info.value
    assert exc.__traceback__ is not None
    assert not any(value is exc for value in vars(conn).values())
    del info
    ref = weakref.ref(exc)
    del exc
    assert ref() is None  # nothing else holds it: freed at once, without a collection
