"""h10 behind nginx: the README's "Behind nginx" configuration, run for real.

nginx (``daemon off``, every path in a temporary directory, loopback only) proxies to
an upstream of two h10 instances with keep-alive connections to them
(``proxy_http_version 1.1`` and an empty ``Connection`` header, as nginx's
documentation asks for ``keepalive``). Files and a WSGI app are fetched through it;
the requests are spread over both instances, and the instances keep idle upstream
connections open afterwards (without keep-alive nginx would close each one).
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import os
import pwd
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_helpers import (
    ServerProcess,
    app_dir,
    free_port,
    read_response,
    read_until_close,
    running_nginx,
    running_server,
)
from stress_harness import fd_count

__all__ = ["app_dir"]  # fixture used by this module

# The configuration the README shows ("Behind nginx"); {placeholders} are filled in.
NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    upstream h10 {{
        server 127.0.0.1:{port_a};
        server 127.0.0.1:{port_b};
        keepalive 16;                        # idle connections kept to the upstream
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://h10;
            proxy_http_version 1.1;          # keep-alive needs 1.1 towards h10 ...
            proxy_set_header Connection "";  # ... and no "Connection: close" from nginx
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


def _user_line() -> str:
    # As root, nginx would run its worker as "nobody", which cannot enter a private
    # temporary directory; as anyone else the directive is ignored, so leave it out.
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};"


@contextlib.contextmanager
def nginx(tmp: Path, port_a: int, port_b: int) -> Iterator[int]:
    """nginx proxying to two upstreams for the duration of the block; yields its port."""
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(tmp=tmp, user=_user_line(), port=port, port_a=port_a, port_b=port_b)
    )
    args = ["-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)]
    with running_nginx(args, port, tmp / "error.log"):
        yield port


def _get(port: int, path: str) -> tuple[bytes, dict[bytes, bytes], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: example.test\r\n\r\n".encode())
        return read_response(sock, bytearray())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "small.txt").write_bytes(b"hello from h10\n")
    (root / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return root


def _requests_seen(server: ServerProcess) -> int:
    return len(re.findall(r'"GET /', server.stderr))


def test_files_through_nginx_spread_over_two_instances_with_keep_alive(
    site: Path, tmp_path: Path
) -> None:
    with running_server(str(site)) as a, running_server(str(site)) as b:
        base = fd_count(a.proc.pid) + fd_count(b.proc.pid)
        with nginx(tmp_path, a.port, b.port) as port:
            for _ in range(20):
                status, headers, body = _get(port, "/small.txt")
                assert status == b"HTTP/1.1 200 OK"
                assert body == b"hello from h10\n"
                assert headers[b"content-type"] == b"text/plain; charset=utf-8"
            status, _, body = _get(port, "/big.bin")
            assert status == b"HTTP/1.1 200 OK"
            digest = hashlib.sha256((site / "big.bin").read_bytes()).digest()
            assert hashlib.sha256(body).digest() == digest
            status, _, _ = _get(port, "/missing.txt")
            assert status == b"HTTP/1.1 404 Not Found"
            # Both instances answered, and they still hold nginx's idle upstream
            # connections: keep-alive towards h10 works.
            a.wait_for_log('"GET /small.txt HTTP/1.1" 200')
            b.wait_for_log('"GET /small.txt HTTP/1.1" 200')
            deadline = time.monotonic() + 5
            while _requests_seen(a) + _requests_seen(b) < 22 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _requests_seen(a) + _requests_seen(b) == 22
            held = fd_count(a.proc.pid) + fd_count(b.proc.pid) - base
            assert 1 <= held <= 16
        assert (tmp_path / "error.log").read_text().count("[error]") == 0


def test_app_through_nginx(app_dir: Path, tmp_path: Path) -> None:
    with (
        running_server("--wsgi", "testapp:app", cwd=app_dir) as a,
        running_server("--wsgi", "testapp:app", cwd=app_dir) as b,
        nginx(tmp_path, a.port, b.port) as port,
    ):
        for _ in range(4):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    b"POST /echo?x=1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\n"
                    b"Connection: close\r\n\r\nhello"
                )
                response = read_until_close(sock)
            head, _, body = response.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK")
            assert b"method=POST\npath=/echo\nquery=x=1\n" in body
            assert b"x_forwarded_for=127.0.0.1\n" in body
            assert body.endswith(b"body_len=5\nhello")
        assert _requests_seen(a) + _requests_seen(b) == 0  # POSTs only
        assert '"POST /echo?x=1 HTTP/1.1" 200' in a.stderr + b.stderr
