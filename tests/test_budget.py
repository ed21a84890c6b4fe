"""The per-connection memory budget in its parts: the shares of one number
(``driver.budget``), gathering small items (``driver.gather``), a body spooled to a file
(``driver.spool``), and the output queue that counts objects, copies small writes into
its tail and spills what a producer writes on past the budget (``driver.transport``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from transport_fakes import FlowCounter, RecordingLoop

import driver
import driver.cli
from driver.budget import Budget
from driver.config import TransportConfig
from driver.gather import STEP, gather
from driver.reply_events import asks_to_close
from driver.spool import SpooledBody
from driver.transport import SocketTransport

from server_helpers import SRC

KiB = 1024
MiB = 1024 * KiB

# -- the shares ---------------------------------------------------------------------------


def test_every_bound_derives_from_the_one_budget() -> None:
    config = driver.Config()
    budget = config.budget
    assert budget.total == config.connection_budget == 256 * KiB
    assert config.high_water == budget.high_water and config.low_water == budget.high_water // 4
    parts = budget.receive + budget.high_water + budget.gather + budget.body
    assert parts < budget.total  # and the rest is the spare share
    bigger = driver.Config(connection_budget=1 * MiB)
    assert bigger.high_water > config.high_water and bigger.budget.body > budget.body
    # An explicit mark still wins, if it fits.
    assert driver.Config(high_water=4096).high_water == 4096


def test_a_budget_that_cannot_hold_a_head_and_a_recv_is_refused() -> None:
    with pytest.raises(ValueError, match=r"connection_budget must be at least 147456"):
        driver.Config(connection_budget=64 * KiB)
    with pytest.raises(ValueError, match=r"high_water .* does not fit"):
        driver.Config(high_water=1 * MiB)
    with pytest.raises(ValueError, match=r"at least"):
        Budget(100, recv_size=64, head_size=64)


def test_the_command_line_takes_the_budget_and_says_when_it_is_too_small() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-m", "driver", "--hello", "--connection-budget", "1000"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 2
    assert "connection_budget must be at least" in done.stderr
    assert "Traceback" not in done.stderr
    assert "--connection-budget" in driver.cli.build_parser().format_help()


# -- gathering ----------------------------------------------------------------------------


@given(
    st.lists(st.binary(max_size=300), max_size=400),
    st.integers(1, 2000),
)
def test_gathering_gives_back_every_byte_in_order_in_bounded_writes(
    items: list[bytes], bound: int
) -> None:
    iterator = iter(items)
    out = []
    ended = False
    calls = 0
    while not ended:
        data, ended = gather(iterator, bound)
        out.append(data)
        calls += 1
        assert calls <= len(items) + 1
        # Never more than the bound plus what one step took (STEP items at most).
        assert len(data) <= bound + STEP * max((len(i) for i in items), default=0)
    assert b"".join(out) == b"".join(items)


def test_gathering_takes_many_small_items_per_write() -> None:
    data, ended = gather(iter([b"x"] * 100_000), 16 * KiB)
    assert len(data) == 16 * KiB and not ended
    assert gather(iter([b"ab"] * 10), 16 * KiB) == (b"ab" * 10, True)


def test_a_large_item_is_passed_on_without_a_copy() -> None:
    big = os.urandom(64 * KiB)
    data, ended = gather(iter([big, b"next"]), 16 * KiB)
    assert data is big and not ended


def test_gathering_ends_a_write_on_an_endless_run_of_empty_items() -> None:
    def empties() -> Iterator[bytes]:
        while True:
            yield b""

    assert gather(empties(), 64) == (b"", False)


@pytest.mark.parametrize("bad", ["text", 42, None])
def test_an_item_that_is_not_bytes_is_named(bad: object) -> None:
    with pytest.raises(TypeError, match=f"must yield bytes, not {type(bad).__name__}"):
        gather(iter([b"ok", bad]), 16 * KiB)


def test_bytes_like_items_are_gathered() -> None:
    items = [bytearray(b"ab"), memoryview(b"cd"), b"ef"]
    assert gather(iter(items), 16 * KiB) == (b"abcdef", True)


# -- spooled bodies -----------------------------------------------------------------------


def test_a_body_stays_in_memory_up_to_its_share_then_goes_to_a_file() -> None:
    body = SpooledBody(1000)
    body.write(b"a" * 600)
    body.write(b"b" * 400)
    assert not body.spilled and body.getvalue() == b"a" * 600 + b"b" * 400
    body.write(b"c")
    assert body.spilled and body.size == 1001
    assert body.getvalue() == b"a" * 600 + b"b" * 400 + b"c"
    assert body.file().read() == b"a" * 600 + b"b" * 400 + b"c"
    body.close()
    small = SpooledBody(1000)
    small.write(b"xyz")
    assert small.file().read() == b"xyz"


def test_a_spooled_body_holds_its_share_in_memory_not_its_size() -> None:
    tracemalloc.start()
    try:
        body = SpooledBody(32 * KiB)
        piece = b"p" * (64 * KiB)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(128):  # 8 MiB
            body.write(piece)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 256 * KiB, held
    assert body.size == 8 * MiB and len(body.getvalue()) == 8 * MiB
    body.close()


# -- Connection: close --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "close"),
    [
        (b"close", True),
        (b"Close", True),
        (b"keep-alive, close", True),
        (b" upgrade ,CLOSE ", True),
        (b"close-me", False),
        (b"keep-alive", False),
        (b"", False),
    ],
)
def test_a_connection_field_asks_to_close_by_its_close_option(value: bytes, close: bool) -> None:
    assert asks_to_close(value) is close


# -- the output queue ---------------------------------------------------------------------


@pytest.fixture
def stalled() -> Iterator[tuple[SocketTransport, FlowCounter, socket.socket]]:
    """A transport whose peer reads nothing (until the test reads ``peer``)."""
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    config = TransportConfig(
        recv_size=65536,
        high_water=64 * KiB,
        low_water=16 * KiB,
        write_timeout=60.0,
        edge_triggered=False,
        cork=False,
    )
    producer = FlowCounter()
    transport = SocketTransport(RecordingLoop(), ours, ("127.0.0.1", 1), producer, config)  # type: ignore[arg-type]
    # Fill the socket's buffers, so that what follows is queued.
    while not transport.get_write_buffer_size():
        transport.write(b"f" * 4096)
    producer.paused = 0
    yield transport, producer, peer
    transport.abort()
    peer.close()


def _drain(transport: SocketTransport, peer: socket.socket) -> bytes:
    peer.setblocking(False)
    got = bytearray()
    while transport.get_write_buffer_size():
        transport.on_writable()
        while True:
            try:
                chunk = peer.recv(1 << 20)
            except BlockingIOError:
                break
            got += chunk
    peer.settimeout(0.2)
    try:
        while chunk := peer.recv(1 << 20):
            got += chunk
    except TimeoutError:
        pass
    return bytes(got)


def test_small_writes_behind_a_queued_item_cost_their_bytes_not_an_object_each(
    stalled: tuple[SocketTransport, FlowCounter, socket.socket],
) -> None:
    transport, _producer, peer = stalled
    before = transport.get_write_buffer_size()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for i in range(20_000):
            transport.write(b"%d," % (i % 10))
        held = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert held < 200 * KiB, held  # 20,000 queued objects would be about 4.5 MB
    expected = b"".join(b"%d," % (i % 10) for i in range(20_000))
    data = _drain(transport, peer)
    assert data.endswith(expected) and data[: -len(expected)].strip(b"f") == b""
    assert before


def test_a_producer_that_writes_on_while_paused_spills_to_a_file_in_order(
    stalled: tuple[SocketTransport, FlowCounter, socket.socket],
) -> None:
    transport, producer, peer = stalled
    before = transport.get_write_buffer_size()
    pieces = [os.urandom(16 * KiB) for _ in range(512)]  # 8 MiB, each its own object
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for piece in pieces:
            transport.write(piece)
        queued_memory = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert producer.paused == 1
    assert transport.get_write_buffer_size() >= 8 * MiB  # all of it owed, none lost
    # The queue keeps references (no copies) up to spill_above; the rest is on disk,
    # and what it holds of the pieces is what it queued, not all 8 MiB of them.
    referenced = sum(1 for p in pieces if sys.getrefcount(p) > 3)  # list, p, the call
    assert referenced * 16 * KiB <= transport.config.spill_above + 16 * KiB
    assert queued_memory < 512 * KiB
    expected = b"".join(pieces)
    data = _drain(transport, peer)
    assert data.endswith(expected) and data[: -len(expected)].strip(b"f") == b""
    assert before
    assert producer.resumed == 1
