"""What the stress scenarios share: the server as a process seen through ``/proc``, wrk,
and small asyncio HTTP clients.

``StressServer`` starts ``python -m driver`` (or ``tests/stress_app.py``, the native
application the body and streaming scenarios need) on 127.0.0.1 with port 0, reads the
port from its banner and keeps its standard error (the error log) in memory. Its RSS,
descriptors and CPU time are read from ``/proc/PID``; ``RssSampler`` follows the peak
on a thread. Every wait is bounded, and the process is killed on exit whatever
happened. ``run_wrk`` runs wrk and parses its summary. ``read_response`` reads one
response from an asyncio stream. Clients raise ``RLIMIT_NOFILE`` to the hard limit
(``raise_fd_limit``) before opening thousands of sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from server_helpers import ServerProcess

TESTS = Path(__file__).resolve().parent
# The sources the servers run: this tree's, or another's (to compare two versions).
SRC = Path(os.environ.get("STRESS_SRC") or TESTS.parent / "src")
STRESS_APP = TESTS / "stress_app.py"
BANNER = re.compile(r"Serving .* port (\d+) ")
MiB = 1024 * 1024
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_fd_limit(wanted: int = 1 << 20) -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` towards ``wanted`` (up to the hard
    limit); return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


# -- /proc ----------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid: int) -> int:
    """Open descriptors of ``pid`` (0 once it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time ``pid`` has used."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def children(pid: int) -> list[int]:
    """Child processes of ``pid`` (its workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class RssSampler:
    """Follows the peak RSS of some processes on a thread, every ``interval`` seconds."""

    def __init__(self, pids: Sequence[int], interval: float = 0.02) -> None:
        self.pids = list(pids)
        self.interval = interval
        self.peak_kib = sum(rss_kib(p) for p in self.pids)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_kib = max(self.peak_kib, sum(rss_kib(p) for p in self.pids))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# -- the server ------------------------------------------------------------------------


class StressServer(ServerProcess):
    """A server process on 127.0.0.1 (``python -m driver``, or the native stress app),
    with what the scenarios measure of it: RSS, descriptors, CPU, the error log."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        native: bool = False,
        cwd: Path | None = None,
        nofile: int | None = None,
        start_timeout: float = 20.0,
    ) -> None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        limit = nofile if nofile is not None else hard

        def set_limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))

        entry = [str(STRESS_APP)] if native else ["-m", "driver"]
        super().__init__(list(args), cwd, start_timeout, entry=entry, preexec_fn=set_limit, src=SRC)
        self.pid = self.proc.pid

    def log_mark(self) -> int:
        """A position in the error log, for ``log_since``."""
        with self._lock:
            return len(self._lines)

    def log_since(self, mark: int) -> list[str]:
        with self._lock:
            return self._lines[mark:]

    def tracebacks(self) -> int:
        return self.stderr.count("Traceback (most recent call last)")

    @property
    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    @property
    def fds(self) -> int:
        return fd_count(self.pid)

    @property
    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def wait_fds(self, at_most: int, timeout: float) -> int:
        """Wait until the server holds at most ``at_most`` descriptors; return the count."""
        deadline = time.monotonic() + timeout
        while (count := self.fds) > at_most and time.monotonic() < deadline:
            time.sleep(0.05)
        return count

    def settle(self, pause: float = 0.3) -> None:
        """Give the server a moment to finish what is in flight (closing, freeing)."""
        time.sleep(pause)

    def kill(self) -> None:
        # --workers: the supervisor's children too.
        for pid in children(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(10)


@contextlib.contextmanager
def stress_server(
    args: Sequence[str],
    *,
    native: bool = False,
    cwd: Path | None = None,
    nofile: int | None = None,
) -> Iterator[StressServer]:
    """A server for the duration of the block, stopped (bounded) on exit."""
    server = StressServer(args, native=native, cwd=cwd, nofile=nofile)
    try:
        yield server
    finally:
        server.stop(timeout=15)


# -- wrk -----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    connect_errors: int = 0
    read_errors: int = 0
    write_errors: int = 0
    timeouts: int = 0
    non_2xx: int = 0
    output: str = ""

    @property
    def errors(self) -> int:
        """Errors other than refused connects (which a closed listener causes)."""
        return self.read_errors + self.write_errors + self.timeouts + self.non_2xx


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        return 0.0
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk_command(url: str, *, connections: int, duration: float, timeout: float = 5.0) -> list[str]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed; .ci/run installs it (apt)")
    return [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout:g}s",
        "--latency",
        url,
    ]


