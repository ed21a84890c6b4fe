"""Real sockets: bytes sent through loopback TCP to an in-process ``driver.Server``.

Invariant: whatever a client sends, in whatever segmentation, the server answers with
well-formed responses or closes; it never dies, never hangs (every connection ends
within a bounded time once the client has finished sending) and never leaks (no
transport, descriptor or thread is left behind). A valid request gets its answer from
the application; a hostile one gets exactly its class's status and then the close.

The server runs the real epoll loop (``driver.Server`` on a ``driver.make_listener``
socket) on a thread of this process, started once per session. ``driver.serve`` is
the same loop behind a signal-driven main loop, so it cannot run on a thread.
"""

from __future__ import annotations

import atexit
import errno
import os
import socket
import threading
import time

from hypothesis import given
from hypothesis import strategies as st

import driver
import sansio
from sansio import strategies as hs

from ._harness import budget, counted, feed

TIMEOUT = 10.0  # seconds for one connection to finish once the client has sent all
CONFIG = driver.Config(
    host="127.0.0.1",
    port=0,
    access_log=False,
    header_timeout=5.0,
    body_timeout=5.0,
    keepalive_timeout=5.0,
    grace_period=1.0,
)
LIMITS = sansio.Limits(max_body_size=CONFIG.max_body_size)


def echo(request: driver.HTTPRequest) -> driver.Reply:
    summary = b"%b %b %d" % (request.method, request.target, len(request.body))
    return driver.Reply(200, ((b"content-type", b"text/plain"),), summary)


class LiveServer:
    def __init__(self) -> None:
        self.fds_before = len(os.listdir("/proc/self/fd"))
        self.listener = driver.make_listener(CONFIG)
        self.port = self.listener.getsockname()[1]
        self.server = driver.Server(echo, CONFIG, self.listener)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="fuzz-driver", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.server.run(install_signals=False)
        except BaseException as exc:  # the invariant is that this never happens
            self.failure = exc
            raise

    def check_alive(self) -> None:
        assert self.failure is None, f"the server died: {self.failure!r}"
        assert self.thread.is_alive(), "the server thread is gone"

    def wait_idle(self) -> None:
        """Every connection closed on the server's side too (no leaked transports)."""
        deadline = time.monotonic() + TIMEOUT
        while self.server.loop.transports:
            assert time.monotonic() < deadline, f"leaked: {list(self.server.loop.transports)}"
            time.sleep(0.001)

    def stop(self) -> None:
        self.server.stop_threadsafe()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "the server did not shut down"


_LIVE: list[LiveServer] = []


def live_server() -> LiveServer:
    """The session's server, started on first use (a plain global rather than a pytest
    fixture: HypoFuzz switches between tests and does not keep fixtures alive)."""
    if not _LIVE:
        _LIVE.append(LiveServer())
        atexit.register(_LIVE[0].stop)
    return _LIVE[0]


def exchange(pieces: list[bytes]) -> bytes:
    """Send ``pieces`` (one ``sendall`` each), half-close, read until the server closes."""
    live = live_server()
    with socket.create_connection(("127.0.0.1", live.port), timeout=TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for piece in pieces:
                sock.sendall(piece)
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            # The server gave up on us first (a reset makes send fail with EPIPE or
            # ECONNRESET, shutdown with ENOTCONN): allowed, it answers or closes.
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                raise
        received = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert time.monotonic() < deadline, "the server neither answered nor closed"
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received.append(chunk)
    live.wait_idle()
    live.check_alive()
    return b"".join(received)


def responses_to(
    methods: list[bytes], data: bytes
) -> tuple[list[sansio.Event], sansio.RemoteProtocolError | None]:
    """Parse ``data`` as the responses to requests with ``methods``, in order (a fresh
    client connection per response: the bytes after one are the next one's)."""
    events: list[sansio.Event] = []
    rest = data
    for method in methods:
        client = sansio.Connection(sansio.CLIENT)
        client.send(sansio.Request(method, b"/", ((b"host", b"a"),), b"1.1"))
        client.send(sansio.EndOfMessage())
        outcome = feed(client, [rest] if rest else [], eof=True)
        events.extend(outcome.events)
        if outcome.error is not None or not client.keep_alive:
            return events, outcome.error
        rest = client.trailing_data[0]
    return events, None


@budget(0.7)
@given(reqs=st.lists(hs.requests(), min_size=1, max_size=3), data=st.data())
@counted
def test_valid_requests_are_answered(reqs: list[hs.GeneratedRequest], data: st.DataObject) -> None:
    last = next((i for i, r in enumerate(reqs) if not r.keep_alive), len(reqs) - 1)
    reqs = reqs[: last + 1]
    wire = b"".join(r.wire for r in reqs)
    received = exchange(data.draw(hs.chunkings(wire, max_pieces=16)))
    events, error = responses_to([r.request.method for r in reqs], received)
    assert error is None, (received, error)
    finals = [e for e in events if type(e) is sansio.Response]
    assert [r.status_code for r in finals] == [200] * len(reqs), received
    bodies = b"".join(e.data for e in events if type(e) is sansio.Data)
    expected = b"".join(
        b"%b %b %d" % (r.request.method, r.request.target, len(r.body))
        for r in reqs
        if r.request.method != b"HEAD"
    )
    assert bodies == expected


@budget(0.7)
@given(bad=hs.hostile_requests(limits=LIMITS), data=st.data())
@counted
def test_hostile_requests_get_their_status_and_a_close(
    bad: hs.HostileRequest, data: st.DataObject
) -> None:
    received = exchange(data.draw(hs.chunkings(bad.wire, max_pieces=16)))
    events, error = responses_to([b"GET"], received)
    assert error is None, (received, error)
    finals = [e for e in events if type(e) is sansio.Response]
    assert [r.status_code for r in finals] == [bad.status_hint], (bad.smuggling_class, received)


@budget(0.7)
@given(
    data=st.one_of(
        hs.requests().flatmap(lambda r: hs.mutations(r.wire)),
        hs.hostile_requests().map(lambda r: r.wire),
        st.binary(max_size=128),
    ),
    more=st.data(),
)
@counted
def test_any_bytes_are_answered_or_closed(data: bytes, more: st.DataObject) -> None:
    received = exchange(more.draw(hs.chunkings(data, max_pieces=16)))
    if received:
        assert received.startswith(b"HTTP/1."), received[:64]


def test_bytes_after_a_closing_request_may_reset_the_connection() -> None:
    """Found by this target in CI: the server answers a request with Connection: close
    and closes while more bytes are in flight, so the client's shutdown() fails with
    ENOTCONN. That is a close, and allowed; the answer may or may not arrive first."""
    wire = (
        b"\nGET http://example.com/ HTTP/1.0\r\ncontent-length:0\r\nconnection:close\r\n"
        b"host:0\r\n\r\nconnection:close\r\nhost:0\r\n\r\n"
    )
    for pieces in ([wire], [wire[:60], wire[60:]]):
        received = exchange(pieces)
        assert not received or received.startswith(b"HTTP/1.0 200 "), received[:64]


def test_server_outlives_every_connection_and_stops_cleanly() -> None:
    """Runs after the targets above (file order): nothing leaked, a clean shutdown."""
    live = live_server()
    live.check_alive()
    live.stop()
    _LIVE.clear()
    assert live.failure is None
    assert len(os.listdir("/proc/self/fd")) <= live.fds_before, "descriptors leaked"
