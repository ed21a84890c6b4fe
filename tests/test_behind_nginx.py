"""h10 behind nginx: the README's "Behind nginx" configuration, run for real.

nginx (``daemon off``, every path in a temporary directory, loopback only) proxies to
an upstream of two h10 instances with keep-alive connections to them
(``proxy_http_version 1.1`` and an empty ``Connection`` header, as nginx's
documentation asks for ``keepalive``). Files and a WSGI app are fetched through it;
the requests are spread over both instances, and the instances keep idle upstream
connections open afterwards (without keep-alive nginx would close each one).

Then the README's Unix-socket configuration, read from the README: nginx terminates
TLS and proxies to h10 ``--uds`` with ``X-Forwarded-For`` and ``X-Forwarded-Proto``,
and a Django view sees ``is_secure()``, the client's address and ``https://`` URIs;
the same headers sent straight to h10 from a peer it does not trust change nothing.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import http.client
import json
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from server_helpers import (
    SRC,
    ServerProcess,
    app_dir,
    free_port,
    read_response,
    read_until_close,
    running_nginx,
    running_server,
    terminate,
)
from stress_harness import fd_count

__all__ = ["app_dir"]  # fixture used by this module

# Everything around the README's server blocks: what a test's nginx needs to run as
# the test's user, every path in its temporary directory. {placeholders} are filled in.
NGINX_SHELL = """\
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{
    worker_connections {connections};
}}

http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

{server}
}}
"""

# The configuration the README shows ("Behind nginx").
NGINX_CONF = """\
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
        NGINX_SHELL.format(
            tmp=tmp,
            user=_user_line(),
            connections=1024,
            server=NGINX_CONF.format(port=port, port_a=port_a, port_b=port_b),
        )
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


# -- over a Unix socket, with trusted proxy headers ---------------------------------------

README = Path(__file__).resolve().parents[1] / "README.md"
APPS = Path(__file__).resolve().parent / "wsgi_apps"
# What the README's Unix-socket configuration names, replaced here by the test's own.
README_SOCKET = "/run/h10/h10.sock"
README_LISTEN = "listen 443 ssl;"
README_CERT = "/etc/h10/cert.pem"
README_KEY = "/etc/h10/key.pem"


def readme_unix_server_block() -> str:
    """The README's ``server { ... }`` that proxies to a Unix socket, as shown."""
    blocks: list[str] = re.findall(r"```nginx\n(.*?)```", README.read_text(), flags=re.S)
    (block,) = [b for b in blocks if "proxy_pass http://unix:" in b]
    for shown in (README_SOCKET, README_LISTEN, README_CERT, README_KEY):
        assert shown in block, f"the README's nginx block no longer has {shown!r}"
    return block


class UnixServer:
    """``python -m driver --uds PATH ...`` until stopped; ready once it accepts."""

    def __init__(self, path: str, *args: str) -> None:
        env = dict(os.environ)
        env.pop("FORWARDED_ALLOW_IPS", None)
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(APPS), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "driver", "--uds", path, *args],
            cwd=APPS,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as sock:
                    sock.connect(path)
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"h10 did not start on {path}: {self.log}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        terminate(self.proc)
        assert self.proc.stderr is not None
        self.log = self.proc.stderr.read()
        self.proc.stderr.close()


@pytest.fixture
def sock_path() -> Iterator[str]:
    # Short: sun_path holds 107 bytes, and pytest's tmp_path can be longer.
    folder = Path(tempfile.mkdtemp(prefix="h10-nginx-", dir="/tmp"))
    try:
        yield str(folder / "h10.sock")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def nginx_tls_to_unix(tmp: Path, sock: str) -> Iterator[tuple[int, ssl.SSLContext]]:
    """nginx with the README's Unix-socket configuration (TLS by a trustme CA on
    127.0.0.1); yields its port and a client context that trusts the CA."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "example.test")
    cert.cert_chain_pems[0].write_to_path(tmp / "cert.pem")
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(tmp / "cert.pem", append=True)
    cert.private_key_pem.write_to_path(tmp / "key.pem")
    port = free_port()
    server = (
        readme_unix_server_block()
        .replace(README_SOCKET, sock)
        .replace(README_LISTEN, f"listen 127.0.0.1:{port} ssl;")
        .replace(README_CERT, str(tmp / "cert.pem"))
        .replace(README_KEY, str(tmp / "key.pem"))
    )
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_SHELL.format(tmp=tmp, user=_user_line(), connections=64, server=server))
    client = ssl.create_default_context()
    ca.configure_trust(client)
    args = ["-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)]
    with running_nginx(args, port, tmp / "error.log"):
        yield port, client


def _origin(
    conn: http.client.HTTPConnection, headers: dict[str, str]
) -> tuple[int, dict[str, object]]:
    try:
        conn.request("GET", "/origin", headers={"Host": "example.test", **headers})
        response = conn.getresponse()
        body = response.read()
        return response.status, json.loads(body) if response.status == 200 else {"body": body}
    finally:
        conn.close()


def test_django_behind_nginx_over_a_unix_socket_sees_the_client(
    tmp_path: Path, sock_path: str
) -> None:
    h10 = UnixServer(sock_path, "--wsgi", "django_app:app", "--forwarded-allow-ips", "unix:")
    try:
        with nginx_tls_to_unix(tmp_path, sock_path) as (port, client):
            # The client sends an X-Forwarded-For of its own: nginx appends the
            # address it saw, and h10, trusting only nginx (unix:), takes that one.
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=client, timeout=10)
            status, seen = _origin(conn, {"X-Forwarded-For": "198.51.100.77"})
            assert status == 200, seen
            assert seen["secure"] is True
            assert seen["remote_addr"] == "127.0.0.1"
            assert seen["uri"] == "https://example.test/origin"
            assert seen["external"] == "https://example.test/origin"
        assert (tmp_path / "error.log").read_text().count("[error]") == 0
    finally:
        h10.stop()
    # The access log shows the client nginx saw, not the Unix peer ("unix:").
    assert "127.0.0.1 - - [" in h10.log and '"GET /origin HTTP/1.0" 200' in h10.log, h10.log
    assert "unix: - - [" not in h10.log


def test_with_loopback_trusted_too_the_walk_goes_on_past_nginx_s_entry(
    tmp_path: Path, sock_path: str
) -> None:
    # The default list trusts 127.0.0.1 as well: nginx's entry for a loopback client
    # is a trusted hop, and the right-most untrusted one is what the client sent.
    h10 = UnixServer(sock_path, "--wsgi", "django_app:app")
    try:
        with nginx_tls_to_unix(tmp_path, sock_path) as (port, client):
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=client, timeout=10)
            _, seen = _origin(conn, {"X-Forwarded-For": "192.0.2.1, 198.51.100.77"})
            assert (seen["secure"], seen["remote_addr"]) == (True, "198.51.100.77")
    finally:
        h10.stop()


def test_the_same_headers_from_an_untrusted_peer_change_nothing() -> None:
    # h10 over TCP, trusting only Unix-socket peers: 127.0.0.1 is not a proxy of ours.
    with running_server(
        "--wsgi", "django_app:app", "--forwarded-allow-ips", "unix:", cwd=APPS
    ) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        headers = {"X-Forwarded-For": "198.51.100.77", "X-Forwarded-Proto": "https"}
        status, seen = _origin(conn, headers)
        assert status == 200, seen
        assert seen["secure"] is False
        assert seen["remote_addr"] == "127.0.0.1"
        assert seen["uri"] == "http://example.test/origin"
