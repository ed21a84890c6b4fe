"""The stress scenarios of issue 11, each a function usable at any size.

``bench/stress.py`` runs them at full size and prints one table; ``tests/test_stress.py``
runs short versions (fewer connections, shorter timeouts, the same invariants) in CI
and the full ones under the ``stress`` marker. Each scenario starts its own server(s),
drives them from this process (asyncio, threads) and from wrk, and returns ``Row``s:
one per target, with the figure measured and whether it was met. A row marked
``timing`` depends on the machine's speed (throughput ratios, latency percentiles):
the tests never assert those, only the invariants (statuses, closes, descriptors,
memory, log lines).

Sizes come from ``Scale``: ``scale.n(full, least)`` is a count at full size times the
factor, never below ``least``; durations and timeouts are chosen per scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import signal
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import hypothesis
from hypothesis.strategies import SearchStrategy

import sansio
from sansio.strategies import hostile_requests, requests

from stress_harness import (
    MiB,
    Prober,
    RssSampler,
    WrkInBackground,
    children,
    closed_by_peer,
    connect,
    cpu_seconds,
    percentile,
    raise_fd_limit,
    read_response,
    reset,
    reset_socket,
    run_wrk,
    sparse_file,
    stress_server,
)

T = TypeVar("T")
STRESS_DIR = Path(__file__).resolve().parent  # holds stress_wsgi_app.py
FUZZ_CORPUS = STRESS_DIR.parent / "fuzz" / "corpus" / "requests"


@dataclass(frozen=True)
class Row:
    scenario: str
    target: str
    figure: str
    met: bool
    timing: bool = False
    """Depends on the machine's speed: reported, never asserted by a test."""


@dataclass(frozen=True)
class Scale:
    factor: float = 1.0

    @property
    def full(self) -> bool:
        return self.factor >= 1.0

    def n(self, full: int, least: int) -> int:
        return max(least, round(full * self.factor))


def _docroot(workdir: Path) -> Path:
    """Files the static scenarios serve (big ones sparse: they cost no disk)."""
    root = workdir / "docroot"
    if not root.exists():
        (root / "sub").mkdir(parents=True)
        (root / "small.txt").write_bytes(b"hello from h10\n")
        (root / "sub" / "data.json").write_bytes(b'{"ok": true}\n')
        (root / "index.html").write_bytes(b"<!DOCTYPE html><title>h10</title>\n")
        # Above the size a server may read into memory: sent from an open descriptor.
        (root / "medium.bin").write_bytes(os.urandom(80 * 1024))
        (root / "big32.bin").write_bytes(os.urandom(32 * MiB))
        sparse_file(root / "big100.bin", 100 * MiB)
        sparse_file(root / "big1g.bin", 1024 * MiB)
    return root


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def _trigger_args(trigger: str) -> list[str]:
    return ["--edge-triggered"] if trigger == "edge" else []


def _ratio_row(scenario: str, target: str, alone: float, beside: float, least: float) -> Row:
    ratio = beside / alone if alone else 0.0
    return Row(
        scenario,
        target,
        f"{ratio:.0%} ({beside:,.0f} vs {alone:,.0f} rps alone, before and after)",
        ratio >= least,
        timing=True,
    )


GET_SMALL = b"GET /small.txt HTTP/1.1\r\nHost: stress\r\n\r\n"


async def _get(port: int, path: bytes, timeout: float = 10.0) -> int:
    """Status of one GET on a fresh connection (0 if it failed)."""
    try:
        reader, writer = await asyncio.wait_for(connect(port), timeout)
        writer.write(b"GET %s HTTP/1.0\r\n\r\n" % path)
        response = await asyncio.wait_for(read_response(reader), timeout)
        writer.close()
        return response.status
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
        return 0


# -- C10K ------------------------------------------------------------------------------


