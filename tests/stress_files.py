"""The stress scenarios of issue 14's "files" half: the loop never blocks on the file
system or the logs, and idle connections make room at the cap.

- ``fifo-swap``: a file swapped for a FIFO and back, again and again, while clients ask
  for it: every request answered, another client served throughout;
- ``listing``: a 100,000-entry directory listed by clients that read as fast as they
  can (another client's longest wait) and by clients that never read (memory);
- ``idle-reclaim``: ``--max-connections 50`` held by 50 idle kept-alive clients: new
  clients are served at once, the one idle longest closed for each;
- ``stuck-log``: standard error a pipe nobody reads: serving goes on, lines beyond
  the writer's bound are dropped, counted and reported once the reader is back.

Each scenario measures the loop's longest stall with a paced probe (``PacedProber``:
one GET every 10 ms on one kept-alive connection, each timed from when it was due).
They are registered in ``stress_scenarios.SCENARIOS``; ``bench/stress.py`` prints
them with the others, ``tests/test_stress.py`` runs them short.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from driver.listing import MAX_LISTING_ENTRIES

from stress_harness import (
    MiB,
    PacedProber,
    RssSampler,
    StuckStderrServer,
    connect,
    percentile,
    read_response,
    stress_server,
)
from stress_scenarios import Row, Scale, Scenario, _docroot, _mib, _trigger_args

PROBE_INTERVAL = 0.01
STALL_TARGET_MS = 20.0
"""The longest another client may wait while listings are produced (issue 14)."""


def _stall_row(name: str, what: str, latencies: list[float]) -> Row:
    worst = max(latencies, default=0.0)
    return Row(
        name,
        f"the loop's longest stall <= {STALL_TARGET_MS:g} ms ({what})",
        f"max {worst:.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms ({len(latencies):,} probes)",
        bool(latencies) and worst <= STALL_TARGET_MS,
        timing=True,
    )


def _answered_row(name: str, latencies: list[float]) -> Row:
    failures = sum(1 for ms in latencies if ms >= 10_000.0)
    return Row(
        name,
        "another client always answered",
        f"{len(latencies) - failures:,}/{len(latencies):,}",
        bool(latencies) and failures == 0,
    )


def _get_status(port: int, path: bytes, timeout: float = 2.0) -> int:
    """One HTTP/1.0 GET: its status, or 0 if it got no answer within ``timeout``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"GET " + path + b" HTTP/1.0\r\n\r\n")
            head = sock.recv(64)
    except OSError:
        return 0
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
    return int(match.group(1)) if match else 0


# -- a FIFO swapped in for a file -----------------------------------------------------------

# argv: the target and a spare name beside it. Prints the swaps made once SIGTERMed.
_SWAPPER = """
import os, signal, sys
target, spare = sys.argv[1], sys.argv[2]
swaps = 0
def stop(signum, frame):
    print(swaps)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    try:
        with open(spare, "wb") as f:
            f.write(b"a regular file\\n")
        os.replace(spare, target)
        os.mkfifo(spare)
        os.replace(spare, target)
        swaps += 1
    except OSError:
        pass
"""


