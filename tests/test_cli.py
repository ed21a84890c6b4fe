"""The command line as a new user types it: http.server's forms work, and every startup
mistake is one line on standard error with exit code 2, never a traceback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server_helpers import SRC, read_until_close

ENV = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
BANNER = re.compile(r"Serving (.*) on \S+ port (\d+) ")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m driver`` expecting it to exit by itself (a startup error)."""
    return subprocess.run(
        [sys.executable, "-m", "driver", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("usage:")]
    assert len(lines) == 1, result.stderr
    assert needle in lines[0], lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch_from_cli(args: list[str], path: str, cwd: Path) -> tuple[str, bytes]:
    """Start the server with ``args``, fetch ``path`` once; (what it serves, response)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "driver", *args],
        cwd=cwd,
        env=ENV,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        match = BANNER.search(proc.stderr.readline())
        assert match, "no banner"
        port = int(match.group(2))
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.02)
        with sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            return match.group(1), read_until_close(sock)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "hello.txt").write_text("from public\n")
    (tmp_path / "here.txt").write_text("from cwd\n")
    return tmp_path


def test_positional_port_as_http_server_takes_it(site: Path) -> None:
    port = free_port()
    what, response = fetch_from_cli([str(port), "-b", "127.0.0.1"], "/here.txt", site)
    assert response.startswith(b"HTTP/1.0 200")
    assert response.endswith(b"from cwd\n")
    assert str(site) in what


def test_directory_option_and_protocol_option(site: Path) -> None:
    args = ["-d", "public", "-b", "127.0.0.1", "-p", "HTTP/1.1", "--port", "0"]
    _, response = fetch_from_cli(args, "/hello.txt", site)
    assert response.endswith(b"from public\n")


def test_positional_directory_still_works(site: Path) -> None:
    _, response = fetch_from_cli(["public", "--bind", "127.0.0.1", "-p", "0"], "/hello.txt", site)
    assert response.endswith(b"from public\n")


def test_nodelay_can_be_turned_off(site: Path) -> None:
    _, response = fetch_from_cli(["-b", "127.0.0.1", "-p", "0", "--no-nodelay"], "/here.txt", site)
    assert response.endswith(b"from cwd\n")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-d", "no-such-dir"], "directory 'no-such-dir' does not exist"),
        (["no-such-dir"], "directory 'no-such-dir' does not exist"),
        (["-d", "here.txt"], "'here.txt' is not a directory"),
        (["--cgi"], "--cgi is not supported"),
        (["--hello", "-d", "public"], "does not apply with --hello"),
        (["-b", "no-such-host.invalid"], "cannot listen on 'no-such-host.invalid'"),
        (["99999"], "a port is 0..65535"),
        (["-p", "HTTP/2"], "not a port number"),
        (["8000", "--port", "8001"], "two ports given"),
        (["public", "-d", "public"], "two directories given"),
        (["--header-timeout", "nan"], "must be a finite number > 0"),
        (["--workers", "0"], "must be >= 1"),
        (["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_startup_mistakes_are_one_line_and_exit_2(site: Path, args: list[str], needle: str) -> None:
    assert_one_line_error(run_cli(*args, cwd=site), needle)


def test_port_in_use_is_one_line_and_exit_2(site: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("-b", "127.0.0.1", str(port), cwd=site)
    assert_one_line_error(result, f"cannot listen on 127.0.0.1 port {port}")


def test_help_shows_each_default_once() -> None:
    # argparse's ArgumentDefaultsHelpFormatter appends "(default: ...)" even where the
    # help already says it, and "(default: None)" where there is nothing to say.
    result = subprocess.run(
        [sys.executable, "-m", "driver", "--help"],
        env={**ENV, "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    entries: list[str] = []
    for line in result.stdout.splitlines():
        if re.match(r"  \S", line):  # an option or a positional: a new entry
            entries.append(line)
        elif line.startswith("    ") and entries:
            entries[-1] += " " + line.strip()
    options = [entry for entry in entries if entry.lstrip().startswith(("-", "PORT"))]
    assert len(options) > 30, result.stdout
    for entry in options:
        assert len(re.findall(r"\(default", entry)) <= 1, entry
        assert "(default: None)" not in entry and "(default: False)" not in entry, entry
    for option in (
        "--uds PATH",
        "--fd N",
        "--certfile FILE, --tls-cert FILE",
        "--tls-password-file",
    ):
        assert option in result.stdout
