"""``wsgi.input`` against a feeder that honours pause/resume as the loop does: reads of
any size, larger than the buffer's high-water mark included, finish and return exactly
what was sent."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from driver.wsgi.input import WSGIInput

HIGH_WATER = 64 * 1024
PIECE = 16 * 1024


def feed_in_background(body: bytes) -> tuple[WSGIInput, threading.Thread, list[str]]:
    """A WSGIInput and a thread feeding it ``body`` in pieces, only while reading is on
    (as the loop stops reading a paused socket); ``problems`` collects a stuck feeder."""
    reading = threading.Event()
    reading.set()
    wsgi_input = WSGIInput(reading.clear, reading.set, high_water=HIGH_WATER)
    problems: list[str] = []

    def feeder() -> None:
        for start in range(0, len(body), PIECE):
            if not reading.wait(5):
                problems.append(f"reading stayed paused after {start} bytes")
                wsgi_input.abort()
                return
            wsgi_input.feed(body[start : start + PIECE])
        wsgi_input.feed_eof()

    thread = threading.Thread(target=feeder, daemon=True)
    thread.start()
    return wsgi_input, thread, problems


READS: dict[str, Callable[[WSGIInput, int], bytes]] = {
    "read()": lambda stream, size: stream.read(),
    "read(size)": lambda stream, size: stream.read(size),
    "read(None)": lambda stream, size: stream.read(None),
    "readline() of one long line": lambda stream, size: stream.readline(),
    "readlines()": lambda stream, size: b"".join(stream.readlines()),
    "read(size + 1)": lambda stream, size: stream.read(size + 1),
}


@pytest.mark.parametrize("how", list(READS))
def test_one_read_larger_than_the_high_water_mark_finishes(how: str) -> None:
    body = bytes(range(256)) * (16 * HIGH_WATER // 256)  # 16x the mark, no newline in runs
    body = body.replace(b"\n", b"-")
    wsgi_input, thread, problems = feed_in_background(body)
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(READS[how](wsgi_input, len(body))))
    reader.start()
    reader.join(10)
    thread.join(10)
    assert not problems
    assert result == [body]
