"""HTTP on the wire: keep-alive, pipelining, half-close, 100-continue, bodies, bad
input answered with the core's status, and what becomes of the replies applications
return (malformed ones, 204/304 framing, header names in any case), checked with raw
sockets and ``http.client``.

Every test runs in both epoll trigger modes.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import driver

from server_helpers import (
    ServerProcess,
    ThreadedServer,
    app_dir,
    raw_exchange,
    read_response,
    read_until_close,
    running_server,
    threaded_server,
    trigger,
)

__all__ = ["app_dir", "trigger"]  # fixtures used by this module

MiB = 1024 * 1024
_GET = b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"
_LAST = b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def server(app_dir: Path, trigger: list[str]) -> Iterator[ServerProcess]:
    with running_server(
        "--wsgi", "testapp:app", "--max-body-size", "100000", *trigger, cwd=app_dir
    ) as proc:
        yield proc


def echo(response_body: bytes) -> dict[str, str]:
    lines = response_body.decode("latin-1").split("\n")
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_http_client_sends_two_requests_on_one_connection(server: ServerProcess) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/first?a=1", headers={"X-Test": "one"})
    first = conn.getresponse()
    body1 = first.read()
    sock = conn.sock
    local = sock.getsockname()
    conn.request("POST", "/second", body=b"payload", headers={"X-Test": "two"})
    second = conn.getresponse()
    body2 = second.read()
    assert conn.sock is sock and sock.getsockname() == local  # no reconnect
    assert (first.status, second.status) == (200, 200)
    assert first.version == 11 and first.getheader("Connection") == "keep-alive"
    assert echo(body1)["query"] == "a=1" and echo(body1)["x_test"] == "one"
    assert echo(body2)["method"] == "POST" and body2.endswith(b"payload")
    conn.close()


def test_http10_keep_alive_is_honoured(server: ServerProcess) -> None:
    with server.connect() as sock:
        buffered = bytearray()
        for i in range(3):
            sock.sendall(b"GET /n%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
            status, headers, body = read_response(sock, buffered)
            assert status == b"HTTP/1.0 200 OK"
            assert headers[b"connection"] == b"keep-alive"
            assert echo(body)["path"] == f"/n{i}"


def test_http10_without_keep_alive_is_closed_after_the_response(server: ServerProcess) -> None:
    response = raw_exchange(server.port, b"GET /once HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"connection: close" in response.lower()
    assert response.count(b"HTTP/1.0 200") == 1


def test_connection_close_from_a_11_client_closes(server: ServerProcess) -> None:
    response = raw_exchange(server.port, b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close" in response


def test_pipelined_requests_are_answered_in_order(server: ServerProcess) -> None:
    requests = (
        b"".join(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(20))
        + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    with server.connect() as sock:
        sock.sendall(requests)
        buffered = bytearray()
        paths = [echo(read_response(sock, buffered)[2])["path"] for _ in range(21)]
        assert read_until_close(sock) == bytes(buffered) == b""
    assert paths == [f"/p{i}" for i in range(20)] + ["/last"]


def test_pipelined_large_responses_are_backpressured_and_intact(server: ServerProcess) -> None:
    # Eight 1 MiB responses asked for at once: far above the high-water mark, so the
    # server must queue, stop reading, and resume as the client drains.
    with server.connect(timeout=10) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n" * 8)
        time.sleep(0.2)  # let the server fill the socket buffers first
        buffered = bytearray()
        for _ in range(8):
            status, _, body = read_response(sock, buffered)
            assert status == b"HTTP/1.1 200 OK"
            assert body == b"x" * (1024 * 1024)


def test_half_closed_client_still_gets_its_responses(server: ServerProcess) -> None:
    response = raw_exchange(
        server.port,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        shutdown=True,
    )
    assert response.count(b"HTTP/1.1 200 OK") == 2
    assert b"path=/a" in response and b"path=/b" in response


def test_expect_100_continue_is_answered_before_the_body(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = sock.recv(1024)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        buffered = bytearray()
        status, _, body = read_response(sock, buffered)
        assert status == b"HTTP/1.1 200 OK"
        assert body.endswith(b"hello") and echo(body)["body_len"] == "5"


def test_http10_client_gets_no_100_continue(server: ServerProcess) -> None:
    response = raw_exchange(
        server.port,
        b"POST /up HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi",
    )
    assert response.startswith(b"HTTP/1.0 200 OK")
    assert b"100 Continue" not in response


def test_chunked_request_body_reaches_the_app(server: ServerProcess) -> None:
    response = raw_exchange(
        server.port,
        b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
    )
    assert response.startswith(b"HTTP/1.1 200 OK")
    assert response.endswith(b"hello world")


def test_body_split_across_many_sends_is_reassembled(server: ServerProcess) -> None:
    body = bytes(range(256)) * 100
    with server.connect() as sock:
        sock.sendall(b"POST /slowly HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 4096):
            sock.sendall(body[i : i + 4096])
            time.sleep(0.005)
        response = read_until_close(sock)
    assert response.endswith(body)


def test_hop_by_hop_headers_from_the_app_are_dropped(server: ServerProcess) -> None:
    response = raw_exchange(server.port, b"GET /h HTTP/1.0\r\n\r\n")
    assert b"close-me" not in response


def test_wsgi_write_callable_and_iterable_are_joined(server: ServerProcess) -> None:
    response = raw_exchange(server.port, b"GET /write HTTP/1.0\r\n\r\n")
    assert response.endswith(b"\r\n\r\nwritten and returned")


def test_underscore_header_fields_cannot_spoof_the_environ(server: ServerProcess) -> None:
    response = raw_exchange(
        server.port,
        b"POST /spoof HTTP/1.0\r\nContent-Length: 5\r\nContent_Length: 999\r\n"
        b"X_Forwarded_For: 6.6.6.6\r\nX-Test_: x\r\n\r\nhello",
    )
    assert response.startswith(b"HTTP/1.0 200 OK")
    fields = echo(response.partition(b"\r\n\r\n")[2])
    assert fields["content_length"] == "5" and fields["body_len"] == "5"
    assert fields["x_forwarded_for"] == "-"
    # The real dash-named field still arrives.
    response = raw_exchange(server.port, b"GET /xff HTTP/1.0\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n")
    assert echo(response.partition(b"\r\n\r\n")[2])["x_forwarded_for"] == "10.1.2.3"


def test_chunked_body_streams_to_wsgi_without_content_length(server: ServerProcess) -> None:
    # The body streams to the app as it arrives, so its length is not known up front:
    # no CONTENT_LENGTH, and wsgi.input_terminated lets the app read to the end.
    response = raw_exchange(
        server.port,
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
    )
    fields = echo(response.partition(b"\r\n\r\n")[2])
    assert fields["content_length"] == "" and fields["body_len"] == "7"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"garbage\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # 1.1 without Host
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400),  # obs-fold
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            400,
        ),  # smuggling
        (b"GET /" + b"a" * 9000 + b" HTTP/1.0\r\n\r\n", 414),
        (b"GET / HTTP/1.0\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.0\r\nContent-Length: 100001\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
    ],
)
def test_bad_input_gets_the_core_status_and_a_close(
    server: ServerProcess, request_bytes: bytes, status: int
) -> None:
    response = raw_exchange(server.port, request_bytes)
    assert response.startswith(b"HTTP/1.0 %d " % status), response[:100]
    assert b"Connection: close" in response or b"connection: close" in response
    # ... and the server goes on serving.
    assert raw_exchange(server.port, b"GET /after HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200 OK")


def test_bad_pipelined_request_is_answered_after_the_good_ones(server: ServerProcess) -> None:
    response = raw_exchange(server.port, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nBROKEN LINE\r\n\r\n")
    first, _, rest = response.partition(b"path=/ok")
    assert first.startswith(b"HTTP/1.1 200 OK")
    assert b"HTTP/1.0 400 Bad Request" in rest


def test_client_reset_does_not_disturb_others(server: ServerProcess) -> None:
    sock = server.connect()
    sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST with a 1 MiB response in flight
    assert raw_exchange(server.port, b"GET /fine HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200 OK")


def test_app_exception_gives_500_and_a_logged_traceback(server: ServerProcess) -> None:
    response = raw_exchange(server.port, b"GET /boom HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.0 500 Internal Server Error")
    log = server.wait_for_log("RuntimeError: boom from the test app")
    assert "Traceback (most recent call last)" in log
    assert raw_exchange(server.port, b"GET /alive HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200 OK")


def test_app_breaking_its_own_content_length_gives_500(server: ServerProcess) -> None:
    response = raw_exchange(server.port, b"GET /bad-length HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.0 500 ")


def test_wsgi_204_with_content_length_zero_is_sent_without_it(server: ServerProcess) -> None:
    response = raw_exchange(server.port, b"GET /nocontent HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.0 204 No Content\r\n"), response
    assert b"content-length" not in response.lower()
    assert response.endswith(b"\r\n\r\n")


def test_many_concurrent_connections_are_all_served(server: ServerProcess) -> None:
    socks = [server.connect() for _ in range(200)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(b"GET /c%d HTTP/1.0\r\n\r\n" % i)
        for i, sock in enumerate(socks):
            response = read_until_close(sock)
            assert response.startswith(b"HTTP/1.0 200 OK")
            assert b"path=/c%d\n" % i in response
    finally:
        for sock in socks:
            sock.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_half_closed_client_that_does_not_read_costs_no_cpu(server: ServerProcess) -> None:
    # EOF with a 1 MiB response still queued: the server must wait for EPOLLOUT, not
    # spin on a socket that stays readable (level) or re-read it forever (edge).
    with server.connect(timeout=10) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        time.sleep(0.2)
        before = _cpu_seconds(server.proc.pid)
        time.sleep(1.0)
        spent = _cpu_seconds(server.proc.pid) - before
        response = read_until_close(sock)
    assert spent < 0.2, f"server used {spent:.2f} s of CPU while waiting"
    assert response.endswith(b"x" * 1000) and b"content-length: 1048576" in response.lower()


# -- replies of a native application (driver.Reply), served on a thread -------------

_NATIVE_REPLIES: dict[bytes, Any] = {
    b"/ok": driver.Reply(200, (), b"ok"),
    b"/str-body": driver.Reply(200, ((b"content-type", b"text/plain"),), "hello"),  # type: ignore[arg-type]
    b"/list-body": driver.Reply(200, (), [b"a", b"bc"]),
    b"/int-body": driver.Reply(200, (), 12345),  # type: ignore[arg-type]
    b"/status-str": driver.Reply("200", (), b"x"),  # type: ignore[arg-type]
    b"/status-big": driver.Reply(1000, (), b"x"),
    b"/status-bool": driver.Reply(True, (), b"x"),
    b"/header-str": driver.Reply(200, ((b"x-a", "text"),), b"x"),  # type: ignore[arg-type]
    b"/header-triple": driver.Reply(200, ((b"x-a", b"1", b"2"),), b"x"),  # type: ignore[arg-type]
    b"/header-length-plus": driver.Reply(200, ((b"Content-Length", b"+2"),), b"xy"),
    b"/header-crlf": driver.Reply(200, ((b"x-a", b"1\r\nSet-Cookie: evil=1"),), b"x"),
    b"/header-nul": driver.Reply(200, ((b"x-a", b"1\x002"),), b"x"),
    b"/bad-reason": driver.Reply(200, (), b"x", b"OK\r\nX: y"),
    b"/not-a-reply": b"HTTP/1.0 200 OK\r\n\r\n",
    # Copied when the reply is sent (the app may reuse its buffer).
    b"/bytearray": driver.Reply(200, (), bytearray(b"from a bytearray")),
    b"/memoryview": driver.Reply(200, (), memoryview(b"xxfrom a memoryview")[2:]),
    b"/reason": driver.Reply(299, (), b"odd", b"Fine Indeed"),
    b"/204-length": driver.Reply(204, ((b"Content-Length", b"0"),)),
    b"/204-chunked": driver.Reply(204, ((b"Transfer-Encoding", b"chunked"),)),
    b"/304-length": driver.Reply(304, ((b"Content-Length", b"42"),)),
    b"/mixed-case-length": driver.Reply(200, ((b"Content-Length", b"3"),), b"abc"),
    b"/upper-connection": driver.Reply(200, ((b"CONNECTION", b"close"),), b"kept"),
    b"/head-length": driver.Reply(200, ((b"Content-Length", b"100"),), b""),
}


def _native_app(request: driver.HTTPRequest) -> driver.Reply:
    reply: driver.Reply = _NATIVE_REPLIES[request.target]
    return reply


@pytest.fixture(scope="module")
def native(trigger: list[str]) -> Iterator[ThreadedServer]:
    with threaded_server(_native_app, trigger) as server:
        yield server


def _get(server: ThreadedServer, target: bytes, method: bytes = b"GET") -> bytes:
    return raw_exchange(server.port, method + b" " + target + b" HTTP/1.0\r\n\r\n")


def test_reply_with_a_str_body_is_a_logged_500_and_the_server_goes_on(
    native: ThreadedServer, caplog: pytest.LogCaptureFixture
) -> None:
    # "other" is a connection open while the bad reply goes out.
    with caplog.at_level(logging.ERROR, logger="driver"), native.connect() as other:
        other.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(other, bytearray())[2] == b"ok"
        response = _get(native, b"/str-body")
        assert response.startswith(b"HTTP/1.0 500 Internal Server Error\r\n"), response
        other.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(other, bytearray())[2] == b"ok"
    assert native.thread.is_alive()
    errors = [r for r in caplog.records if r.exc_info is not None]
    assert any("bytes" in str(r.exc_info[1]) and "str" in str(r.exc_info[1]) for r in errors)  # type: ignore[index]


@pytest.mark.parametrize(
    "target",
    [
        b"/int-body",
        b"/status-str",
        b"/status-big",
        b"/status-bool",
        b"/header-str",
        b"/header-triple",
        b"/header-length-plus",
        b"/header-crlf",
        b"/header-nul",
        b"/bad-reason",
        b"/not-a-reply",
    ],
)
def test_malformed_replies_become_500(native: ThreadedServer, target: bytes) -> None:
    response = _get(native, target)
    assert response.startswith(b"HTTP/1.0 500 "), target
    assert b"evil" not in response and b"X: y" not in response
    assert _get(native, b"/ok").endswith(b"\r\n\r\nok")
    assert native.thread.is_alive()


def test_iterable_body_is_close_delimited_to_10_and_chunked_to_11(
    native: ThreadedServer,
) -> None:
    # Since issue 8 an iterable of bytes is a valid body (it used to be a 500).
    response = _get(native, b"/list-body")
    assert response.startswith(b"HTTP/1.0 200 OK\r\n") and response.endswith(b"\r\n\r\nabc")
    assert b"connection: close" in response.lower()
    with native.connect() as sock:
        sock.sendall(b"GET /list-body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = read_until_close(sock)
    assert b"\r\nTransfer-Encoding: chunked\r\n" in response
    # Its small items are gathered into one chunk.
    assert response.endswith(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n")


def test_reply_reason_phrase_and_date(native: ThreadedServer) -> None:
    response = _get(native, b"/reason")
    assert response.startswith(b"HTTP/1.0 299 Fine Indeed\r\n") and response.endswith(b"odd")
    head = response.partition(b"\r\n\r\n")[0].lower()
    assert head.count(b"\r\ndate: ") == 1 and head.count(b" gmt") == 1


def test_bytes_like_bodies_are_sent(native: ThreadedServer) -> None:
    response = _get(native, b"/bytearray")
    assert b"Content-Length: 16\r\n" in response and response.endswith(b"\r\nfrom a bytearray")
    response = _get(native, b"/memoryview")
    assert b"Content-Length: 17\r\n" in response and response.endswith(b"\r\nfrom a memoryview")


@pytest.mark.parametrize("target", [b"/204-length", b"/204-chunked"])
def test_204_reply_is_sent_without_framing_headers(native: ThreadedServer, target: bytes) -> None:
    # Kept alive: the client must find the next response right after the empty 204.
    with native.connect() as sock:
        sock.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n\r\n"
        )
        response = read_until_close(sock)
    first, _, second = response.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 204 No Content\r\n"), response
    assert b"content-length" not in first.lower() and b"transfer-encoding" not in first.lower()
    assert second.startswith(b"HTTP/1.1 200 OK\r\n") and second.endswith(b"\r\n\r\nok")


def test_304_reply_keeps_its_content_length(native: ThreadedServer) -> None:
    response = _get(native, b"/304-length")
    assert response.startswith(b"HTTP/1.0 304 Not Modified\r\n"), response
    assert b"Content-Length: 42\r\n" in response
    assert response.endswith(b"\r\n\r\n")  # and no body


def test_reply_header_names_are_matched_case_insensitively(native: ThreadedServer) -> None:
    response = _get(native, b"/mixed-case-length")
    head = response.partition(b"\r\n\r\n")[0].lower()
    assert response.startswith(b"HTTP/1.0 200 OK\r\n") and response.endswith(b"\r\n\r\nabc")
    assert head.count(b"content-length") == 1
    with native.connect() as sock:  # a Connection field in capitals is still honoured
        sock.sendall(b"GET /upper-connection HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_response(sock, bytearray())
        assert status == b"HTTP/1.1 200 OK" and body == b"kept"
        assert headers[b"connection"] == b"close"
        assert read_until_close(sock) == b""


def test_head_reply_may_announce_a_length_it_does_not_send(native: ThreadedServer) -> None:
    response = _get(native, b"/head-length", b"HEAD")
    assert response.startswith(b"HTTP/1.0 200 OK\r\n"), response
    assert b"Content-Length: 100\r\n" in response and response.endswith(b"\r\n\r\n")
    # The same reply to a GET would lie about its body.
    assert _get(native, b"/head-length").startswith(b"HTTP/1.0 500 ")


def test_an_empty_file_body_is_an_empty_200_and_keeps_the_connection(
    trigger: list[str], tmp_path: os.PathLike[str]
) -> None:
    # Reply(200, body=FileBody(fd, 0, 0)) is legal (count >= 0), e.g. an empty file
    # served by an app. The transport queues a 0-byte sendfile job; os.sendfile returns
    # 0, read as "file shrank", and the connection is aborted right after the head: the
    # next pipelined request is never answered.
    empty = os.path.join(os.fspath(tmp_path), "empty")
    open(empty, "wb").close()

    def app(request: driver.HTTPRequest) -> driver.Reply:
        if request.target == b"/empty":
            return driver.Reply(200, (), driver.FileBody(os.open(empty, os.O_RDONLY), 0, 0))
        return driver.Reply(200, (), b"ok")

    with threaded_server(app, trigger) as server, server.connect() as sock:
        sock.sendall(_GET % b"empty" + _LAST)
        response = read_until_close(sock)
    assert response.count(b" 200 OK\r\n") == 2, response
    assert response.endswith(b"\r\n\r\nok")


def test_an_iterable_that_fails_before_its_first_item_gets_a_500(trigger: list[str]) -> None:
    # _send_prepared writes the head, then pulls. An iterable that raises on its first
    # next() (a template error, a failed query) makes the server abort a connection
    # whose head it has only queued: the client gets no bytes at all ("empty reply"),
    # where a 500 was still possible (waitress and gunicorn pull the first item before
    # they send the head; PEP 3333 asks for exactly that).
    def failing() -> Iterator[bytes]:
        raise RuntimeError("boom before any byte")
        yield b""  # pragma: no cover

    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, (), failing())

    with threaded_server(app, trigger) as server, server.connect() as sock:
        sock.sendall(_LAST)
        response = read_until_close(sock)
    assert response.startswith(b"HTTP/1.1 500 "), response


def test_an_iterable_whose_first_item_is_not_bytes_gets_a_500_and_an_empty_one_a_200(
    trigger: list[str],
) -> None:
    # The first item is taken before the head (finding 5): a wrong type there is still
    # a 500; an iterable with no non-empty item is an empty body on a kept connection.
    def app(request: driver.HTTPRequest) -> driver.Reply:
        if request.target == b"/empty":
            return driver.Reply(200, (), iter([b"", b""]))
        return driver.Reply(200, (), iter(["text"]))  # type: ignore[arg-type]

    with threaded_server(app, trigger) as server, server.connect() as sock:
        sock.sendall(_GET % b"empty" + _LAST)
        response = read_until_close(sock)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n"), response
    assert b"\r\n\r\n0\r\n\r\nHTTP/1.1 500 " in response, response


class _BigReply(driver.Reply):
    """A Reply that can be weakly referenced (to see who keeps it)."""


def test_a_large_reply_is_not_kept_after_its_response(trigger: list[str]) -> None:
    # ServerContext.memo keeps the last bytes Reply per HTTP version (for hello's hot
    # path) whatever its size: a 64 MiB download stays in memory until another bytes
    # reply of the same version replaces it, possibly forever.
    import gc
    import weakref

    refs: list[weakref.ref[_BigReply]] = []

    def app(request: driver.HTTPRequest) -> driver.Reply:
        if request.target == b"/big":
            reply = _BigReply(200, (), b"x" * (64 * MiB))
            refs.append(weakref.ref(reply))
            return reply
        return driver.Reply(200, (), iter([b"small"]))  # not a bytes reply

    with threaded_server(app, trigger) as server:
        with server.connect(timeout=10) as sock:
            sock.sendall(_GET % b"big" + _LAST)
            response = read_until_close(sock)
        assert len(response) > 64 * MiB
        gc.collect()
        kept = bool(refs) and refs[0]() is not None
        assert refs and not kept, "the 64 MiB reply is still referenced"