def parse_wrk(output: str) -> WrkResult:
    result = WrkResult(output=output)
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result.rps = float(match.group(1))
    if match := re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE):
        result.p99_ms = _ms(match.group(1))
    if match := re.search(r"(\d+) requests in", output):
        result.requests = int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        result.connect_errors, result.read_errors, result.write_errors, result.timeouts = map(
            int, match.groups()
        )
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        result.non_2xx = int(match.group(1))
    return result


def run_wrk(url: str, *, connections: int, duration: float) -> WrkResult:
    """Run wrk (one thread, keep-alive) and parse its summary."""
    command = wrk_command(url, connections=connections, duration=duration)
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30)
    return parse_wrk(done.stdout + done.stderr)


class WrkInBackground:
    """wrk started now, its result collected by ``result()``."""

    def __init__(self, url: str, *, connections: int, duration: float) -> None:
        self.duration = duration
        self.proc = subprocess.Popen(
            wrk_command(url, connections=connections, duration=duration),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def result(self) -> WrkResult:
        try:
            out, _ = self.proc.communicate(timeout=self.duration + 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return parse_wrk(out)


# -- asyncio clients ---------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""
    version: bytes = b"1.0"

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get(b"connection", b"").lower()
        if self.version == b"1.1":
            return b"close" not in connection
        return b"keep-alive" in connection


async def read_response(reader: asyncio.StreamReader, *, head_only: bool = False) -> Response:
    """One final response (1xx skipped), framed by Content-Length (or by EOF)."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head[:-4].split(b"\r\n")
        version = status_line[5:8]
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:
            continue
        break
    if head_only or status in (204, 304):
        return Response(status, headers, b"", version)
    length = headers.get(b"content-length")
    if length is not None:
        body = await reader.readexactly(int(length))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.read()
    return Response(status, headers, body, version)


async def closed_by_peer(
    reader: asyncio.StreamReader, timeout: float, *, allow: int | None = None
) -> bool:
    """Whether the peer closes (EOF or reset) within ``timeout`` without sending more
    (or, with ``allow``, after sending only a response with that status)."""
    try:
        extra = await asyncio.wait_for(reader.read(65536), timeout)
        if extra and allow is not None and extra.split(b" ", 2)[1:2] == [b"%d" % allow]:
            extra = await asyncio.wait_for(reader.read(), timeout)  # its rest, then EOF
            return True
    except (ConnectionError, OSError):
        return True
    except TimeoutError:
        return False
    return extra == b""


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), as a client that crashes or gives up."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def reset_socket(sock: socket.socket) -> None:
    """``reset`` for a plain socket."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def connect(
    port: int, *, limit: int = 1 << 20, rcvbuf: int = 0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if not rcvbuf:
        return await asyncio.open_connection("127.0.0.1", port, limit=limit)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock, limit=limit)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


PROBE_INTERVAL = 0.002


def probe_latencies(port: int, path: str, duration: float, stop: threading.Event) -> list[float]:
    """Keep-alive GETs of ``path`` on one blocking socket, one due every
    ``PROBE_INTERVAL`` seconds, for ``duration`` seconds (or until ``stop``): each one's
    latency in ms, counted from when it was due, not from when it could be sent. A
    server that stalls for 500 ms then shows 250 slow requests, not one (the
    coordinated omission of a closed-loop client). Run in a process of its own so
    that the client's own work does not count."""
    latencies: list[float] = []
    request = f"GET {path} HTTP/1.1\r\nHost: stress\r\n\r\n".encode()
    begin = time.perf_counter()
    deadline = begin + duration
    due = begin
    sock: socket.socket | None = None
    buffered = b""
    while due < deadline and not stop.is_set():
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buffered = b""
        ahead = due - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
        start = due
        due += PROBE_INTERVAL
        try:
            sock.sendall(request)
            while b"\r\n\r\n" not in buffered:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buffered += chunk
            head, _, rest = buffered.partition(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length:\s*(\d+)", head)
            length = int(match.group(1)) if match else 0
            while len(rest) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                rest += chunk
            buffered = rest[length:]
        except OSError:
            sock.close()
            sock = None
            latencies.append(10_000.0)  # a failure counts as a very slow answer
            continue
        latencies.append((time.perf_counter() - start) * 1000)
    if sock is not None:
        sock.close()
    return latencies


class Prober:
    """``probe_latencies`` in a process of its own, started now: the client's threads
    and the GIL then add nothing to the latencies measured."""

    def __init__(self, port: int, path: str, duration: float) -> None:
        self.duration = duration
        code = (
            "import json, sys, threading; sys.path.insert(0, sys.argv[1]); "
            "from stress_harness import probe_latencies; "
            "print(json.dumps(probe_latencies(int(sys.argv[2]), sys.argv[3], "
            "float(sys.argv[4]), threading.Event())))"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(TESTS), str(port), path, str(duration)],
            stdout=subprocess.PIPE,
            text=True,
        )

    def result(self) -> list[float]:
        try:
            out, _ = self.proc.communicate(timeout=self.duration + 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return []
        try:
            values = json.loads(out)
        except ValueError:
            return []
        return [float(v) for v in values]


def sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that costs no disk (holes read as zeros)."""
    with open(path, "wb") as f:
        f.truncate(size)
    return path


class PacedProber(Prober):
    """``Prober`` with its own pacing: one GET due every ``interval`` seconds. A
    keep-alive client sends its next request only after the last answer, so it cannot
    keep a pace shorter than the loop's round while other connections share the round
    (a few milliseconds under load): its latencies would then grow without end, a
    measure of the round, not of a stall. ``max(result())`` is the longest wait."""

    def __init__(self, port: int, path: str, duration: float, interval: float) -> None:
        self.duration = duration
        code = (
            "import json, sys, threading; sys.path.insert(0, sys.argv[1]); "
            "import stress_harness; stress_harness.PROBE_INTERVAL = float(sys.argv[5]); "
            "print(json.dumps(stress_harness.probe_latencies(int(sys.argv[2]), sys.argv[3], "
            "float(sys.argv[4]), threading.Event())))"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(TESTS), str(port), path, str(duration), str(interval)],
            stdout=subprocess.PIPE,
            text=True,
        )


class StuckStderrServer:
    """``python -m driver`` whose standard error nobody reads after the banner: a
    pipe that fills (64 KiB) and stays full, as behind a stuck ``less`` or a log
    collector that stopped. ``unstick()`` starts reading it again (on a thread);
    ``stop()`` ends the server and returns everything it wrote."""

    def __init__(self, args: Sequence[str], *, start_timeout: float = 20.0) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "driver", "--bind", "127.0.0.1", "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.pid = self.proc.pid
        assert self.proc.stderr is not None
        self._stderr = self.proc.stderr
        self._read: list[bytes] = []
        self._reader: threading.Thread | None = None
        banner = b""
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            banner = self._stderr.readline()
            self._read.append(banner)
            if not banner or BANNER.search(banner.decode("utf-8", "replace")):
                break
        match = BANNER.search(banner.decode("utf-8", "replace"))
        if match is None:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {b''.join(self._read)!r}")
        self.port = int(match.group(1))

    def unstick(self) -> None:
        if self._reader is None:
            self._reader = threading.Thread(target=self._drain, daemon=True)
            self._reader.start()

    def _drain(self) -> None:
        fd = self._stderr.fileno()
        # os.read, not the file's read(): what the server has written, as it comes.
        for chunk in iter(lambda: os.read(fd, 65536), b""):
            self._read.append(chunk)

    def text(self) -> str:
        return b"".join(self._read).decode("utf-8", "replace")

    def stop(self, timeout: float = 15.0) -> tuple[int | None, str]:
        """Read again, SIGTERM, wait up to ``timeout``: the exit code (``None`` if it
        had to be killed) and everything the server wrote."""
        code: int | None = None
        self.unstick()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        assert self._reader is not None
        self._reader.join(10)
        return code, self.text()


class ScriptServer(StressServer):
    """A ``StressServer`` running another native application script (``python SCRIPT
    ARGS``; the script takes ``--bind`` and ``--port``)."""

    def __init__(self, script: Path, args: Sequence[str], start_timeout: float = 20.0) -> None:
        ServerProcess.__init__(self, list(args), None, start_timeout, entry=[str(script)], src=SRC)
        self.pid = self.proc.pid


@contextlib.contextmanager
def script_server(script: Path, args: Sequence[str] = ()) -> Iterator[StressServer]:
    """``stress_server`` for ``ScriptServer``."""
    server = ScriptServer(script, args)
    try:
        yield server
    finally:
        server.stop(timeout=15)
