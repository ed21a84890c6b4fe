"""HTTPS end to end: ``python -m driver --certfile/--keyfile`` (and http.server's
``--tls-cert/--tls-key/--tls-password-file``) with certificates made at test time by
trustme, in both trigger modes. Clients: curl ``--cacert``, requests with ``verify=``
(GET and a keep-alive pair), Python's ``ssl`` and http.client (GET, keep-alive, a 5 MiB
file, pipelining, a WSGI upload), and the hostile handshakes (plain HTTP to the TLS
port, a truncated ClientHello, a handshake sent a byte at a time, a reset
mid-handshake), each while a bystander is being served."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme

import driver
from driver.tls import PLAIN_HTTP_REPLY

from server_helpers import (
    SRC,
    ServerProcess,
    curl,
    raw_exchange,
    read_response,
    read_until_close,
    running_server,
    trigger,
)

__all__ = ["trigger"]

FILE_SIZE = 5 * 1024 * 1024
UPLOAD_APP = """
def app(environ, start_response):
    body = environ["wsgi.input"].read()
    out = ("%s %d %s" % (environ["wsgi.url_scheme"], len(body), environ["REMOTE_ADDR"]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [out.encode()]
"""


class Certificates:
    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("localhost", "127.0.0.1")
        self.chain = folder / "chain.pem"
        self.key = folder / "key.pem"
        self.both = folder / "both.pem"
        self.ca_file = folder / "ca.pem"
        self.chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        self.key.write_bytes(cert.private_key_pem.bytes())
        self.both.write_bytes(cert.private_key_and_cert_chain_pem.bytes())
        self.ca_file.write_bytes(self.ca.cert_pem.bytes())
        self.client = ssl.create_default_context()
        self.ca.configure_trust(self.client)
        self.pem_key = cert.private_key_pem.bytes()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tls-site")
    (root / "small.txt").write_bytes(b"hello over TLS\n")
    (root / "big.bin").write_bytes(os.urandom(FILE_SIZE))
    (root / "uploadapp.py").write_text(UPLOAD_APP)
    return root


@pytest.fixture(scope="module")
def digest(site: Path) -> bytes:
    """The SHA-256 of the 5 MiB file."""
    return hashlib.sha256((site / "big.bin").read_bytes()).digest()


@pytest.fixture(scope="module")
def server(certs: Certificates, site: Path, trigger: list[str]) -> Iterator[ServerProcess]:
    args = [
        "--certfile", str(certs.chain), "--keyfile", str(certs.key),
        "--handshake-timeout", "1", str(site), *trigger,
    ]  # fmt: skip
    with running_server(*args) as process:
        yield process
    assert "Traceback" not in process.stderr, process.stderr


def https(certs: Certificates, port: int) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("localhost", port, timeout=10, context=certs.client)


def tls_socket(certs: Certificates, port: int) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return certs.client.wrap_socket(raw, server_hostname="localhost")


def bystander_ok(certs: Certificates, port: int) -> None:
    conn = https(certs, port)
    try:
        conn.request("GET", "/small.txt")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"hello over TLS\n")
    finally:
        conn.close()


# -- well-behaved clients -----------------------------------------------------------------


def test_the_banner_shows_an_https_url(server: ServerProcess) -> None:
    assert f"(https://127.0.0.1:{server.port}/)" in server.stderr


def test_requests_with_verify(server: ServerProcess, certs: Certificates, digest: bytes) -> None:
    url = f"https://localhost:{server.port}"
    with requests.Session() as session:
        response = session.get(f"{url}/small.txt", verify=str(certs.ca_file), timeout=10)
        assert (response.status_code, response.content) == (200, b"hello over TLS\n")
        # A keep-alive pair: the second request goes on the first one's connection.
        response = session.get(f"{url}/big.bin", verify=str(certs.ca_file), timeout=10)
        assert response.status_code == 200
        assert hashlib.sha256(response.content).digest() == digest
        adapter = session.get_adapter(url)
        assert isinstance(adapter, requests.adapters.HTTPAdapter)
        pools = adapter.poolmanager.pools
        (key,) = pools.keys()
        pool = pools[key]
        assert pool.num_connections == 1
        assert pool.num_requests == 2
    # verify= is what makes it work: without the CA the certificate is refused.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{url}/small.txt", timeout=10)


def test_curl_with_cacert(server: ServerProcess, certs: Certificates, digest: bytes) -> None:
    status, _headers, body = curl(
        f"https://localhost:{server.port}/small.txt", "--cacert", str(certs.ca_file)
    )
    assert (status, body) == (200, b"hello over TLS\n")
    status, _headers, body = curl(
        f"https://127.0.0.1:{server.port}/big.bin", "--cacert", str(certs.ca_file)
    )
    assert status == 200 and hashlib.sha256(body).digest() == digest


def test_get_and_keep_alive(server: ServerProcess, certs: Certificates) -> None:
    conn = https(certs, server.port)
    try:
        conn.request("GET", "/small.txt")
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, b"hello over TLS\n")
        sock = conn.sock
        assert isinstance(sock, ssl.SSLSocket) and sock.version() in ("TLSv1.2", "TLSv1.3")
        assert sock.selected_alpn_protocol() in (None, "http/1.1")
        for _ in range(3):
            conn.request("GET", "/small.txt")
            response = conn.getresponse()
            assert response.read() == b"hello over TLS\n"
            assert conn.sock is sock  # the same connection: kept alive
    finally:
        conn.close()


def test_a_5_mib_file(server: ServerProcess, certs: Certificates, digest: bytes) -> None:
    conn = https(certs, server.port)
    try:
        conn.request("GET", "/big.bin")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("content-length") == str(FILE_SIZE)
        assert hashlib.sha256(response.read()).digest() == digest
        conn.request("HEAD", "/big.bin")  # and the connection goes on after it
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_pipelined_requests(server: ServerProcess, certs: Certificates, digest: bytes) -> None:
    with tls_socket(certs, server.port) as sock:
        request = b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        sock.sendall(request * 3 + b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        buffered = bytearray()
        for _ in range(3):
            status, _headers, body = read_response(sock, buffered)
            assert status == b"HTTP/1.1 200 OK" and body == b"hello over TLS\n"
        status, _headers, body = read_response(sock, buffered)
        assert hashlib.sha256(body).digest() == digest


def test_plain_http_to_the_tls_port_gets_a_plain_400(
    server: ServerProcess, certs: Certificates
) -> None:
    answer = raw_exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer == PLAIN_HTTP_REPLY
    bystander_ok(certs, server.port)


def client_hello(certs: Certificates) -> bytes:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = certs.client.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


def test_a_truncated_client_hello_is_dropped(server: ServerProcess, certs: Certificates) -> None:
    hello = client_hello(certs)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(hello[: len(hello) // 2])
        sock.shutdown(socket.SHUT_WR)
        bystander_ok(certs, server.port)
        assert read_until_close(sock) == b""  # nothing sent back, closed


def test_a_handshake_a_byte_at_a_time_is_cut_off_without_holding_anyone_up(
    server: ServerProcess, certs: Certificates
) -> None:
    # --handshake-timeout 1: an absolute deadline from accept, which the drip (a byte
    # every 50 ms, the whole hello would take many seconds) does not extend.
    hello = client_hello(certs)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sent = 0
        for byte in hello:
            try:
                sock.send(bytes([byte]))
            except OSError:
                break  # reset by the server
            sent += 1
            if sent % 5 == 0:
                bystander_ok(certs, server.port)  # others are served meanwhile
            time.sleep(0.05)
        assert sent < len(hello), "the server let the drip go on to the end"


def test_a_reset_mid_handshake_touches_no_one_else(
    server: ServerProcess, certs: Certificates
) -> None:
    hello = client_hello(certs)
    with tls_socket(certs, server.port) as other:  # a connection in progress
        other.sendall(b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(hello[:100])
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert read_response(other, bytearray())[2] == b"hello over TLS\n"
    bystander_ok(certs, server.port)
    assert "internal error" not in server.stderr


def test_http_server_spellings_and_an_encrypted_key(
    certs: Certificates, site: Path, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(certs.pem_key, password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    )
    (tmp_path / "key.pem").write_bytes(encrypted)
    (tmp_path / "password").write_text("s3cret\n")
    args = [
        "--tls-cert", str(certs.chain), "--tls-key", str(tmp_path / "key.pem"),
        "--tls-password-file", str(tmp_path / "password"), str(site),
    ]  # fmt: skip
    with running_server(*args) as process:
        bystander_ok(certs, process.port)
    (tmp_path / "password").write_text("wrong\n")
    result = subprocess.run(
        [sys.executable, "-m", "driver", "--port", "0", *args],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "cannot load the TLS certificate" in lines[0], result.stderr


def test_a_missing_certificate_is_a_one_line_error(site: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "driver", "--certfile", str(tmp_path / "nope.pem"), str(site)],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "nope.pem" in result.stderr


# -- the scheme an application sees --------------------------------------------------------


def test_a_wsgi_upload_sees_https(certs: Certificates, site: Path, trigger: list[str]) -> None:
    args = ["--certfile", str(certs.both), "--wsgi", "uploadapp:app", *trigger]
    body = os.urandom(3 * 1024 * 1024)
    with running_server(*args, cwd=site) as process:
        conn = https(certs, process.port)
        try:
            conn.request("POST", "/up", body=body, headers={"Content-Type": "x/y"})
            response = conn.getresponse()
            assert response.status == 200
            assert response.read() == b"https %d 127.0.0.1" % len(body)
            # Chunked, as requests sends a generator.
            conn.request("POST", "/up", body=iter([body[:1000], body[1000:5000]]))
            assert conn.getresponse().read() == b"https 5000 127.0.0.1"
        finally:
            conn.close()


def test_a_native_request_sees_https(certs: Certificates) -> None:
    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, (), f"{request.scheme} {request.client[0]}".encode())

    config = driver.Config(host="127.0.0.1", port=0, access_log=False, certfile=str(certs.both))
    server = driver.Server(app, config)
    port = server.listener.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"install_signals": False})
    thread.start()
    try:
        conn = https(certs, port)
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"https 127.0.0.1"
        conn.close()
    finally:
        server.stop_threadsafe()
        thread.join(10)
    assert not thread.is_alive()
    plain = driver.Server(app, driver.Config(host="127.0.0.1", port=0, access_log=False))
    plain_port = plain.listener.getsockname()[1]
    thread = threading.Thread(target=plain.run, kwargs={"install_signals": False})
    thread.start()
    try:
        assert raw_exchange(plain_port, b"GET / HTTP/1.0\r\n\r\n").endswith(b"http 127.0.0.1")
    finally:
        plain.stop_threadsafe()
        thread.join(10)


def test_idle_tls_connections_make_room_at_the_cap_and_are_forgotten(
    certs: Certificates, trigger: list[str]
) -> None:
    # The HTTP protocol's transport is the TLS layer; the loop keeps (and forgets,
    # and closes to make room) the socket's own transport below it.
    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, (), b"ok")

    config = driver.Config(
        host="127.0.0.1",
        port=0,
        access_log=False,
        certfile=str(certs.both),
        max_connections=2,
        edge_triggered="--edge-triggered" in trigger,
    )
    server = driver.Server(app, config)
    port = server.listener.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"install_signals": False})
    thread.start()
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
    try:
        idle = [tls_socket(certs, port) for _ in range(2)]
        for sock in idle:
            sock.sendall(request)
            assert read_response(sock, bytearray())[2] == b"ok"
        with tls_socket(certs, port) as newcomer:  # beyond the cap: one idle one gives way
            newcomer.sendall(request)
            assert read_response(newcomer, bytearray())[2] == b"ok"
        oldest, newest = idle
        oldest.settimeout(5)
        with contextlib.suppress(ConnectionResetError, ssl.SSLError):
            assert oldest.recv(1) == b""  # the one idle longest was closed
        newest.sendall(request)  # the other one is still served
        assert read_response(newest, bytearray())[2] == b"ok"
        for sock in idle:
            sock.close()
        deadline = time.monotonic() + 5
        while (server.loop.transports or server.loop._idle) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not server.loop.transports and not server.loop._idle  # nothing kept
    finally:
        server.stop_threadsafe()
        thread.join(10)
    assert not thread.is_alive()


def test_tls_on_a_unix_socket_with_two_workers(certs: Certificates, site: Path) -> None:
    # The layers compose: TLS over a shared Unix socket, accepted by two workers.
    folder = Path(f"/tmp/h10-tls-{os.getpid()}-{time.monotonic_ns()}")
    folder.mkdir()
    path = folder / "s.sock"
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
    args = ["--uds", str(path), "--workers", "2", "--certfile", str(certs.both), str(site)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "driver", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        assert f"on unix:{path} (mode 660), 2 workers" in banner, banner
        for _ in range(3):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
                raw.settimeout(10)
                raw.connect(str(path))
                with certs.client.wrap_socket(raw, server_hostname="localhost") as sock:
                    sock.sendall(b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    assert read_response(sock, bytearray())[2] == b"hello over TLS\n"
        status, _headers, body = curl(
            "https://localhost/big.bin", "--unix-socket", str(path), "--cacert", str(certs.ca_file)
        )
        assert status == 200 and len(body) == FILE_SIZE
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
        assert not path.exists()
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
