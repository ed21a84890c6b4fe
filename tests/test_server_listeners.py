"""The server on every kind of listener, as deployments start it: a Unix socket path
(``--uds``, what nginx's ``proxy_pass http://unix:...`` talks to), an inherited
descriptor (``--fd``), systemd socket activation (``LISTEN_FDS``/``LISTEN_PID``, the
socket as descriptor 3), each with ``--workers 2`` too, in both trigger modes. Clients
are curl (``--unix-socket``) and http.client; every wait is bounded."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from server_helpers import SRC, require_tool, terminate, trigger

__all__ = ["trigger"]

START_TIMEOUT = 15.0
ENV = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
for _variable in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
    ENV.pop(_variable, None)

# A WSGI app that says which worker answered; /slow holds its worker's loop (threads
# 0: the app runs on the loop thread) so that the next connection goes to the other.
PID_APP = """
import os
import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(0.5)
    body = ("%d %s %s" % (os.getpid(), environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
"""


class Started:
    """``python -m driver`` started with ``argv`` (maybe through a wrapper), its
    standard error collected by a thread, stopped with SIGTERM (then SIGKILL)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        pass_fds: Sequence[int] = (),
        wait_for: str | None = "Serving ",
    ) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=tuple(pass_fds),
        )
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait_for is not None:
            self.wait_for_log(wait_for, START_TIMEOUT)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._lock:
                self._lines.append(raw.decode("utf-8", "replace"))

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def wait_for_log(self, needle: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.stderr:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                time.sleep(0.1)
                if needle in self.stderr:
                    break
                self.stop()
                raise AssertionError(f"{needle!r} not in the server's log:\n{self.stderr}")
            time.sleep(0.02)
        return self.stderr

    def stop(self) -> int:
        terminate(self.proc)
        self._reader.join(5)
        return self.proc.returncode


@contextlib.contextmanager
def started(argv: Sequence[str], **options: object) -> Iterator[Started]:
    server = Started(argv, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        assert server.stop() == 0, server.stderr


def driver_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "driver", *args]


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX (as requests-unixsocket and Docker's clients do)."""

    def __init__(self, socket_path: str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "hello.txt").write_bytes(b"hello over a unix socket\n")
    (root / "big.bin").write_bytes(os.urandom(1024 * 1024))
    (root / "pidapp.py").write_text(PID_APP)
    return root


@pytest.fixture
def sock_path() -> Iterator[str]:
    # Short: sun_path holds 107 bytes, and pytest's tmp_path can be longer.
    folder = Path(f"/tmp/h10-uds-{os.getpid()}-{time.monotonic_ns()}")
    folder.mkdir()
    try:
        yield str(folder / "s.sock")
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


def unix_get(path: str, target: str) -> tuple[int, bytes]:
    conn = UnixHTTPConnection(path)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- Unix socket path ------------------------------------------------------------------


def test_uds_serves_curl_and_http_client(site: Path, sock_path: str, trigger: list[str]) -> None:
    with started(driver_argv("--uds", sock_path, *trigger), cwd=site) as server:
        banner = server.stderr
        assert f"on unix:{sock_path} (mode 660)" in banner, banner
        assert stat.S_IMODE(os.lstat(sock_path).st_mode) == 0o660
        result = subprocess.run(
            [
                require_tool("curl"),
                "-s",
                "--max-time",
                "10",
                "--unix-socket",
                sock_path,
                "http://localhost/hello.txt",
            ],
            capture_output=True,
            timeout=15,
            check=True,
        )
        assert result.stdout == b"hello over a unix socket\n"
        # http.client: keep-alive on one connection, then a 1 MiB file.
        conn = UnixHTTPConnection(sock_path)
        try:
            for _ in range(3):
                conn.request("GET", "/hello.txt")
                response = conn.getresponse()
                assert response.status == 200
                assert response.read() == b"hello over a unix socket\n"
            conn.request("GET", "/big.bin")
            response = conn.getresponse()
            assert response.read() == (site / "big.bin").read_bytes()
        finally:
            conn.close()
        # A Unix peer has no address: the access log writes it as nginx does.
        log = server.wait_for_log('"GET /big.bin HTTP/1.1" 200')
        lines = [line for line in log.splitlines() if '"GET /hello.txt HTTP/1.1"' in line]
        assert len(lines) == 4 and all(line.startswith("unix: - - [") for line in lines), log
    assert not os.path.exists(sock_path)  # removed at exit
    assert not os.path.exists(sock_path + ".lock")


def test_uds_mode_is_exact_and_cork_is_not_set_on_unix_sockets(site: Path, sock_path: str) -> None:
    # --cork and TCP_NODELAY are TCP options: set on a Unix socket they would fail
    # (EOPNOTSUPP) and drop every response.
    args = driver_argv("--uds", sock_path, "--uds-mode", "0600", "--cork", "--nodelay")
    with started(args, cwd=site) as server:
        assert stat.S_IMODE(os.lstat(sock_path).st_mode) == 0o600
        assert unix_get(sock_path, "/big.bin") == (200, (site / "big.bin").read_bytes())
        assert unix_get(sock_path, "/hello.txt")[0] == 200
        assert "Traceback" not in server.stderr and "error" not in server.stderr.lower()


def test_a_stale_socket_file_is_replaced(site: Path, sock_path: str) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(sock_path)
    dead.close()  # a server that died without removing its file
    assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)
    with started(driver_argv("--uds", sock_path), cwd=site):
        assert unix_get(sock_path, "/hello.txt")[0] == 200


def test_a_live_socket_is_not_taken_over(site: Path, sock_path: str) -> None:
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(sock_path)
    live.listen()
    try:
        result = subprocess.run(
            driver_argv("--uds", sock_path),
            cwd=site,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        live.close()
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "something is listening" in result.stderr


def test_a_regular_file_at_the_path_is_refused_and_left_alone(site: Path, sock_path: str) -> None:
    Path(sock_path).write_bytes(b"precious data\n")
    result = subprocess.run(
        driver_argv("--uds", sock_path),
        cwd=site,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "is a regular file; not replacing it" in lines[0]
    assert Path(sock_path).read_bytes() == b"precious data\n"


def test_uds_mode_without_uds_is_a_one_line_error(site: Path) -> None:
    result = subprocess.run(
        driver_argv("--uds-mode", "600"),
        cwd=site,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().endswith("--uds-mode applies to --uds only")


def _pids_from_two_workers(get: object) -> set[str]:
    """One connection holds one worker's loop (/slow), the next is accepted by the
    other: both workers accept from the one shared socket."""
    assert callable(get)
    results: dict[str, str] = {}
    slow = threading.Thread(target=lambda: results.setdefault("slow", get("/slow")))
    slow.start()
    time.sleep(0.15)  # /slow has been accepted and holds its worker
    results["fast"] = get("/pid")
    slow.join(10)
    return {results["slow"].split()[0], results["fast"].split()[0]}


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


_EPOLLEXCLUSIVE = 1 << 28


def _exclusive_entries(pid: int) -> int:
    """Descriptors registered with EPOLLEXCLUSIVE in the epoll sets of process ``pid``
    (``/proc/PID/fdinfo`` of an epoll lists ``tfd: N events: MASK ...`` per entry)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd) != "anon_inode:[eventpoll]":
                continue
            for line in Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().splitlines():
                match = re.match(r"tfd:\s*\d+\s+events:\s*([0-9a-f]+)", line)
                if match and int(match.group(1), 16) & _EPOLLEXCLUSIVE:
                    count += 1
    return count


def test_uds_with_two_workers(site: Path, sock_path: str, trigger: list[str]) -> None:
    args = driver_argv(
        "--uds", sock_path, "--workers", "2", "--wsgi", "pidapp:app", "--threads", "0", *trigger
    )
    with started(args, cwd=site) as server:
        assert ", 2 workers" in server.stderr

        def get(target: str) -> str:
            status, body = unix_get(sock_path, target)
            assert status == 200
            return body.decode()

        assert get("/").split()[1:] == ["unix:", "http"]  # REMOTE_ADDR of a Unix peer
        pids = _pids_from_two_workers(get)
        assert len(pids) == 2, pids
        workers = _children(server.proc.pid)
        assert sorted(workers) == sorted(int(pid) for pid in pids)
        for worker in workers:
            # The shared socket is in each worker's epoll set with EPOLLEXCLUSIVE:
            # a connection wakes one worker, not both.
            assert _exclusive_entries(worker) == 1, worker
        assert os.path.exists(sock_path)
    assert not os.path.exists(sock_path)  # the parent removed it, after both workers


# -- an inherited descriptor, systemd socket activation --------------------------------


def _tcp_listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def tcp_get(port: int, target: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_fd_serves_an_inherited_socket(site: Path, trigger: list[str]) -> None:
    listener = _tcp_listener()
    port = listener.getsockname()[1]
    fd = listener.fileno()
    try:
        args = driver_argv("--fd", str(fd), *trigger)
        with started(args, cwd=site, pass_fds=[fd]) as server:
            assert f"on fd {fd} (127.0.0.1 port {port}) (http://127.0.0.1:{port}/)" in server.stderr
            listener.close()  # the server's copy is what is served now
            assert tcp_get(port, "/hello.txt") == (200, b"hello over a unix socket\n")
            server.wait_for_log("127.0.0.1 - - [")
    finally:
        listener.close()


def test_fd_that_is_not_a_listening_socket_is_a_one_line_error(site: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # not listening
    try:
        result = subprocess.run(
            driver_argv("--fd", str(sock.fileno())),
            cwd=site,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=30,
            pass_fds=[sock.fileno()],
        )
    finally:
        sock.close()
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "not listening" in result.stderr


def test_fd_with_two_workers(site: Path) -> None:
    listener = _tcp_listener()
    port = listener.getsockname()[1]
    fd = listener.fileno()
    try:
        args = driver_argv(
            "--fd", str(fd), "--workers", "2", "--wsgi", "pidapp:app", "--threads", "0"
        )
        with started(args, cwd=site, pass_fds=[fd]):
            listener.close()

            def get(target: str) -> str:
                status, body = tcp_get(port, target)
                assert status == 200
                return body.decode()

            assert len(_pids_from_two_workers(get)) == 2
    finally:
        listener.close()


# The wrapper systemd would be: descriptor 3 is the socket, LISTEN_PID the pid that
# runs the server (exec keeps it), LISTEN_FDS=1.
ACTIVATE = (
    "import os, sys; fd = int(sys.argv[1]); fd == 3 or (os.dup2(fd, 3), os.close(fd)); "
    "os.environ['LISTEN_FDS'] = '1'; os.environ['LISTEN_PID'] = str(os.getpid()); "
    "os.execv(sys.executable, [sys.executable, '-m', 'driver', *sys.argv[2:]])"
)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_socket_activation(site: Path, workers: str, trigger: list[str]) -> None:
    listener = _tcp_listener()
    port = listener.getsockname()[1]
    fd = listener.fileno()
    try:
        argv = [
            sys.executable,
            "-c",
            ACTIVATE,
            str(fd),
            "--workers",
            workers,
            "--wsgi",
            "pidapp:app",
            "--threads",
            "0",
            *trigger,
        ]
        with started(argv, cwd=site, pass_fds=[fd]) as server:
            listener.close()
            assert re.search(
                rf"on fd 3 'unknown' \(127\.0\.0\.1 port {port}\) \(systemd socket "
                rf"activation\) \(http://127\.0\.0\.1:{port}/\)",
                server.stderr,
            ), server.stderr
            status, body = tcp_get(port, "/")
            assert status == 200 and body.split()[1:] == [b"127.0.0.1", b"http"]
            if workers == "2":

                def get(target: str) -> str:
                    return tcp_get(port, target)[1].decode()

                assert len(_pids_from_two_workers(get)) == 2
    finally:
        listener.close()


def test_listen_fds_for_another_process_is_ignored(site: Path) -> None:
    # LISTEN_PID names someone else (a parent that did not clear the variables): the
    # server listens on TCP as asked, and descriptor 3 is not touched.
    env = {**ENV, "LISTEN_FDS": "1", "LISTEN_PID": "1"}
    proc = subprocess.Popen(
        driver_argv("--bind", "127.0.0.1", "--port", "0", "--hello"),
        cwd=site,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"on 127\.0\.0\.1 port (\d+) ", line)
        assert match, line
        assert tcp_get(int(match.group(1)), "/")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


# -- TCP, IPv6 --------------------------------------------------------------------------


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_ipv6_any_serves_ipv4_and_ipv6_peers(site: Path) -> None:
    if not _has_ipv6_loopback():
        pytest.fail("this machine has no IPv6 loopback (::1); the test needs it")
    with started(driver_argv("--bind", "::", "--port", "0"), cwd=site) as server:
        match = re.search(r"on :: port (\d+) \(http://\[::\]:(\d+)/\)", server.stderr)
        assert match, server.stderr
        port = int(match.group(1))
        assert tcp_get(port, "/hello.txt")[0] == 200  # IPv4 over the dual-stack socket
        conn = http.client.HTTPConnection("::1", port, timeout=5)
        conn.request("GET", "/hello.txt")
        assert conn.getresponse().status == 200
        conn.close()
        log = server.wait_for_log("::1 - - [")
        assert "\n127.0.0.1 - - [" in log, log  # ::ffff:127.0.0.1 written as IPv4
