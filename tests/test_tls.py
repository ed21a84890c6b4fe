"""The TLS layer prototype (driver.tls): the real SocketTransport and HTTPProtocol with
a TLSLayer between them, over socketpair(), driven by a small epoll loop of the
test's own, in both trigger modes; clients are Python's ssl and http.client, with a
CA made at test time by trustme."""

from __future__ import annotations

import contextlib
import functools
import http.client
import os
import select
import socket
import ssl
import struct
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

import sansio
from driver.app import FileBody, HTTPRequest, Reply
from driver.config import Config, TransportConfig
from driver.context import ServerContext
from driver.interfaces import ConnectionProtocol, Timed, Transport
from driver.protocol import HTTPProtocol
from driver.tls import FILE_PIECE, PLAIN_HTTP_REPLY, TLSLayer, server_context, tls_factory
from driver.transport import SocketTransport

FILE_SIZE = 5 * 1024 * 1024
HIGH_WATER = 256 * 1024


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_ssl(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    cert = ca.issue_cert("localhost")
    folder = tmp_path_factory.mktemp("tls")
    chain, key = folder / "cert.pem", folder / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    key.write_bytes(cert.private_key_pem.bytes())
    return server_context(str(chain), str(key))


@pytest.fixture(scope="module")
def client_ssl(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture(scope="module")
def big_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.bin"
        path.write_bytes(os.urandom(FILE_SIZE))
        yield path


class MiniLoop:
    """Just enough of the loop for a transport and a protocol (interfaces.EventLoop)."""

    def __init__(self, edge: bool) -> None:
        self.now = time.monotonic()
        self.stopping = False
        self.epoll = select.epoll()
        self.flags = (select.EPOLLET | select.EPOLLRDHUP) if edge else 0
        self.ready: deque[tuple[Callable[..., object], tuple[object, ...]]] = deque()
        self.timed: list[weakref.ref[Timed]] = []
        self.transports: dict[int, SocketTransport] = {}
        self.config = TransportConfig(
            recv_size=65536,
            high_water=HIGH_WATER,
            low_water=HIGH_WATER // 4,
            write_timeout=10.0,
            edge_triggered=edge,
            cork=False,
        )

    def keep_idle(self, transport: Transport) -> None:
        """No connection cap here: nothing is ever reclaimed."""

    def time(self) -> float:
        return self.now

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        self.ready.append((fn, args))

    call_soon_threadsafe = call_soon

    def schedule(self, timed: Timed) -> None:
        timed.timer_at = timed.deadline
        self.timed.append(weakref.ref(timed))

    def modify(self, fd: int, mask: int) -> None:
        with contextlib.suppress(OSError):
            self.epoll.modify(fd, mask | self.flags)

    def forget(self, fd: int) -> None:
        self.transports.pop(fd, None)

    def accept(
        self, sock: socket.socket, factory: Callable[[], ConnectionProtocol]
    ) -> SocketTransport:
        """As the real loop's accept: read once, then register and arm the timer."""
        transport = SocketTransport(self, sock, ("127.0.0.1", 4321), factory(), self.config)
        self.transports[transport.fd] = transport
        transport.on_readable()
        if not transport.closed:
            self.epoll.register(transport.fd, transport.mask | self.flags)
            transport.registered = True
            protocol = transport.protocol
            if protocol.deadline < protocol.timer_at:
                self.schedule(protocol)
        return transport

    def run_until(self, done: Callable[[], bool], timeout: float = 30.0) -> None:
        give_up = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < give_up, "the exchange did not finish in time"
            events = self.epoll.poll(0 if self.ready else 0.02)
            self.now = time.monotonic()
            for fd, mask in events:
                transport = self.transports.get(fd)
                if transport is not None:
                    transport.on_event(mask)
            for ref in list(self.timed):
                timed = ref()
                if timed is None or timed.closed:
                    self.timed.remove(ref)
                elif timed.deadline <= self.now and timed.timer_at != float("inf"):
                    timed.timer_at = float("inf")
                    self.timed.remove(ref)
                    timed.on_timeout()
            for _ in range(len(self.ready)):
                fn, args = self.ready.popleft()
                fn(*args)


def app_for(big: Path) -> Callable[[HTTPRequest], Reply]:
    def app(request: HTTPRequest) -> Reply:
        if request.target == b"/big":
            fd = os.open(big, os.O_RDONLY)
            return Reply(200, (), FileBody(fd, 0, FILE_SIZE))
        if request.method == b"POST":
            return Reply(200, (), b"%d" % len(request.body))
        return Reply(200, ((b"content-type", b"text/plain"),), b"hello over TLS\n")

    return app


class Server:
    """One connection: a socketpair, the server end behind TLS and HTTP."""

    def __init__(
        self, edge: bool, context: ssl.SSLContext, big: Path, handshake_timeout: float = 10.0
    ) -> None:
        self.loop = MiniLoop(edge)
        ctx = ServerContext(
            app_for(big),
            self.loop,
            limits=sansio.Limits(max_body_size=8 << 20),
            header_timeout=10.0,
            body_timeout=10.0,
            keepalive_timeout=10.0,
            access_log=None,
            budget=Config().budget,
        )
        self.factory = tls_factory(
            self.loop, context, functools.partial(HTTPProtocol, ctx), handshake_timeout
        )

    def connect(self) -> tuple[socket.socket, SocketTransport]:
        ours, theirs = socket.socketpair()
        transport = self.loop.accept(ours, self.factory)
        return theirs, transport

    def serve(self, client: Callable[[socket.socket], object]) -> tuple[object, SocketTransport]:
        """Run ``client`` on a thread against a new connection; return what it returned."""
        sock, transport = self.connect()
        box: list[object] = []
        thread = threading.Thread(target=lambda: box.append(_catching(client, sock)))
        thread.start()
        self.loop.run_until(lambda: not thread.is_alive())
        thread.join()
        result = box[0]
        if isinstance(result, BaseException):
            raise result
        return result, transport


def _catching(fn: Callable[[socket.socket], object], sock: socket.socket) -> object:
    try:
        return fn(sock)
    except BaseException as exc:
        return exc
    finally:
        sock.close()


@pytest.fixture(params=[False, True], ids=["level", "edge"])
def server(request: pytest.FixtureRequest, server_ssl: ssl.SSLContext, big_file: Path) -> Server:
    return Server(request.param, server_ssl, big_file)


def https(client_ssl: ssl.SSLContext, sock: socket.socket) -> http.client.HTTPSConnection:
    conn = http.client.HTTPSConnection("localhost", context=client_ssl, timeout=10)
    conn.sock = client_ssl.wrap_socket(sock, server_hostname="localhost")
    return conn


# -- over the real transport and HTTP protocol --------------------------------------------


def test_get_and_keep_alive(server: Server, client_ssl: ssl.SSLContext) -> None:
    def client(sock: socket.socket) -> list[bytes]:
        conn = https(client_ssl, sock)
        bodies = []
        for _ in range(3):
            conn.request("GET", "/")
            response = conn.getresponse()
            assert response.status == 200
            bodies.append(response.read())
        return bodies

    bodies, _ = server.serve(client)
    assert bodies == [b"hello over TLS\n"] * 3


def test_a_5_mib_file_arrives_whole(
    server: Server, client_ssl: ssl.SSLContext, big_file: Path
) -> None:
    def client(sock: socket.socket) -> bytes:
        conn = https(client_ssl, sock)
        conn.request("GET", "/big")
        response = conn.getresponse()
        assert response.getheader("content-length") == str(FILE_SIZE)
        return response.read()

    body, _ = server.serve(client)
    assert body == big_file.read_bytes()


def test_a_file_to_a_slow_reader_stays_below_high_water(
    server: Server, client_ssl: ssl.SSLContext
) -> None:
    sizes: list[int] = []

    def client(sock: socket.socket) -> int:
        tls = client_ssl.wrap_socket(sock, server_hostname="localhost")
        tls.sendall(b"GET /big HTTP/1.0\r\n\r\n")
        total = 0
        while chunk := tls.recv(65536):
            total += len(chunk)
            if total < FILE_SIZE // 2:
                time.sleep(0.002)  # a slow reader for the first half
        return total

    sock, transport = server.connect()
    layer = transport.protocol
    assert isinstance(layer, TLSLayer)
    thread = threading.Thread(target=lambda: sizes.append(client(sock)))
    thread.start()
    peak = 0

    def done() -> bool:
        nonlocal peak
        if not transport.closed:
            peak = max(peak, transport.get_write_buffer_size())
        return not thread.is_alive()

    server.loop.run_until(done)
    thread.join()
    sock.close()
    assert sizes[0] > FILE_SIZE
    # Above high water by at most one piece and its TLS framing, never the whole file.
    assert peak <= HIGH_WATER + FILE_PIECE + 4096


def test_pipelined_requests_in_one_record(server: Server, client_ssl: ssl.SSLContext) -> None:
    def client(sock: socket.socket) -> bytes:
        tls = client_ssl.wrap_socket(sock, server_hostname="localhost")
        tls.sendall(
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 2
            + b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
        return data

    data, _ = server.serve(client)
    assert isinstance(data, bytes)
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.count(b"hello over TLS\n") == 3


def test_an_upload(server: Server, client_ssl: ssl.SSLContext) -> None:
    body = os.urandom(3 * 1024 * 1024)

    def client(sock: socket.socket) -> bytes:
        conn = https(client_ssl, sock)
        conn.request("POST", "/upload", body=body)
        return conn.getresponse().read()

    answer, _ = server.serve(client)
    assert answer == str(len(body)).encode()


def test_close_sends_close_notify(server: Server, client_ssl: ssl.SSLContext) -> None:
    def client(sock: socket.socket) -> bytes:
        tls = client_ssl.wrap_socket(sock, server_hostname="localhost", suppress_ragged_eofs=False)
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := tls.recv(65536):  # b"" on close_notify; a bare FIN raises
            data += chunk
        return data

    data, _ = server.serve(client)
    assert isinstance(data, bytes) and data.endswith(b"hello over TLS\n")


# -- hostile handshakes -----------------------------------------------------------------------


def client_hello(client_ssl: ssl.SSLContext) -> bytes:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ssl.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def read_all(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_plain_http_to_the_tls_port_gets_a_plain_400(server: Server) -> None:
    def client(sock: socket.socket) -> bytes:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return read_all(sock)

    data, transport = server.serve(client)
    assert data == PLAIN_HTTP_REPLY
    assert transport.closed


def test_a_truncated_client_hello_is_dropped(server: Server, client_ssl: ssl.SSLContext) -> None:
    hello = client_hello(client_ssl)

    def client(sock: socket.socket) -> bytes:
        sock.sendall(hello[: len(hello) // 2])
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)

    data, transport = server.serve(client)
    assert data == b""
    assert transport.closed


def test_garbage_instead_of_a_hello_is_dropped(server: Server) -> None:
    def client(sock: socket.socket) -> bytes:
        sock.sendall(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 100)
        return read_all(sock)

    data, transport = server.serve(client)
    assert transport.closed
    assert isinstance(data, bytes) and b"HTTP" not in data


@pytest.mark.parametrize("edge", [False, True], ids=["level", "edge"])
def test_a_byte_a_second_handshake_times_out_without_holding_anyone_up(
    edge: bool, server_ssl: ssl.SSLContext, client_ssl: ssl.SSLContext, big_file: Path
) -> None:
    server = Server(edge, server_ssl, big_file, handshake_timeout=0.6)
    hello = client_hello(client_ssl)
    slow, slow_transport = server.connect()
    started = time.monotonic()
    sent = 0

    def drip() -> None:
        nonlocal sent
        with contextlib.suppress(OSError):
            while sent < len(hello) and not slow_transport.closed:
                slow.send(hello[sent : sent + 1])
                sent += 1
                time.sleep(0.1)

    dripper = threading.Thread(target=drip)
    dripper.start()

    def fast(sock: socket.socket) -> bytes:
        conn = https(client_ssl, sock)
        conn.request("GET", "/")
        return conn.getresponse().read()

    body, _ = server.serve(fast)  # served while the other drips
    assert body == b"hello over TLS\n"
    server.loop.run_until(lambda: slow_transport.closed, timeout=5)
    elapsed = time.monotonic() - started
    dripper.join()
    slow.close()
    assert 0.5 <= elapsed < 3
    assert sent < len(hello)


def test_a_reset_mid_handshake_touches_no_one_else(
    server: Server, client_ssl: ssl.SSLContext
) -> None:
    hello = client_hello(client_ssl)
    rude, rude_transport = server.connect()
    rude.sendall(hello[:40])
    server.loop.run_until(lambda: True)
    rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rude.close()

    def polite(sock: socket.socket) -> bytes:
        conn = https(client_ssl, sock)
        conn.request("GET", "/")
        return conn.getresponse().read()

    body, _ = server.serve(polite)
    server.loop.run_until(lambda: rude_transport.closed, timeout=5)
    assert body == b"hello over TLS\n"
    layer = rude_transport.protocol
    assert not isinstance(layer, TLSLayer) or layer.protocol is None


# -- the context ----------------------------------------------------------------------------


def test_the_context_refuses_old_versions_and_renegotiation(server_ssl: ssl.SSLContext) -> None:
    assert server_ssl.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert server_ssl.options & ssl.OP_NO_RENEGOTIATION


def test_a_certificate_that_cannot_be_loaded_is_a_value_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ValueError, match="cannot load the TLS certificate"):
        server_context(str(missing))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ValueError, match=str(bad)):
        server_context(str(bad))


# -- the layer alone, in memory ---------------------------------------------------------------


class FakeLower:
    """The socket transport, as the layer sees it: records what it is asked."""

    def __init__(self) -> None:
        self.client = ("127.0.0.1", 4321)
        self.closed = False
        self.sent = bytearray()
        self.reading = True

    def write(self, data: bytes) -> None:
        self.sent += data

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def close(self) -> None:
        self.closed = True

    abort = write_eof = close


class PausingProtocol:
    """Takes one piece, then pauses reading until told to go on."""

    deadline = timer_at = float("inf")
    closed = idle = False

    def __init__(self) -> None:
        self.received = bytearray()
        self.eof_after: int | None = None  # bytes received when the EOF came
        self.transport: TLSLayer | None = None

    def connection_made(self, transport: TLSLayer) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data
        assert self.transport is not None
        self.transport.pause_reading()

    def eof_received(self) -> None:
        assert self.eof_after is None, "the end of the stream came twice"
        self.eof_after = len(self.received)

    def connection_lost(self, exc: BaseException | None) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...
    def on_timeout(self) -> None: ...


def tls_pair(
    server_ssl: ssl.SSLContext, client_ssl: ssl.SSLContext
) -> tuple[MiniLoop, TLSLayer, PausingProtocol, ssl.SSLObject, ssl.MemoryBIO]:
    """A layer over a FakeLower with its handshake done against an in-memory client."""
    loop = MiniLoop(edge=True)
    inner = PausingProtocol()
    layer = TLSLayer(loop, server_ssl, lambda: inner, 10.0)  # type: ignore[arg-type, return-value]
    lower = FakeLower()
    layer.connection_made(lower)  # type: ignore[arg-type]
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ssl.wrap_bio(incoming, outgoing, server_hostname="localhost")
    for _ in range(10):
        try:
            client.do_handshake()
            break
        except ssl.SSLWantReadError:
            layer.data_received(outgoing.read())
            incoming.write(bytes(lower.sent))
            lower.sent.clear()
    layer.data_received(outgoing.read())  # the client's Finished
    assert layer.protocol is not None
    assert layer.protocol is inner  # type: ignore[comparison-overlap]
    return loop, layer, inner, client, outgoing


def drain_paused(loop: MiniLoop, layer: TLSLayer, inner: PausingProtocol, size: int) -> None:
    """Resume the paused reader again and again, as a consumer would, until it has had
    ``size`` bytes and one more turn (for an end of stream behind them)."""
    turns = 0
    while len(inner.received) < size or turns < 1:
        if len(inner.received) >= size:
            turns += 1
        layer.resume_reading()  # no more bytes come from the socket
        assert loop.ready, "nothing will deliver the records already read"
        fn, args = loop.ready.popleft()
        fn(*args)


def test_resuming_reading_delivers_records_already_read_from_the_socket(
    server_ssl: ssl.SSLContext, client_ssl: ssl.SSLContext
) -> None:
    loop, layer, inner, client, outgoing = tls_pair(server_ssl, client_ssl)
    payload = os.urandom(100_000)  # about seven records, all in one socket read
    client.write(payload)
    layer.data_received(outgoing.read())
    assert 0 < len(inner.received) < len(payload)  # paused after the first record
    drain_paused(loop, layer, inner, len(payload))
    assert inner.received == payload
    assert inner.eof_after is None


@pytest.mark.parametrize("ending", ["fin", "close_notify"])
def test_the_end_of_the_stream_comes_after_the_records_before_it(
    ending: str, server_ssl: ssl.SSLContext, client_ssl: ssl.SSLContext
) -> None:
    loop, layer, inner, client, outgoing = tls_pair(server_ssl, client_ssl)
    payload = os.urandom(100_000)
    client.write(payload)
    if ending == "close_notify":
        with contextlib.suppress(ssl.SSLWantReadError):
            client.unwrap()
    layer.data_received(outgoing.read())
    if ending == "fin":
        layer.eof_received()
    assert inner.eof_after is None  # the reader is paused with records waiting
    drain_paused(loop, layer, inner, len(payload))
    assert inner.received == payload
    assert inner.eof_after == len(payload)
