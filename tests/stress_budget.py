"""The stress scenarios of issue 14's memory budget: every connection lives within it.

- ``budget-uploads``: concurrent 16 MiB uploads to ``--hello`` and POSTs of 16 MiB to a
  static path: applications that take no body, so it is discarded, never stored. Each
  client reads its answer while it sends, as curl does, and stops sending once it has
  it (the server answers at the head and closes past its discard bound).
- ``budget-items``: iterable bodies of many small items, from a native simple app and
  from a WSGI app on threads (its iterable and its ``write()`` callable): the server's
  growth while four clients fetch 1,000,000 one-byte items each, the payload rate of
  16-byte items, and the README's ``/report.csv`` against its generator's own speed.

Registered in ``stress_scenarios.SCENARIOS``; rows and targets as there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from stress_budget_app import report_rows

from stress_harness import MiB, RssSampler, StressServer, connect, script_server, stress_server

if TYPE_CHECKING:
    from stress_scenarios import Row, Scale

# stress_scenarios imports this module to register its scenarios: what is needed of it
# is imported when a scenario runs, never while this module loads.
STRESS_DIR = Path(__file__).resolve().parent
BUDGET_APP = STRESS_DIR / "stress_budget_app.py"


# -- uploads an application will not keep ---------------------------------------------------


async def _early_upload(port: int, path: bytes, size: int) -> int:
    """POST ``size`` bytes to ``path`` while reading the answer; stop sending once it has
    come. Returns its status (0: none)."""
    reader, writer = await connect(port)
    writer.write(b"POST %s HTTP/1.1\r\nHost: s\r\nContent-Length: %d\r\n\r\n" % (path, size))
    block = b"u" * (256 * 1024)

    async def send() -> None:
        sent = 0
        with contextlib.suppress(OSError):
            while sent < size:
                writer.write(block[: size - sent])
                sent += len(block)
                await writer.drain()

    sender = asyncio.create_task(send())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        return int(head.split(b" ", 2)[1])
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        return 0
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await sender
        writer.close()


def _upload_rows(
    name: str, server: StressServer, path: bytes, status: int, count: int
) -> list[Row]:
    from stress_scenarios import Row, _mib

    size = 16 * MiB

    async def uploads(n: int) -> list[int]:
        return await asyncio.gather(*(_early_upload(server.port, path, size) for _ in range(n)))

    asyncio.run(uploads(8))  # warm up: the interpreter's pools at their working size
    time.sleep(1.5)  # free memory goes back to the system at most once a second
    base = server.rss_kib
    with RssSampler([server.pid]) as sampler:
        statuses = asyncio.run(uploads(count))
    time.sleep(1.5)
    after = server.rss_kib
    answered = statuses.count(status)
    return [
        Row(
            name,
            f"{count} x 16 MiB POSTs answered {status} at the head",
            f"{answered}/{count}",
            answered == count,
        ),
        Row(
            name,
            "peak RSS growth <= 64 MiB",
            f"+{_mib(sampler.peak_kib - base)}",
            sampler.peak_kib - base <= 64 * 1024,
        ),
        Row(name, "RSS back within 8 MiB after", f"+{_mib(after - base)}", after - base <= 8192),
    ]


def uploads(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    from stress_scenarios import _docroot, _trigger_args

    count = scale.n(200, 12)
    suffix = "" if scale.full else f" (short: {count})"
    rows: list[Row] = []
    with stress_server(["--hello", "--no-access-log", *_trigger_args(trigger)]) as server:
        rows += _upload_rows("Uploads to --hello" + suffix, server, b"/", 200, count)
    root = str(_docroot(workdir))
    with stress_server([root, "--no-access-log", *_trigger_args(trigger)]) as server:
        rows += _upload_rows("POSTs to a static file" + suffix, server, b"/small.txt", 405, count)
    return rows


# -- many small items -------------------------------------------------------------------------


async def _fetch(port: int, path: bytes) -> tuple[int, float]:
    """GET ``path`` (HTTP/1.0: the body ends at the close); (body bytes, seconds), or
    (-1, 0) if the body did not come whole."""
    reader, writer = await connect(port, limit=4 * MiB)
    start = time.perf_counter()
    writer.write(b"GET %s HTTP/1.0\r\n\r\n" % path)
    length = 0
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        while data := await reader.read(1 << 20):
            length += len(data)
    except (OSError, asyncio.IncompleteReadError):
        return -1, 0.0  # reset or cut short: counted as incomplete, not a crash
    finally:
        writer.close()
    if not head.startswith(b"HTTP/1.0 200 "):
        return -1, 0.0
    return length, time.perf_counter() - start


def _fetch_all(port: int, path: bytes, clients: int) -> list[tuple[int, float]]:
    async def everyone() -> list[tuple[int, float]]:
        return await asyncio.gather(*(_fetch(port, path) for _ in range(clients)))

    return asyncio.run(everyone())


def _generator_rate(rows: int) -> float:
    """Bytes per second of the README's generator alone: the floor of any server."""
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        size = 0
        for row in report_rows(rows):
            size += len(row)
        best = max(best, size / (time.perf_counter() - start))
    return best


