"""Start the real server (``python -m driver``) on loopback for integration tests.

``running_server(*args)`` launches it in a subprocess on 127.0.0.1 with ``--port 0``,
reads the chosen port from its banner, waits until it accepts, and stops it with
SIGTERM (then SIGKILL) on exit; every wait is bounded. Standard error is collected
by a thread (so the pipe never fills and the access log can be checked).
``threaded_server(app, trigger, **config)`` runs a ``driver.Server`` for a native
application (a callable returning ``driver.Reply``, or a streaming app) on a thread of
the test process instead.

The fixtures here are imported by the ``test_server_*`` modules: ``trigger`` runs each
integration test once level-triggered and once edge-triggered.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import driver

SRC = Path(__file__).resolve().parents[1] / "src"
BANNER = re.compile(r"Serving .* port (\d+) ")
START_TIMEOUT = 15.0
TRIGGER_MODES = ("level", "edge")


class ServerProcess:
    """A running ``python -m driver`` and what it wrote to standard error."""

    def __init__(
        self,
        args: list[str],
        cwd: Path | None,
        start_timeout: float,
        *,
        entry: Sequence[str] = ("-m", "driver"),
        preexec_fn: Callable[[], None] | None = None,
        src: Path = SRC,
    ) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(src), str(cwd or ""), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, *entry, "--bind", "127.0.0.1", "--port", "0", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=preexec_fn,
        )
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._port_found = threading.Event()
        self.port = 0
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._port_found.wait(start_timeout):
            self.kill()
            raise RuntimeError(f"server did not start: {self.stderr}")
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.kill()
                    raise RuntimeError(f"server does not accept: {self.stderr}") from None
                time.sleep(0.02)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self._lines.append(line)
            match = BANNER.search(line)
            if match and not self.port:
                self.port = int(match.group(1))
                self._port_found.set()
        self._port_found.set()

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def wait_for_log(self, needle: str, timeout: float = 5.0) -> str:
        """Wait until standard error contains ``needle``; return all of it."""
        deadline = time.monotonic() + timeout
        while needle not in self.stderr:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not in server log:\n{self.stderr}")
            time.sleep(0.02)
        return self.stderr

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit status (SIGKILL after ``timeout``)."""
        terminate(self.proc, sig, timeout)
        self._reader.join(5)
        return self.proc.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(10)


def terminate(
    proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 15.0
) -> int | None:
    """Send ``sig`` to a server still running and wait for its exit status; SIGKILL
    after ``timeout`` (then the status is ``None``: it did not stop by itself)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(10)
        return None


@contextlib.contextmanager
def running_server(
    *args: str, cwd: Path | None = None, start_timeout: float = START_TIMEOUT
) -> Iterator[ServerProcess]:
    """A server started with ``args`` for the duration of the block."""
    server = ServerProcess(list(args), cwd, start_timeout)
    try:
        yield server
    finally:
        server.stop()


class ThreadedServer:
    """A ``driver.Server`` running ``app`` (simple or streaming) on a thread; ``thread``
    dies with the loop. ``options`` are more ``driver.Config`` fields."""

    def __init__(
        self, app: driver.App | driver.StreamingApp, trigger: list[str], **options: Any
    ) -> None:
        config = driver.Config(
            host="127.0.0.1",
            port=0,
            access_log=False,
            edge_triggered="--edge-triggered" in trigger,
            **options,
        )
        self.server = driver.Server(app, config, driver.make_listener(config))
        self.port = self.server.listener.getsockname()[1]
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"install_signals": False}, daemon=True
        )

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


@contextlib.contextmanager
def threaded_server(
    app: driver.App | driver.StreamingApp, trigger: list[str], **options: Any
) -> Iterator[ThreadedServer]:
    """``app`` served on 127.0.0.1 by a loop on a thread, stopped (bounded) on exit."""
    server = ThreadedServer(app, trigger, **options)
    server.thread.start()
    try:
        yield server
    finally:
        server.server.stop_threadsafe()
        server.thread.join(10)
    assert not server.thread.is_alive(), "the server thread did not stop"


def raw_exchange(port: int, data: bytes, *, shutdown: bool = False, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if shutdown:
            sock.shutdown(socket.SHUT_WR)
        return read_until_close(sock)


def read_until_close(sock: socket.socket) -> bytes:
    """Everything the peer sends until it closes; raises ``TimeoutError`` if it stalls."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(
    sock: socket.socket, buffered: bytearray
) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """Read one Content-Length framed response: (status line, headers, body).
    ``buffered`` carries bytes read past the end of the previous response."""
    while b"\r\n\r\n" not in buffered:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full head: {bytes(buffered)!r}")
        buffered += chunk
    head, _, rest = bytes(buffered).partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the middle of a body")
        rest += chunk
    buffered[:] = rest[length:]
    return status, headers, rest[:length]


