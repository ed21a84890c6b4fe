"""Real clients against the real server: ApacheBench (HTTP/1.0, with and without
``-k``), wrk (HTTP/1.1 keep-alive), curl, and nginx as a reverse proxy in front,
with both its default HTTP/1.0 upstream and an HTTP/1.1 keep-alive upstream.

Every test runs in both epoll trigger modes.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_helpers import (
    DOCROOT_FILES,
    ServerProcess,
    curl,
    docroot,
    free_port,
    require_tool,
    running_nginx,
    running_server,
    trigger,
)

__all__ = ["docroot", "trigger"]  # fixtures used by this module


@pytest.fixture(scope="module")
def hello(trigger: list[str]) -> Iterator[ServerProcess]:
    with running_server("--hello", "--no-access-log", *trigger) as proc:
        yield proc


@pytest.fixture(scope="module")
def files(docroot: Path, trigger: list[str]) -> Iterator[ServerProcess]:
    with running_server(str(docroot), "--no-access-log", *trigger) as proc:
        yield proc


def _ab(url: str, *options: str) -> str:
    result = subprocess.run(
        [require_tool("ab"), "-n", "500", "-c", "10", "-s", "10", *options, url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def _field(report: str, name: str) -> int:
    match = re.search(rf"^{name}:\s+(\d+)", report, re.MULTILINE)
    assert match, report
    return int(match.group(1))


def test_ab_http10_connection_per_request(hello: ServerProcess) -> None:
    report = _ab(hello.url())
    assert _field(report, "Complete requests") == 500
    assert _field(report, "Failed requests") == 0
    assert "Keep-Alive requests" not in report  # ab prints it only with -k
    assert _field(report, "Document Length") == 13
    assert "Non-2xx" not in report


def test_ab_http10_keep_alive(hello: ServerProcess) -> None:
    report = _ab(hello.url(), "-k")
    assert _field(report, "Complete requests") == 500
    assert _field(report, "Failed requests") == 0
    assert _field(report, "Keep-Alive requests") == 500
    assert "Non-2xx" not in report


def test_ab_fetches_a_file_with_sendfile(files: ServerProcess) -> None:
    report = _ab(files.url("/big.bin"), "-k")
    assert _field(report, "Complete requests") == 500
    assert _field(report, "Failed requests") == 0
    assert _field(report, "Document Length") == 1024 * 1024


def test_wrk_keep_alive(hello: ServerProcess) -> None:
    result = subprocess.run(
        [require_tool("wrk"), "-t1", "-c20", "-d1s", "--timeout", "5s", hello.url()],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    match = re.search(r"(\d+) requests in", result.stdout)
    assert match, result.stdout
    assert int(match.group(1)) > 100
    assert "Socket errors" not in result.stdout
    assert "Non-2xx" not in result.stdout


@pytest.mark.parametrize("version", ["--http1.0", "--http1.1"])
def test_curl_reuses_the_connection(files: ServerProcess, version: str) -> None:
    # Two URLs in one curl run: with keep-alive curl reuses the first connection.
    out = subprocess.run(
        [
            require_tool("curl"),
            "-sv",
            version,
            "-H",
            "Connection: keep-alive",
            files.url("/small.txt"),
            files.url("/data.json"),
        ],
        capture_output=True,
        timeout=20,
        check=True,
    )
    assert out.stdout == DOCROOT_FILES["small.txt"] + DOCROOT_FILES["data.json"]
    assert b"Re-using existing connection" in out.stderr


NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream h10_keepalive {{
        server 127.0.0.1:{upstream};
        keepalive 4;
    }}
    server {{
        listen 127.0.0.1:{port};
        # nginx's default: HTTP/1.0 to the upstream, one connection per request.
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
        }}
        # What nginx 1.29.7+ does by default: HTTP/1.1 with upstream keep-alive.
        location /ka/ {{
            proxy_pass http://h10_keepalive/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx(files: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """nginx on a free port, proxying to the file server; yields its port."""
    tmp = tmp_path_factory.mktemp("nginx")
    tmp.chmod(0o777)  # nginx workers may run as another user
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, upstream=files.port))
    args = ["-c", str(conf), "-p", str(tmp), "-g", "daemon off;"]
    with running_nginx(args, port, tmp / "error.log"):
        yield port


@pytest.mark.parametrize("prefix", ["", "/ka"], ids=["upstream-1.0", "upstream-1.1-keepalive"])
def test_nginx_proxies_small_and_large_files_intact(nginx: int, docroot: Path, prefix: str) -> None:
    big = hashlib.sha256((docroot / "big.bin").read_bytes()).hexdigest()
    for _ in range(3):
        status, _, body = curl(f"http://127.0.0.1:{nginx}{prefix}/small.txt")
        assert (status, body) == (200, DOCROOT_FILES["small.txt"])
        status, headers, body = curl(f"http://127.0.0.1:{nginx}{prefix}/big.bin")
        assert status == 200
        assert headers[b"content-length"] == b"1048576"
        assert hashlib.sha256(body).hexdigest() == big
    status, _, body = curl(f"http://127.0.0.1:{nginx}{prefix}/big.bin", "-r", "10-19")
    assert (status, body) == (206, (docroot / "big.bin").read_bytes()[10:20])
    status, _, _ = curl(f"http://127.0.0.1:{nginx}{prefix}/missing")
    assert status == 404