def fifo_swap(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """A file swapped for a FIFO and back while clients GET it (the FIFO used to be
    opened without O_NONBLOCK: the server stopped, 4 runs of 4, after 30-42 requests)."""
    name = "FIFO swap" if scale.full else "FIFO swap (short)"
    count = scale.n(5000, 300)
    root = workdir / "fifo-root"
    root.mkdir(exist_ok=True)
    target = root / "swap.txt"
    spare = root / "spare"
    with contextlib.suppress(FileNotFoundError):
        spare.unlink()  # a FIFO, perhaps, from a run before: writing it would block
    spare.write_bytes(b"a regular file\n")
    os.replace(spare, target)
    (root / "small.txt").write_bytes(b"small\n")
    # In a process of its own: this one's GIL would slow it to a few hundred swaps a
    # second, and the race (a swap between the server's look and its open) with it.
    swapper = subprocess.Popen(
        [sys.executable, "-c", _SWAPPER, str(target), str(spare)],
        stdout=subprocess.PIPE,
        text=True,
    )
    statuses: dict[int, int] = {}
    args = [str(root), "--no-access-log", *_trigger_args(trigger)]
    with stress_server(args) as server:
        try:
            seconds = max(2.0, count / 500)
            prober = PacedProber(server.port, "/small.txt", seconds, PROBE_INTERVAL)
            deadline = time.monotonic() + seconds + 30
            for _ in range(count):
                status = _get_status(server.port, b"/swap.txt")
                statuses[status] = statuses.get(status, 0) + 1
                if time.monotonic() > deadline:
                    break
            latencies = prober.result()
        finally:
            swapper.send_signal(signal.SIGTERM)
            swaps = int(swapper.communicate(timeout=10)[0] or 0)
            with contextlib.suppress(OSError):  # a server blocked in open() returns
                os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
        tracebacks = server.tracebacks()
    answered = sum(n for status, n in statuses.items() if status in (200, 404))
    return [
        Row(
            name,
            "every request answered (200, or 404 while it is a FIFO)",
            f"{answered:,}/{count:,} ({statuses.get(200, 0):,} x 200, "
            f"{statuses.get(404, 0):,} x 404; {swaps:,} swaps); {tracebacks} tracebacks",
            answered == count and set(statuses) <= {200, 404} and tracebacks == 0,
        ),
        _answered_row(name, latencies),
        _stall_row(name, "while the file is swapped", latencies),
    ]


# -- a 100,000-entry listing ------------------------------------------------------------------


def _big_directory(workdir: Path, entries: int) -> Path:
    directory = workdir / f"listing-{entries}"
    if not directory.exists():
        building = workdir / f"listing-{entries}.part"
        building.mkdir(exist_ok=True)
        for i in range(entries):
            os.close(os.open(building / f"entry-{i:06d}.txt", os.O_CREAT | os.O_WRONLY, 0o644))
        building.rename(directory)
    return directory


async def _hold_unread(port: int, path: bytes, clients: int) -> list[asyncio.StreamWriter]:
    """``clients`` connections that ask for ``path`` and never read the answer (a
    receive buffer of 4 KiB: the server's output queue fills at once)."""
    writers = []
    for _ in range(clients):
        _reader, writer = await connect(port, rcvbuf=4096)
        writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: stress\r\n\r\n")
        await writer.drain()
        writers.append(writer)
    return writers


def listing(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """A 100,000-entry directory: listed at full speed by 4 clients while another is
    probed; then asked for by 10 clients that never read."""
    name = "Listing" if scale.full else "Listing (short)"
    entries = scale.n(100_000, 5_000)
    readers, holders = 4, scale.n(10, 4)
    seconds = 6.0 if scale.full else 3.0
    (workdir / "stress_files_probe.txt").write_bytes(b"probe\n")
    directory = _big_directory(workdir, entries)
    args = [str(workdir), "--no-access-log", *_trigger_args(trigger)]
    if entries > MAX_LISTING_ENTRIES:
        args += ["--max-listing-entries", str(entries)]  # all of them, to the end
    path = f"/{directory.name}/"
    with stress_server(args) as server:
        url = server.url(path)
        fetch = f"curl -s -o /dev/null -w '%{{size_download}}\\n' {url}"
        first = subprocess.run(["sh", "-c", fetch], capture_output=True, text=True, timeout=60)
        size = int(first.stdout.strip() or 0)
        complete = subprocess.run(
            ["curl", "-s", url], capture_output=True, timeout=60
        ).stdout.count(b"<li>")
        time.sleep(0.3)
        prober = PacedProber(server.port, "/stress_files_probe.txt", seconds, PROBE_INTERVAL)
        loop = f"while :; do {fetch}; done"
        loops = subprocess.Popen(
            ["sh", "-c", " & ".join([loop] * readers) + "; wait"],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            during = prober.result()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(loops.pid, signal.SIGKILL)
            out, _ = loops.communicate(timeout=10)
        listed = [int(n) for n in out.split() if n.isdigit()]
        whole = sum(1 for n in listed if n == size)
        server.settle(0.5)
        base = server.rss_kib
        held_probe = PacedProber(server.port, "/stress_files_probe.txt", 3.0, PROBE_INTERVAL)

        async def hold() -> None:
            writers = await _hold_unread(server.port, path.encode(), holders)
            await asyncio.sleep(2.5)
            for writer in writers:
                writer.transport.abort()

        with RssSampler([server.pid]) as sampler:
            asyncio.run(hold())
        held = held_probe.result()
        growth = sampler.peak_kib - base
    return [
        Row(
            name,
            f"the whole listing ({entries:,} entries) arrives",
            f"{complete:,} entries, {size / MiB:.1f} MiB; "
            f"{whole}/{len(listed)} listings during the probe whole",
            complete == entries and bool(listed) and whole >= len(listed) - readers,
        ),
        _answered_row(name, during + held),
        _stall_row(name, f"{readers} clients listing at full speed", during),
        Row(
            name,
            f"{holders} clients that ask for it and never read: growth <= 16 MiB",
            f"+{_mib(growth)}",
            growth <= 16 * 1024,
        ),
    ]


# -- idle connections make room at the cap ------------------------------------------------


def idle_reclaim(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """``--max-connections 50`` held by 50 idle kept-alive clients; new clients come
    one after another (and stay), each one served at once."""
    name = "Idle reclaim" if scale.full else "Idle reclaim (short)"
    cap = 50
    newcomers = scale.n(200, 20)
    root = _docroot(workdir)
    args = [str(root), "--max-connections", str(cap), "--keepalive-timeout", "300"]
    args += ["--no-access-log", *_trigger_args(trigger)]
    request = b"GET /small.txt HTTP/1.1\r\nHost: stress\r\n\r\n"

    async def scenario(port: int) -> tuple[list[float], int, int]:
        clients = []
        for _ in range(cap):
            reader, writer = await connect(port)
            writer.write(request)
            await read_response(reader)
            clients.append((reader, writer))
        await asyncio.sleep(0.2)
        waits = []
        oldest_first = 0
        for index in range(newcomers):
            start = time.perf_counter()
            reader, writer = await connect(port)
            writer.write(request)
            try:
                response = await asyncio.wait_for(read_response(reader), 5.0)
                ok = response.status == 200
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                ok = False
            waits.append((time.perf_counter() - start) * 1000 if ok else 10_000.0)
            if waits.count(10_000.0) >= 3:
                break  # no room is made: no use waiting 5 s for each of the rest
            # The one idle longest is the one that went (the cap is full again).
            old_reader, _ = clients[index]
            with contextlib.suppress(TimeoutError, OSError):
                if await asyncio.wait_for(old_reader.read(1), 2.0) == b"":
                    oldest_first += 1
            clients.append((reader, writer))

        async def open_still(reader: asyncio.StreamReader) -> bool:
            try:
                await asyncio.wait_for(reader.read(1), 0.2)
            except TimeoutError:
                return True  # nothing, not even an EOF: still kept alive
            except OSError:
                return False
            return False

        last = clients[newcomers:]
        still = sum(await asyncio.gather(*(open_still(reader) for reader, _ in last)))
        for _reader, writer in clients:
            writer.close()
        return waits, oldest_first, still

    with stress_server(args) as server:
        waits, oldest_first, still = asyncio.run(scenario(server.port))
        tracebacks = server.tracebacks()
    served = sum(1 for ms in waits if ms < 10_000.0)
    worst = max(waits, default=0.0)
    return [
        Row(
            name,
            f"{newcomers} new clients at a full cap of {cap} idle ones: all served",
            f"{served}/{newcomers}; {tracebacks} tracebacks",
            served == newcomers and tracebacks == 0,
        ),
        Row(
            name,
            "the connection idle longest makes room, each time",
            f"{oldest_first}/{newcomers} (and {still} of the {cap} last left open)",
            oldest_first == newcomers and still == cap,
        ),
        Row(
            name,
            "a new client is served <= 100 ms",
            f"max {worst:.1f} ms, median {percentile(waits, 0.5):.1f} ms",
            bool(waits) and worst <= 100.0,
            timing=True,
        ),
    ]


# -- a stuck reader of the logs ---------------------------------------------------------------


def stuck_log(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """Standard error (access and error log) a pipe nobody reads while clients are
    served: nobody waits for it; what does not fit is dropped, counted, reported."""
    name = "Stuck log reader" if scale.full else "Stuck log reader (short)"
    count = scale.n(20_000, 1_500)
    root = _docroot(workdir)
    server = StuckStderrServer([str(root), *_trigger_args(trigger)])
    statuses: dict[int, int] = {}
    try:
        prober = PacedProber(server.port, "/index.html", max(2.0, count / 1500), PROBE_INTERVAL)
        for _ in range(count):
            status = _get_status(server.port, b"/small.txt")
            statuses[status] = statuses.get(status, 0) + 1
            if statuses.get(0, 0) >= 3:
                break  # the server has stopped: no use waiting 2 s for each of the rest
        latencies = prober.result()
        server.unstick()
        time.sleep(1.0)
    finally:
        code, log = server.stop()
    logged = log.count('"GET /small.txt HTTP/1.0" 200')
    dropped = sum(int(n) for n in re.findall(r"(\d+) log lines dropped", log))
    return [
        Row(
            name,
            f"{count:,} requests with standard error stuck: all answered",
            f"{statuses.get(200, 0):,}/{count:,}",
            statuses.get(200, 0) == count,
        ),
        _answered_row(name, latencies),
        Row(
            name,
            "every line written or dropped and counted, the count reported",
            f"{logged:,} written + {dropped:,} reported dropped (of {count:,}; "
            f"probes' lines beside); exit {code}",
            logged + dropped >= count and code == 0,
        ),
        _stall_row(name, "standard error stuck", latencies),
    ]


SCENARIOS: dict[str, tuple[Scenario, tuple[str, ...]]] = {
    "fifo-swap": (fifo_swap, ("level", "edge")),
    "listing": (listing, ("level",)),
    "idle-reclaim": (idle_reclaim, ("level", "edge")),
    "stuck-log": (stuck_log, ("level",)),
}
"""The scenarios of this module and the trigger modes each runs in."""