def require_tool(name: str) -> str:
    """The path of a command-line tool the tests need (CI installs them)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise RuntimeError(f"{name} is not installed; .ci/run installs it (apt)")
    return path


def curl(url: str, *options: str, timeout: float = 10.0) -> tuple[int, dict[bytes, bytes], bytes]:
    """Fetch ``url`` with the real curl: (status, headers, body)."""
    result = subprocess.run(
        [require_tool("curl"), "-s", "-i", "--max-time", str(timeout), *options, url],
        capture_output=True,
        timeout=timeout + 5,
        check=True,
    )
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


@pytest.fixture(scope="module", params=TRIGGER_MODES)
def trigger(request: pytest.FixtureRequest) -> list[str]:
    """The server options of one epoll trigger mode."""
    return ["--edge-triggered"] if request.param == "edge" else []


DOCROOT_FILES = {
    "index.html": b"<!DOCTYPE html><title>home</title><h1>h10</h1>\n",
    "small.txt": b"hello from h10\n",
    "style.css": b"body { color: black; }\n",
    "data.json": b'{"ok": true}\n',
    "sub/a b.txt": b"spaced name\n",
    "sub/nested/deep.txt": b"deep\n",
}


@pytest.fixture(scope="module")
def docroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory to serve: small files, a 1 MiB file, subdirectories, and symlinks
    (one inside the root, two pointing out of it)."""
    base = tmp_path_factory.mktemp("docroot")
    root = base / "root"
    for name, content in DOCROOT_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (root / "big.bin").write_bytes(os.urandom(1024 * 1024))
    (root / "empty.txt").write_bytes(b"")
    (root / "noindex").mkdir()
    (root / "noindex" / "x.txt").write_bytes(b"x\n")
    outside = base / "secret.txt"
    outside.write_bytes(b"top secret\n")
    (root / "escape.txt").symlink_to(outside)
    (root / "escape_dir").symlink_to(base)
    (root / "inside_link.txt").symlink_to(root / "small.txt")
    (root / "outdir").mkdir()
    (root / "outdir" / "index.html").symlink_to(outside)  # an index that leads out
    (root / "example.com").mkdir()  # "//example.com" must not redirect off-site
    os.mkfifo(root / "fifo")
    return root


TEST_APP = '''
"""WSGI app used by the driver's integration tests."""
import os
import time


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/pid":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]
    if path == "/boom":
        raise RuntimeError("boom from the test app")
    if path == "/slow":
        time.sleep(float(environ["QUERY_STRING"] or "1"))
    if path == "/big":
        body = b"x" * (1024 * 1024)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"and ", b"returned"]
    if path == "/bad-length":
        start_response("200 OK", [("Content-Length", "999")])
        return [b"short"]
    if path == "/nocontent":
        start_response("204 No Content", [("Content-Length", "0")])  # a framework habit
        return [b""]
    body = environ["wsgi.input"].read()
    lines = [
        "method=" + environ["REQUEST_METHOD"],
        "path=" + path,
        "query=" + environ["QUERY_STRING"],
        "protocol=" + environ["SERVER_PROTOCOL"],
        "content_length=" + environ.get("CONTENT_LENGTH", ""),
        "x_test=" + environ.get("HTTP_X_TEST", ""),
        "x_forwarded_for=" + environ.get("HTTP_X_FORWARDED_FOR", "-"),
        "body_len=%d" % len(body),
    ]
    out = ("\\n".join(lines) + "\\n").encode() + body
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close-me")])
    return [out]
'''


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``testapp.py`` (the WSGI app above), to run with
    ``--wsgi testapp:app`` and that directory as the working directory."""
    path = tmp_path_factory.mktemp("app")
    (path / "testapp.py").write_text(TEST_APP)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_nginx(args: list[str], port: int, error_log: Path) -> Iterator[int]:
    """``nginx *args`` (a configuration of the caller's, in the foreground) until the
    block ends; yields ``port`` once nginx accepts on it (bounded: 10 s)."""
    proc = subprocess.Popen(
        [require_tool("nginx"), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = error_log.read_text() if error_log.exists() else ""
                    raise RuntimeError(f"nginx did not start: {log}") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    """Whether ``predicate()`` came true within ``timeout`` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def pipe_closed(write_end: int) -> bool:
    """Whether the read end of the pipe whose write end is ``write_end`` is closed
    (checked without fd-number races: a write to a pipe nobody reads is EPIPE)."""
    try:
        os.write(write_end, b"x")
    except BrokenPipeError:
        return True
    return False