def _item_rows(
    name: str, server: StressServer, item_path: bytes, count: int, report: int, rate_target: bool
) -> list[Row]:
    from stress_scenarios import Row, _mib

    one_byte = b"%s?%d&1" % (item_path, count)
    _fetch_all(server.port, one_byte, 4)  # warm up
    time.sleep(1.5)
    base = server.rss_kib
    with RssSampler([server.pid], interval=0.005) as sampler:
        got = _fetch_all(server.port, one_byte, 4)
    growth = sampler.peak_kib - base
    complete = sum(1 for length, _ in got if length == count)
    sixteen = 2 * count
    [(length, seconds)] = _fetch_all(server.port, b"%s?%d&16" % (item_path, sixteen), 1)
    rate = length / seconds / 1e6 if seconds else 0.0
    rows = [
        Row(
            name,
            f"4 clients x {count:,} one-byte items: growth <= 4 MiB",
            f"+{_mib(growth)} ({complete}/4 complete)"
            + ("" if rate_target else f"; 16-byte pieces at {rate:.0f} MB/s"),
            growth <= 4096 and complete == 4 and length == 16 * sixteen,
        )
    ]
    if rate_target:
        rows.append(
            Row(
                name,
                f"{sixteen:,} 16-byte items >= 40 MB/s of payload",
                f"{rate:.0f} MB/s" + ("" if length == 16 * sixteen else f" (got {length} bytes)"),
                rate >= 40 and length == 16 * sixteen,
                timing=True,
            )
        )
    if report:
        floor = _generator_rate(report) / 1e6
        [(length, seconds)] = _fetch_all(server.port, b"/report.csv?%d" % report, 1)
        rate = length / seconds / 1e6 if seconds else 0.0
        rows.append(
            Row(
                name,
                f"/report.csv ({report:,} rows) >= 50% of its generator's speed",
                f"{rate / floor:.0%} ({rate:.0f} MB/s, the generator alone {floor:.0f} MB/s)",
                rate >= 0.5 * floor,
                timing=True,
            )
        )
    return rows


def items(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    from stress_scenarios import _trigger_args

    count = scale.n(1_000_000, 100_000)
    report = scale.n(1_000_000, 100_000)
    suffix = "" if scale.full else " (short)"
    rows: list[Row] = []
    servers: list[tuple[str, Callable[[], contextlib.AbstractContextManager[StressServer]]]] = [
        ("Native iterable", lambda: script_server(BUDGET_APP, _trigger_args(trigger))),
        (
            "WSGI iterable (4 threads)",
            lambda: stress_server(
                ["--wsgi", "stress_budget_app:wsgi", "--no-access-log", *_trigger_args(trigger)],
                cwd=STRESS_DIR,
            ),
        ),
    ]
    for label, start in servers:
        with start() as server:
            if label.startswith("WSGI"):
                # The README's /report.csv is the native example; a thread adds a GIL
                # hand-over per batch, so the WSGI figure is not held to it.
                rows += _item_rows(label + suffix, server, b"/items", count, 0, True)
                name = "WSGI write() (4 threads)" + suffix
                rows += _item_rows(name, server, b"/write-items", count, 0, False)
            else:
                rows += _item_rows(label + suffix, server, b"/items", count, report, True)
    return rows


SCENARIOS = {
    "budget-uploads": (uploads, ("level",)),
    "budget-items": (items, ("level",)),
}
"""Registered in ``stress_scenarios.SCENARIOS``."""