def c10k(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """N idle keep-alive connections, each served once, then closed by the server at the
    idle timeout; RSS per connection; wrk beside them."""
    name = "C10K" if scale.full else f"C10K (short: {scale.n(10_000, 200)})"
    count = scale.n(10_000, 200)
    raise_fd_limit(count * 2 + 1000)
    wrk_seconds = 3 if scale.full else 1
    idle = round(6.0 + count / 1500 + wrk_seconds if scale.full else 3.0 + wrk_seconds, 1)
    args = [
        "--hello",
        "--no-access-log",
        "--max-connections",
        str(count + 200),
        "--keepalive-timeout",
        str(idle),
        *_trigger_args(trigger),
    ]
    with stress_server(args) as server:
        alone = run_wrk(server.url(), connections=20, duration=wrk_seconds)
        server.wait_fds(0, 1.0)  # wrk's connections close
        time.sleep(0.5)
        base_rss = server.rss_kib

        async def crowd() -> tuple[int, float, list[float], list[float], object]:
            gate = asyncio.Semaphore(256)
            served: list[float] = []
            closed: list[float] = []
            opened = asyncio.Event()
            remaining = [count]

            def counted() -> None:
                remaining[0] -= 1
                if not remaining[0]:
                    opened.set()

            async def one() -> None:
                try:
                    async with gate:
                        reader, writer = await connect(server.port, limit=4096)
                        writer.write(GET_SMALL)
                        response = await read_response(reader)
                finally:
                    counted()
                answered = time.monotonic()
                if response.status == 200 and response.keep_alive:
                    served.append(answered)
                try:
                    if await asyncio.wait_for(reader.read(1), idle + 15) == b"":
                        closed.append(time.monotonic() - answered)
                except (OSError, TimeoutError):
                    pass
                finally:
                    writer.close()

            async def guarded() -> None:
                with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
                    await one()

            tasks = [asyncio.create_task(guarded()) for _ in range(count)]
            start = time.monotonic()
            await asyncio.wait_for(opened.wait(), 120)
            open_seconds = time.monotonic() - start
            await asyncio.sleep(0.3)
            rss = server.rss_kib
            beside = await asyncio.to_thread(
                run_wrk, server.url(), connections=20, duration=wrk_seconds
            )
            await asyncio.gather(*tasks)
            return rss, open_seconds, served, closed, beside

        rss, open_seconds, served, closed, beside = asyncio.run(crowd())
        # Alone again once the crowd is gone: the machine's drift counts on both sides.
        after = run_wrk(server.url(), connections=20, duration=wrk_seconds)
    per_conn = (rss - base_rss) / count
    assert isinstance(beside, type(alone))
    alone_rps = (alone.rps + after.rps) / 2
    in_time = [d for d in closed if idle - 1.0 <= d <= idle + 5.0]
    return [
        Row(
            name,
            f"{count:,} keep-alive connections each served",
            f"{len(served):,}",
            len(served) == count,
        ),
        Row(
            name,
            "RSS per connection <= 4 KiB",
            f"{per_conn:.2f} KiB ({_mib(base_rss)} -> {_mib(rss)}, opened in {open_seconds:.1f} s)",
            per_conn <= 4.0,
        ),
        _ratio_row(name, "wrk beside keeps >= 80%", alone_rps, beside.rps, 0.8),
        Row(
            name,
            f"closed at the idle timeout ({idle:g} s)",
            f"{len(in_time):,}/{count:,}",
            len(in_time) == count,
        ),
    ]


# -- slow clients -------------------------------------------------------------------------


def slow_clients(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """Slowloris (a byte a second) and silent connections get 408 at the header
    deadline while wrk keeps its throughput."""
    count = scale.n(1000, 60)
    name = "Slow clients" if scale.full else f"Slow clients (short: {count})"
    raise_fd_limit(count * 2 + 1000)
    deadline = 6.0 if scale.full else 3.0
    wrk_seconds = 3 if scale.full else 1
    args = [
        str(_docroot(workdir)),
        "--no-access-log",
        "--header-timeout",
        str(deadline),
        "--max-connections",
        str(count + 200),
        *_trigger_args(trigger),
    ]
    with stress_server(args) as server:
        url = server.url("/small.txt")
        alone = run_wrk(url, connections=20, duration=wrk_seconds)

        async def slowloris() -> tuple[list[tuple[int, float]], object]:
            results: list[tuple[int, float]] = []
            head = b"GET /small.txt HTTP/1.1\r\nHost: stress\r\nX-Slow: " + b"s" * 1000
            connected = [0]
            all_in = asyncio.Event()

            async def one(index: int) -> None:
                status, elapsed = 0, 0.0
                try:
                    reader, writer = await connect(server.port, limit=4096)
                except OSError:
                    results.append((0, 0.0))
                    return
                finally:
                    connected[0] += 1
                    if connected[0] == count:
                        all_in.set()
                start = time.monotonic()
                if index % 2:

                    async def drip() -> None:
                        for byte in head:
                            writer.write(bytes([byte]))
                            await asyncio.sleep(1.0)

                    dripper = asyncio.create_task(drip())
                else:
                    dripper = None
                try:
                    response = await asyncio.wait_for(read_response(reader), deadline + 10)
                    status = response.status
                    elapsed = time.monotonic() - start
                    if not await closed_by_peer(reader, 3.0):
                        status = -status
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                    pass
                finally:
                    if dripper is not None:
                        dripper.cancel()
                    writer.close()
                results.append((status, elapsed))

            tasks = [asyncio.create_task(one(i)) for i in range(count)]
            # wrk measures the server beside them, not the connection storm.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_in.wait(), deadline / 2)
            beside = await asyncio.to_thread(run_wrk, url, connections=20, duration=wrk_seconds)
            await asyncio.gather(*tasks)
            return results, beside

        results, beside = asyncio.run(slowloris())
        # Alone again once they are gone: the machine's drift counts on both sides.
        after = run_wrk(url, connections=20, duration=wrk_seconds)
    assert isinstance(beside, type(alone))
    alone_rps = (alone.rps + after.rps) / 2
    on_time = [e for s, e in results if s == 408 and deadline - 0.3 <= e <= deadline + 1.5]
    return [
        Row(
            name,
            f"{count:,} slow/silent get 408 and a close at the {deadline:g} s deadline",
            f"{len(on_time):,}/{count:,}",
            len(on_time) == count,
        ),
        _ratio_row(name, "wrk beside keeps >= 80%", alone_rps, beside.rps, 0.8),
        Row(
            name,
            "wrk beside sees no errors",
            f"{beside.errors + beside.connect_errors} errors",
            beside.errors + beside.connect_errors == 0,
        ),
    ]


# -- bad-input storm ------------------------------------------------------------------------

STORM_MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class StormItem:
    wire: bytes
    statuses: tuple[int, ...]
    """200 per valid request it holds; the one error status for a hostile one."""
    heads: tuple[bool, ...]
    """Per expected response: whether it has no body (a HEAD request)."""
    keep_alive: bool
    """Valid: the connection stays open afterwards. Hostile: always False."""
    eof: bool = False
    """Send EOF (shutdown) after the bytes."""
    early: bool = False
    """Hostile, but the core yields a request head before refusing: a server whose app
    does not read bodies (``--hello``) may answer that head with 200 before the fault
    arrives, as nginx does; the connection must still be closed after it."""

    @property
    def hostile(self) -> bool:
        return self.statuses[0] != 200


def _collect(strategy: SearchStrategy[T], count: int, seed: int) -> list[T]:
    """``count`` examples of a Hypothesis strategy, reproducibly."""
    found: list[T] = []

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=count,
        database=None,
        phases=[hypothesis.Phase.generate],
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(strategy)
    def gather(example: T) -> None:
        found.append(example)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gather()
    return found


def _valid_item(wire: bytes) -> StormItem | None:
    """What a conforming server answers to ``wire`` (every request 200), or ``None``
    if it is not a sequence of valid requests the hello app answers."""
    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(wire)
    heads: list[bool] = []
    keep_alive = True
    while True:
        try:
            event = conn.next_event()
        except sansio.RemoteProtocolError:
            return None
        if isinstance(event, sansio.Request):
            heads.append(event.method == b"HEAD")
        elif isinstance(event, sansio.EndOfMessage):
            keep_alive = conn.keep_alive
            if not keep_alive:
                break
            conn.send(sansio.Response(200, ((b"content-length", b"0"),)))
            conn.send(sansio.EndOfMessage())
            conn.start_next_cycle()
        elif event is sansio.NEED_DATA or event is sansio.PAUSED:
            break
    if not heads or (conn.their_state is not sansio.IDLE and keep_alive):
        return None
    return StormItem(wire, (200,) * len(heads), tuple(heads), keep_alive)


StormPool = tuple[tuple[StormItem, ...], tuple[StormItem, ...]]


@functools.cache
def storm_pool(examples: int = 400) -> StormPool:
    """Valid and hostile requests: Hypothesis examples of the shared strategies plus the
    fuzz corpus (valid seeds and the smuggling seeds)."""
    valid: list[StormItem] = []
    methods = (b"GET", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"HEAD")
    for generated in _collect(requests(methods=methods), examples, 11):
        item = _valid_item(generated.wire)
        if item is not None:
            valid.append(item)
    for path in sorted((FUZZ_CORPUS / "valid").rglob("*.http")):
        item = _valid_item(path.read_bytes())
        if item is not None:
            valid.append(item)
    hostile: list[StormItem] = []
    limits = sansio.Limits(max_body_size=STORM_MAX_BODY)
    for bad in _collect(hostile_requests(limits=limits), examples, 12):
        early = _head_before_refusal(bad.wire, bad.eof, limits)
        hostile.append(StormItem(bad.wire, (bad.status_hint,), (False,), False, bad.eof, early))
    for path in sorted((FUZZ_CORPUS / "hostile").rglob("*.http")):
        parts = path.name.split(".")[1:-1]
        status = next(int(p) for p in parts if p.isdigit())
        wire, eof = path.read_bytes(), "eof" in parts
        early = _head_before_refusal(wire, eof, limits)
        hostile.append(StormItem(wire, (status,), (False,), False, eof, early))
    return tuple(valid), tuple(hostile)


def _head_before_refusal(wire: bytes, eof: bool, limits: sansio.Limits) -> bool:
    """Whether the core gives a ``Request`` for ``wire`` before it refuses it."""
    conn = sansio.Connection(sansio.SERVER, limits=limits)
    conn.receive_data(wire)
    if eof:
        conn.receive_data(b"")
    try:
        while True:
            event = conn.next_event()
            if isinstance(event, sansio.Request):
                return True
            if event is sansio.NEED_DATA or event is sansio.PAUSED:
                return False
    except sansio.RemoteProtocolError:
        return False


@dataclass
class StormTally:
    sent: int = 0
    valid: int = 0
    hostile: int = 0
    wrong: int = 0
    hangs: int = 0
    not_closed: int = 0
    examples: list[str] | None = None

    def note(self, what: str) -> None:
        if self.examples is None:
            self.examples = []
        if len(self.examples) < 5:
            self.examples.append(what)


async def _storm_clients(
    port: int, pool: StormPool, total: int, concurrency: int, seed: int, tally: StormTally
) -> None:
    valid, hostile = pool
    rng = random.Random(seed)
    budget = [total]

    def draw() -> StormItem | None:
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        return rng.choice(hostile) if rng.random() < 0.5 else rng.choice(valid)

    async def exchange(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, item: StormItem
    ) -> bool:
        """Send ``item``, check its answers; True if the connection stays usable."""
        tally.sent += len(item.statuses)
        if item.hostile:
            tally.hostile += 1
        else:
            tally.valid += len(item.statuses)
        writer.write(item.wire)
        if item.eof:
            writer.write_eof()
        try:
            for status, head_only in zip(item.statuses, item.heads):
                response = await asyncio.wait_for(read_response(reader, head_only=head_only), 10)
                if response.status != status and not (item.early and response.status == 200):
                    tally.wrong += 1
                    tally.note(f"{item.wire[:60]!r}: {response.status}, expected {status}")
                    return False
            if item.hostile and item.early and response.status == 200:
                # Answered from the head; the refusal, if the server still sends it,
                # may follow before the close.
                if not await closed_by_peer(reader, 5.0, allow=status):
                    tally.not_closed += 1
                    tally.note(f"{item.wire[:60]!r}: not closed after an early 200")
                return False
            if item.hostile or not item.keep_alive:
                if not await closed_by_peer(reader, 5.0):
                    tally.not_closed += 1
                    tally.note(f"{item.wire[:60]!r}: not closed after {item.statuses}")
                return False
            return True
        except TimeoutError:
            tally.hangs += 1
            tally.note(f"{item.wire[:60]!r}: no answer in 10 s")
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            tally.wrong += 1
            tally.note(f"{item.wire[:60]!r}: {exc!r}")
        return False

    async def fresh() -> None:
        while (item := draw()) is not None:
            reader, writer = await connect(port)
            await exchange(reader, writer, item)
            reset(writer)

    async def kept() -> None:
        while (item := draw()) is not None:
            reader, writer = await connect(port)
            while item is not None and await exchange(reader, writer, item):
                item = draw()
            reset(writer)

    workers = [fresh() if i % 2 else kept() for i in range(concurrency)]
    await asyncio.gather(*workers)


def storm(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """Valid and hostile requests mixed over fresh and kept-alive connections."""
    total = scale.n(50_000, 600)
    name = f"Bad-input storm ({trigger})" if scale.full else f"Bad-input storm ({trigger}, short)"
    # Built before the server starts; a smaller pool for a short run (the corpus seeds
    # are always in): generating examples is most of a short run's time.
    pool = storm_pool(400 if scale.full else 120)
    args = [
        "--hello",
        "--no-access-log",
        "--max-body-size",
        str(STORM_MAX_BODY),
        *_trigger_args(trigger),
    ]
    with stress_server(args) as server:
        # The baseline is taken after a first storm at the same concurrency: the
        # interpreter's free lists, pools and caches reach their working size there,
        # and what the storm itself leaves behind is what is measured.
        asyncio.run(_storm_clients(server.port, pool, max(2000, total // 5), 32, 1, StormTally()))
        server.wait_fds(0, 5.0)
        time.sleep(2.0)  # the server hands free memory back at most once a second
        base_fds = server.fds
        base_rss = server.rss_kib
        tally = StormTally()
        start = time.monotonic()
        with RssSampler([server.pid]) as sampler:
            asyncio.run(_storm_clients(server.port, pool, total, 32, 2, tally))
        seconds = time.monotonic() - start
        fds = server.wait_fds(base_fds, 5.0)
        time.sleep(2.0)  # the server hands free memory back at most once a second
        rss = server.rss_kib
        tracebacks = server.tracebacks()
    growth = rss - base_rss
    problems = tally.wrong + tally.hangs + tally.not_closed
    detail = f"; e.g. {tally.examples[0]}" if tally.examples else ""
    return [
        Row(
            name,
            f"{tally.sent:,} requests: valid 200, invalid its status and a close",
            f"{tally.wrong} wrong, {tally.hangs} hangs, {tally.not_closed} not closed "
            f"({tally.valid:,} valid, {tally.hostile:,} hostile, {seconds:.0f} s){detail}",
            problems == 0 and tracebacks == 0,
        ),
        Row(name, "fds back to baseline", f"{fds} (baseline {base_fds})", fds <= base_fds),
        Row(
            name,
            "RSS growth <= 5 MiB",
            f"{_mib(growth)} (peak +{_mib(sampler.peak_kib - base_rss)})",
            growth <= 5 * 1024,
        ),
    ]


# -- big bodies ------------------------------------------------------------------------------


def _chunked_wire_block(chunk: int, size: int) -> bytes:
    piece = b"%x\r\n" % chunk + b"u" * chunk + b"\r\n"
    return piece * (size // chunk)


async def _upload(
    port: int, kind: str, size: int, rate: float, reset_at: int | None
) -> tuple[int, int]:
    """One upload to /upload; (status, byte count the app reported) or (0, 0)."""
    reader, writer = await connect(port)
    if kind == "length":
        writer.write(b"POST /upload HTTP/1.1\r\nHost: s\r\nContent-Length: %d\r\n\r\n" % size)
        block, block_bytes = b"u" * (64 * 1024), 64 * 1024
    else:
        chunk = 64 * 1024 if kind == "chunked-64k" else 2
        writer.write(b"POST /upload HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n")
        per_block = max(1, (64 * 1024) // chunk) * chunk
        block, block_bytes = _chunked_wire_block(chunk, per_block), per_block
    sent = 0
    start = time.monotonic()
    try:
        while sent < size:
            if reset_at is not None and sent >= reset_at:
                reset(writer)
                return 0, 0
            writer.write(block)
            sent += block_bytes
            await writer.drain()
            if rate:
                ahead = sent / rate - (time.monotonic() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        if kind != "length":
            writer.write(b"0\r\n\r\n")
        response = await asyncio.wait_for(read_response(reader), 60)
        writer.close()
        return response.status, int(response.body or b"0")
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        writer.close()
        return 0, 0


def big_bodies(
    scale: Scale, workdir: Path, trigger: str = "level", *, wsgi: bool = False
) -> list[Row]:
    """Concurrent 16 MiB uploads to an app that discards the body: the native streaming
    app, or a WSGI app reading ``wsgi.input`` on the thread pool."""
    count = scale.n(200, 12)
    name = "Big bodies" + (" (WSGI)" if wsgi else "")
    if not scale.full:
        name += f" (short: {count})"
    size = 16 * MiB
    tiny_size = 4 * MiB if scale.full else 1 * MiB
    plan: list[tuple[str, int, float, int | None]] = []
    for i in range(count):
        kind = ("length", "chunked-64k", "length", "chunked-64k", "length")[i % 5]
        this_size = size
        if i % max(2, count // 2) == 1:
            kind, this_size = "chunked-2b", tiny_size  # 2-byte chunks cost ~3 µs each to parse
        rate = 8 * MiB if i % 3 == 2 else 0.0
        reset_at = this_size // 2 if i % 6 == 5 else None
        plan.append((kind, this_size, rate, reset_at))
    if wsgi:
        args = ["--wsgi", "stress_wsgi_app:app", "--no-access-log", *_trigger_args(trigger)]
        started = stress_server(args, cwd=STRESS_DIR)
    else:
        started = stress_server(["--root", str(workdir), *_trigger_args(trigger)], native=True)
    with started as server:

        async def warm_up() -> None:
            # Concurrent uploads, so that every thread of a WSGI pool (and its malloc
            # arena) exists before the baseline: a fixed cost, not growth.
            await asyncio.gather(
                *(_upload(server.port, "length", MiB, 0.0, None) for _ in range(8))
            )

        asyncio.run(warm_up())
        time.sleep(0.5)
        base_fds, base_rss = server.fds, server.rss_kib

        async def everyone() -> list[tuple[int, int]]:
            return await asyncio.gather(*(_upload(server.port, *p) for p in plan))

        with RssSampler([server.pid]) as sampler:
            results = asyncio.run(everyone())
        time.sleep(2.0)  # resets are noticed at once; nothing waits for --body-timeout
        fds_after_resets = server.fds
        time.sleep(1.0)
        rss_after = server.rss_kib
    expected = [(200, s) for _k, s, _r, at in plan if at is None]
    got = [r for r, (_k, _s, _r, at) in zip(results, plan) if at is None]
    ok = sum(1 for a, b in zip(got, expected) if a == b)
    resets = sum(1 for p in plan if p[3] is not None)
    return [
        Row(
            name,
            f"{len(expected)} uploads answered with their size ({resets} more reset halfway)",
            f"{ok}/{len(expected)}",
            ok == len(expected),
        ),
        Row(
            name,
            "RSS growth <= 64 MiB during",
            f"+{_mib(sampler.peak_kib - base_rss)}",
            sampler.peak_kib - base_rss <= 64 * 1024,
        ),
        Row(
            name,
            "RSS back within 8 MiB after",
            f"+{_mib(rss_after - base_rss)}",
            rss_after - base_rss <= 8 * 1024,
        ),
        Row(
            name,
            "reset uploads released at once (fds 2 s after)",
            f"{fds_after_resets} (baseline {base_fds})",
            fds_after_resets <= base_fds,
        ),
    ]


# -- slow readers ---------------------------------------------------------------------------------


async def _slow_read(port: int, path: bytes, rate: float, seconds: float) -> int:
    """Read ``path`` at ``rate`` bytes/s for ``seconds``; return the bytes read."""
    reader, writer = await connect(port, limit=64 * 1024, rcvbuf=64 * 1024)
    writer.write(b"GET %s HTTP/1.1\r\nHost: s\r\n\r\n" % path)
    got = 0
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            ahead = got / rate - elapsed
            if ahead > 0:
                await asyncio.sleep(min(ahead, seconds - elapsed))
                continue
            data = await asyncio.wait_for(reader.read(64 * 1024), seconds)
            if not data:
                break
            got += len(data)
    except (OSError, TimeoutError):
        pass
    reset(writer)
    return got


def slow_readers(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """Clients reading a 100 MiB file and a 200 MiB generated response at 1 MiB/s."""
    count = scale.n(20, 4)
    seconds = 10.0 if scale.full else 3.0
    name = "Slow readers" if scale.full else f"Slow readers (short: {count}, {seconds:g} s)"
    root = _docroot(workdir)
    with stress_server(["--root", str(root), *_trigger_args(trigger)], native=True) as server:
        alone = Prober(server.port, "/small.txt", min(seconds, 3.0)).result()
        time.sleep(0.3)
        base_rss = server.rss_kib

        async def readers() -> list[int]:
            jobs = [_slow_read(server.port, b"/big100.bin", MiB, seconds) for _ in range(count)]
            jobs.append(_slow_read(server.port, b"/stream?%d" % (200 * MiB), MiB, seconds))
            return await asyncio.gather(*jobs)

        with RssSampler([server.pid]) as sampler:
            prober = Prober(server.port, "/small.txt", seconds - 0.5)
            got = asyncio.run(readers())
            during = prober.result()
    floor = seconds * MiB * 0.5
    slow_ok = sum(1 for g in got if g >= floor)
    p99_alone, p99_during = percentile(alone, 0.99), percentile(during, 0.99)
    return [
        Row(
            name,
            f"{count} file readers + 1 stream reader at 1 MiB/s for {seconds:g} s",
            f"{slow_ok}/{count + 1} kept their rate",
            slow_ok == count + 1,
        ),
        Row(
            name,
            "RSS growth <= 32 MiB",
            f"+{_mib(sampler.peak_kib - base_rss)}",
            sampler.peak_kib - base_rss <= 32 * 1024,
        ),
        Row(
            name,
            "other clients' p99 <= 2x alone",
            f"{p99_during:.2f} ms vs {p99_alone:.2f} ms alone",
            p99_during <= 2 * max(p99_alone, 0.5),
            timing=True,
        ),
    ]


# -- fairness -----------------------------------------------------------------------------------


def _pipeline_burst(port: int, connections: int, depth: int) -> None:
    """``connections`` clients each pipelining ``depth`` GETs, then resetting."""
    request = b"GET /small.txt HTTP/1.1\r\nHost: s\r\n\r\n" * depth
    socks = []
    for _ in range(connections):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            continue
        with contextlib.suppress(OSError):
            sock.sendall(request)
        socks.append(sock)
    for sock in socks:
        reset_socket(sock)


def _warm(path: Path) -> None:
    """Read ``path`` once, into the page cache."""
    buffer = bytearray(1 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buffer):
            pass


def fairness(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """A full-speed 1 GiB download and a reset pipelining burst beside a small client."""
    seconds = 6.0 if scale.full else 3.0
    connections, depth = (200, 200) if scale.full else (30, 100)
    name = "Fairness" if scale.full else "Fairness (short)"
    root = _docroot(workdir)
    big = "big1g.bin" if scale.full else "big100.bin"
    # In the page cache first: the first read of a (sparse) file has the kernel fill
    # pages inside each sendfile call, up to 30 ms per MiB on this machine's ext4,
    # which measures the disk and not the loop's fairness.
    _warm(root / big)
    with stress_server([str(root), "--no-access-log", *_trigger_args(trigger)]) as server:
        alone = Prober(server.port, "/small.txt", 1.5).result()
        time.sleep(0.3)
        base_fds = server.fds
        end = time.monotonic() + seconds
        prober = Prober(server.port, "/small.txt", seconds)
        curl = subprocess.Popen(
            ["sh", "-c", f"while :; do curl -s -o /dev/null {server.url('/' + big)}; done"],
            start_new_session=True,
        )
        try:
            time.sleep(seconds / 3)
            bursts = 0
            while time.monotonic() < end - 1.0:
                _pipeline_burst(server.port, connections, depth)
                bursts += 1
                time.sleep(0.5)
            during = prober.result()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(curl.pid, signal.SIGKILL)
            curl.wait(5)
        fds = server.wait_fds(base_fds, 5.0)
    p99, worst = percentile(during, 0.99), max(during, default=0.0)
    failures = sum(1 for ms in during if ms >= 10_000.0)
    return [
        Row(
            name,
            "the other client always answered; burst connections released",
            f"{len(during) - failures:,}/{len(during):,} answered; fds {fds} (baseline {base_fds})",
            bool(during) and failures == 0 and fds <= base_fds,
        ),
        Row(
            name,
            f"p99 of another client <= 20 ms ({big} downloads + {bursts} bursts of "
            f"{connections}x{depth} reset)",
            f"p99 {p99:.1f} ms, max {worst:.0f} ms ({percentile(alone, 0.99):.1f} ms alone)",
            p99 <= 20.0,
            timing=True,
        ),
    ]


# -- descriptor exhaustion ----------------------------------------------------------------


def _count_lines(lines: Sequence[str], *needles: str) -> int:
    return sum(1 for line in lines if any(n in line for n in needles))


def fd_exhaustion(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """The server under ``ulimit -n 256``: a pipelining hog, then a connection burst."""
    name = "fd exhaustion" if scale.full else "fd exhaustion (short)"
    root = _docroot(workdir)
    rows: list[Row] = []
    # 1. One client pipelines file GETs and never reads: its share of descriptors.
    with stress_server(
        [str(root), "--no-access-log", *_trigger_args(trigger)], nofile=256
    ) as server:
        base = server.fds
        hog = socket.socket()
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.connect(("127.0.0.1", server.port))
        hog.setblocking(False)
        burst = b"GET /medium.bin HTTP/1.1\r\nHost: s\r\n\r\n" * 30_000
        sent = 0
        with contextlib.suppress(OSError):
            end = time.monotonic() + 3.0
            while sent < len(burst) and time.monotonic() < end:
                try:
                    sent += hog.send(burst[sent:])
                except BlockingIOError:
                    time.sleep(0.05)
        time.sleep(1.0)
        held = server.fds - base - 1
        statuses = asyncio.run(_statuses(server.port, [b"/small.txt", b"/medium.bin"] * 10))
        reset_socket(hog)
        rows.append(
            Row(
                name,
                "one pipelining client holds <= 32 of 256 fds",
                f"{held} fds",
                held <= 32,
            )
        )
        rows.append(
            Row(
                name,
                "others served meanwhile (20 GETs)",
                _status_summary(statuses),
                statuses.count(200) == len(statuses),
            )
        )
    # 2. More connections than descriptors: a burst, twice, on a cold server.
    args = [str(root), "--no-access-log", "--max-connections", "1000", *_trigger_args(trigger)]
    with stress_server(args, nofile=256) as server:
        existing = [
            socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(5)
        ]
        time.sleep(0.2)
        mark = server.log_mark()
        answers: list[int] = []
        cpu_used = 0.0
        recovered = []
        log_lines = []
        for burst_no in range(2):
            crowd = []
            for _ in range(300):
                try:
                    crowd.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
                except OSError:
                    break
            time.sleep(0.5)
            before = cpu_seconds(server.pid)
            time.sleep(1.5)
            cpu_used = max(cpu_used, cpu_seconds(server.pid) - before)
            for i, sock in enumerate(existing):
                path = (b"/small.txt", b"/medium.bin", b"/index.html")[(i + burst_no) % 3]
                answers.append(_blocking_get(sock, path))
            for sock in crowd:
                sock.close()
            time.sleep(0.5)
            recovered.append(asyncio.run(_get(server.port, b"/small.txt", 3.0)))
            log_lines.append(_count_lines(server.log_since(mark), "accept", "descriptor", "EMFILE"))
            mark = server.log_mark()
        for sock in existing:
            sock.close()
        tracebacks = server.tracebacks()
    bad = [s for s in answers if s not in (200, 503)]
    rows += [
        Row(name, "CPU ~ 0 while out of fds (1.5 s)", f"{cpu_used:.2f} s CPU", cpu_used <= 0.15),
        Row(
            name,
            "existing connections: files 200 (or 503), never 404/500",
            _status_summary(answers) + (f", {tracebacks} tracebacks" if tracebacks else ""),
            not bad and tracebacks == 0,
        ),
        Row(name, "recovery when fds free up", _status_summary(recovered), recovered == [200, 200]),
        Row(
            name,
            "one log line per burst",
            " + ".join(str(n) for n in log_lines) + " lines for 2 bursts",
            all(n <= 1 for n in log_lines),
        ),
    ]
    return rows


def _blocking_get(sock: socket.socket, path: bytes) -> int:
    try:
        sock.settimeout(5)
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: s\r\n\r\n" % path)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return 0
            data += chunk
        status = int(data.split(b" ", 2)[1])
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return 0
            rest += chunk
        return status
    except (OSError, ValueError, IndexError):
        return 0


async def _statuses(port: int, paths: Sequence[bytes]) -> list[int]:
    return list(await asyncio.gather(*(_get(port, p, 5.0) for p in paths)))


def _status_summary(statuses: Sequence[int]) -> str:
    counts: dict[int, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return ", ".join(f"{n}x {s or 'no answer'}" for s, n in sorted(counts.items()))


# -- faults ---------------------------------------------------------------------------------------


def faults(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """Resets mid-head, mid-body and mid-sendfile; half-close after a request."""
    count = scale.n(200, 20)
    name = f"Faults ({trigger})" if scale.full else f"Faults ({trigger}, short: {count} each)"
    root = _docroot(workdir)
    with stress_server(["--root", str(root), *_trigger_args(trigger)], native=True) as server:
        asyncio.run(_get(server.port, b"/small.txt"))
        time.sleep(0.3)
        base_fds = server.fds

        async def one(kind: str) -> bool:
            reader, writer = await connect(server.port, limit=64 * 1024, rcvbuf=64 * 1024)
            if kind == "head":
                writer.write(b"GET /small.txt HTTP/1.1\r\nHost: s\r\nX-Half: ")
                await asyncio.sleep(0.05)
                reset(writer)
                return True
            if kind == "body":
                writer.write(b"POST /upload HTTP/1.1\r\nHost: s\r\nContent-Length: 1048576\r\n\r\n")
                writer.write(b"b" * 300_000)
                await writer.drain()
                await asyncio.sleep(0.05)
                reset(writer)
                return True
            if kind == "sendfile":
                writer.write(b"GET /big32.bin HTTP/1.1\r\nHost: s\r\n\r\n")
                with contextlib.suppress(OSError, TimeoutError):
                    await asyncio.wait_for(reader.readexactly(200_000), 5)
                reset(writer)
                return True
            writer.write(b"GET /small.txt HTTP/1.1\r\nHost: s\r\n\r\n")
            writer.write_eof()
            try:
                response = await asyncio.wait_for(read_response(reader), 5)
                ok = response.status == 200 and response.body == b"hello from h10\n"
                return ok and await closed_by_peer(reader, 5)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                return False
            finally:
                writer.close()

        async def everyone() -> list[bool]:
            kinds = ["head", "body", "sendfile", "half-close"] * count
            return await asyncio.gather(*(one(k) for k in kinds))

        results = asyncio.run(everyone())
        half_ok = sum(results[3::4])
        fds = server.wait_fds(base_fds, 3.0)
        alive = asyncio.run(_get(server.port, b"/small.txt"))
        log = server.stderr
    tracebacks = log.count("Traceback (most recent call last)")
    errors = _count_lines(log.splitlines(), " ERROR ", " WARNING ")
    return [
        Row(
            name,
            f"half-close after a request answered ({count})",
            f"{half_ok}/{count}",
            half_ok == count,
        ),
        Row(
            name,
            f"{3 * count} resets: loop survives, fds back to baseline",
            f"GET after: {alive}; fds {fds} (baseline {base_fds})",
            alive == 200 and fds <= base_fds,
        ),
        Row(
            name,
            "no traceback spam",
            f"{tracebacks} tracebacks, {errors} warning/error lines",
            tracebacks == 0 and errors <= 1,
        ),
    ]


# -- graceful shutdown -----------------------------------------------------------------------------


@dataclass
class HammerTally:
    responses: int = 0
    cut: int = 0
    """Responses that began but did not complete."""
    dropped: int = 0
    """Requests sent well before the signal that got no answer (EOF or reset)."""
    raced: int = 0
    """Requests sent about when the signal was sent that found the connection closed
    (allowed: the server may close an idle connection at once)."""
    late_keep_alive: int = 0
    """Responses received well after the signal (200 ms) that do not say close."""


def _hammer(port: int, signalled: list[float], tally: HammerTally, lock: threading.Lock) -> None:
    """Keep-alive GETs on one connection, reconnecting after a close, until connects
    are refused; classify every failure against the time the signal was sent."""
    request = b"GET /small.txt HTTP/1.1\r\nHost: s\r\n\r\n"
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            return
        with sock:
            buffered = b""
            while True:
                sent_at = time.monotonic()
                try:
                    sock.sendall(request)
                    while b"\r\n\r\n" not in buffered:
                        chunk = sock.recv(65536)
                        if not chunk:
                            raise EOFError
                        buffered += chunk
                except (OSError, EOFError):
                    with lock:
                        if buffered:
                            tally.cut += 1
                        elif signalled and sent_at > signalled[0] - 0.002:
                            tally.raced += 1
                        else:
                            tally.dropped += 1
                    break
                head, _, rest = buffered.partition(b"\r\n\r\n")
                length = 15  # "hello from h10\n"
                try:
                    while len(rest) < length:
                        chunk = sock.recv(65536)
                        if not chunk:
                            raise EOFError
                        rest += chunk
                except (OSError, EOFError):
                    with lock:
                        tally.cut += 1
                    break
                buffered = rest[length:]
                closing = b"connection: close" in head.lower()
                with lock:
                    tally.responses += 1
                    if signalled and not closing and time.monotonic() > signalled[0] + 0.2:
                        tally.late_keep_alive += 1
                if closing:
                    break


def shutdown(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """SIGTERM during wrk; requests already received; a partial head."""
    name = (
        f"Graceful shutdown ({trigger})" if scale.full else f"Graceful shutdown ({trigger}, short)"
    )
    root = _docroot(workdir)
    grace = 10.0
    rounds = scale.n(5, 1)
    wrk_seconds = 4
    args = [str(root), "--no-access-log", "--grace-period", str(grace), *_trigger_args(trigger)]
    tally = HammerTally()
    lock = threading.Lock()
    codes: list[int] = []
    exit_seconds: list[float] = []
    for _ in range(rounds):
        with stress_server(args) as server:
            load = WrkInBackground(server.url("/small.txt"), connections=30, duration=wrk_seconds)
            signalled: list[float] = []
            hammers = [
                threading.Thread(target=_hammer, args=(server.port, signalled, tally, lock))
                for _ in range(20)
            ]
            for thread in hammers:
                thread.start()
            time.sleep(1.5)
            signalled.append(time.monotonic())
            server.proc.send_signal(signal.SIGTERM)
            codes.append(server.proc.wait(grace + 5))
            exit_seconds.append(time.monotonic() - signalled[0])
            for thread in hammers:
                thread.join(10)
            load.result()
    # Requests whose bytes arrived before the signal was seen: answered, with close.
    count = scale.n(50, 10)
    with stress_server(args) as server:
        socks = [
            socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(count)
        ]
        for sock in socks:
            _blocking_get(sock, b"/small.txt")
        partial = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        partial.sendall(b"GET /small.txt HTTP/1.1\r\nHo")
        time.sleep(0.2)
        os.kill(server.pid, signal.SIGSTOP)
        for sock in socks:
            sock.sendall(b"GET /small.txt HTTP/1.1\r\nHost: s\r\n\r\n")
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        os.kill(server.pid, signal.SIGCONT)
        answered = 0
        for sock in socks:
            response = _read_all(sock)
            if response.startswith(b"HTTP/1.1 200") and b"connection: close" in response.lower():
                answered += 1
        code = server.proc.wait(grace + 5)
        partial_seconds = time.monotonic() - start
        for sock in [*socks, partial]:
            sock.close()
    return [
        Row(
            name,
            f"SIGTERM during wrk x{rounds}: every response completes, no request dropped",
            f"{tally.responses:,} responses, {tally.cut} cut, {tally.dropped} dropped, "
            f"{tally.late_keep_alive} keep-alive after it ({tally.raced} raced the signal)",
            tally.cut + tally.dropped + tally.late_keep_alive == 0 and tally.responses > 0,
        ),
        Row(
            name,
            f"exit 0 within the grace period ({grace:g} s)",
            f"codes {sorted(set(codes))}, {max(exit_seconds):.2f} s",
            set(codes) == {0} and max(exit_seconds) <= grace,
        ),
        Row(
            name,
            "request already received: answered with Connection: close",
            f"{answered}/{count}",
            answered == count,
        ),
        Row(
            name,
            "partial head does not hold the shutdown",
            f"exit {code} after {partial_seconds:.2f} s",
            code == 0 and partial_seconds < 2.0,
        ),
    ]


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    sock.settimeout(5)
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


# -- workers ------------------------------------------------------------------------------


def workers(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    """``--workers 2`` under load; one worker SIGKILLed: replaced, service goes on."""
    name = "Workers" if scale.full else "Workers (short)"
    wrk_seconds = 6 if scale.full else 3
    args = ["--hello", "--no-access-log", "--workers", "2", *_trigger_args(trigger)]
    with stress_server(args) as server:
        deadline = time.monotonic() + 5
        while len(children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        before = children(server.pid)
        load = WrkInBackground(server.url(), connections=20, duration=wrk_seconds)
        time.sleep(wrk_seconds / 3)
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        replaced = 0.0
        while time.monotonic() - killed_at < 5:
            now = children(server.pid)
            if len(now) == 2 and victim not in now:
                replaced = time.monotonic() - killed_at
                break
            time.sleep(0.02)
        result = load.result()
        after = asyncio.run(_statuses(server.port, [b"/"] * 100))
        code = server.stop()
    return [
        Row(
            name,
            "SIGKILLed worker replaced within 2 s",
            f"{replaced:.2f} s" if replaced else "not replaced",
            0 < replaced <= 2.0,
        ),
        Row(
            name,
            "service continues (100 GETs after; wrk errors counted)",
            f"{_status_summary(after)}; wrk {result.requests:,} requests, "
            f"{result.errors + result.connect_errors} errors",
            after.count(200) == 100 and result.requests > 0,
        ),
        Row(name, "exit 0 on SIGTERM", f"exit {code}", code == 0),
    ]


def big_bodies_wsgi(scale: Scale, workdir: Path, trigger: str = "level") -> list[Row]:
    return big_bodies(scale, workdir, trigger, wsgi=True)


Scenario = Callable[[Scale, Path, str], list[Row]]

SCENARIOS: dict[str, tuple[Scenario, tuple[str, ...]]] = {
    "c10k": (c10k, ("level",)),
    "slow-clients": (slow_clients, ("level",)),
    "storm": (storm, ("level", "edge")),
    "big-bodies": (big_bodies, ("level",)),
    "big-bodies-wsgi": (big_bodies_wsgi, ("level",)),
    "slow-readers": (slow_readers, ("level",)),
    "fairness": (fairness, ("level",)),
    "fd-exhaustion": (fd_exhaustion, ("level",)),
    "faults": (faults, ("level", "edge")),
    "shutdown": (shutdown, ("level", "edge")),
    "workers": (workers, ("level",)),
}
"""Every scenario and the trigger modes it runs in."""

# The scenarios of other modules, which build on Row and Scale above.
from stress_files import SCENARIOS as _FILES  # noqa: E402

SCENARIOS.update(_FILES)
# The budget scenarios (issue 14) live in their own module.
from stress_budget import SCENARIOS as _BUDGET_SCENARIOS  # noqa: E402

SCENARIOS.update(_BUDGET_SCENARIOS)
