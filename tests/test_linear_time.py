"""Linear time is a contract: work is counted (bytes searched), never timed.

Feeding a message one byte at a time must cost O(n) in total. The receive buffer
counts every byte its searches look at (``bytes_scanned``); a parser that rescanned its
buffer on every call would count O(n^2) here.
"""

from __future__ import annotations

import sansio

LIMITS = sansio.Limits()


def scanned(conn: sansio.Connection) -> int:
    # The count lives on the receive buffer, which is private on purpose.
    return conn._buffer.bytes_scanned


def drip(conn: sansio.Connection, data: bytes) -> list[sansio.Event]:
    events: list[sansio.Event] = []
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1])
        events.extend(conn.events())
    return events


def big_head(size: int) -> bytes:
    line = b"X-Filler: " + b"v" * 90 + b"\r\n"
    head = b"GET / HTTP/1.1\r\nHost: x\r\n"
    head += line * ((size - len(head) - 2) // len(line))
    return head + b"\r\n"


def test_a_64k_head_one_byte_at_a_time_is_linear() -> None:
    data = big_head(LIMITS.max_head_size - 100)
    assert len(data) > 60_000
    conn = sansio.Connection(sansio.SERVER, limits=sansio.Limits(max_header_count=1000))
    events = drip(conn, data)
    assert type(events[0]) is sansio.Request
    # Each one-byte read rescans only the few bytes a terminator could straddle.
    assert scanned(conn) <= 16 * len(data)


def test_work_grows_in_proportion_to_the_input() -> None:
    limits = sansio.Limits(max_header_count=10_000, max_head_size=1 << 20)
    counts = []
    for size in (16_000, 64_000):
        conn = sansio.Connection(sansio.SERVER, limits=limits)
        drip(conn, big_head(size))
        counts.append(scanned(conn))
    assert counts[1] <= 4.5 * counts[0]


def test_a_1mib_chunked_body_one_byte_at_a_time_is_linear() -> None:
    chunk = b"z" * 4096
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(chunk), chunk) for _ in range(256))
    data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    data += b"0\r\nX-Checksum: t\r\n\r\n"
    conn = sansio.Connection(sansio.SERVER)
    events = drip(conn, data)
    total = sum(len(e.data) for e in events if type(e) is sansio.Data)
    assert total == 1 << 20
    assert events[-1] == sansio.EndOfMessage(((b"x-checksum", b"t"),))
    assert scanned(conn) <= 4 * len(data)


def test_pipelined_requests_in_one_buffer_are_linear() -> None:
    one = b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n"
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(one * 2000)
    for _ in range(2000):
        assert type(conn.next_event()) is sansio.Request
        conn.next_event()
        conn.send(sansio.Response(204))
        conn.send(sansio.EndOfMessage())
        conn.start_next_cycle()
    assert scanned(conn) <= 3 * len(one) * 2000
