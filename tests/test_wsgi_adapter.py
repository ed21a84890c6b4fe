"""The WSGI adapter against a fake loop and exchange (real threads, no sockets): PEP 3333
on both sides (every application here is wrapped in ``wsgiref.validate.validator``,
except where a test says why not), streaming both ways with bounded buffers, errors,
and the thread pool versus inline mode."""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import pytest

from driver.wsgi import FileWrapper, WSGIAdapter
from driver.wsgi.steps import StepQueue

from wsgi_apps.fakes import FakeExchange, FakeLoop

StartResponse = Any
Environ = dict[str, Any]
MODES = [pytest.param(4, id="threads"), pytest.param(0, id="inline")]


@pytest.fixture
def loop() -> Iterator[FakeLoop]:
    fake = FakeLoop()
    yield fake
    fake.settle()
    fake.stop()
    assert not fake.errors, fake.errors


def serve(app: Any, exchange: FakeExchange, threads: int = 4) -> WSGIAdapter:
    adapter = WSGIAdapter(app, threads=threads, host="example.org", port=8080)
    exchange.fake_loop.run(adapter.handle_exchange, exchange)
    return adapter


def run(app: Any, threads: int = 4, loop: FakeLoop | None = None, **request: Any) -> FakeExchange:
    """One request, with the whole body given (``body=``), answered in full."""
    body = request.pop("body", None)
    exchange = FakeExchange(loop or FakeLoop(), **request)
    if body is not None:
        exchange.deliver(body)
    exchange.deliver(None)
    adapter = serve(app, exchange, threads)
    exchange.wait()
    assert adapter.shutdown(5)
    return exchange


def text(start_response: StartResponse, status: str = "200 OK", *extra: tuple[str, str]) -> Any:
    return start_response(status, [("Content-Type", "text/plain"), *extra])


# -- environ ------------------------------------------------------------------------------


@validator
def echo_environ(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    keys = sorted(k for k in environ if k.isupper())
    lines = [f"{k}={environ[k]}" for k in keys]
    lines += [
        f"{k}={environ[k]!r}"
        for k in (
            "wsgi.version",
            "wsgi.url_scheme",
            "wsgi.multithread",
            "wsgi.multiprocess",
            "wsgi.run_once",
            "wsgi.input_terminated",
        )
    ]
    lines.append(f"file_wrapper={environ['wsgi.file_wrapper'] is FileWrapper}")
    lines.append(f"body={body.decode()}")
    text(start_response)
    return ["\n".join(lines).encode("latin-1")]


def environ_lines(exchange: FakeExchange) -> dict[str, str]:
    return dict(line.split("=", 1) for line in exchange.body.decode("latin-1").split("\n"))


@pytest.mark.parametrize("threads", MODES)
def test_environ_has_every_pep3333_key(loop: FakeLoop, threads: int) -> None:
    exchange = run(
        echo_environ,
        threads,
        loop,
        method=b"POST",
        target=b"/a%20b/caf%C3%A9?x=1&y=%20",
        headers=(
            (b"host", b"example.com"),
            (b"content-type", b"text/plain"),
            (b"content-length", b"3"),
            (b"x-multi", b"one"),
            (b"x-multi", b"two"),
        ),
        body=b"abc",
    )
    assert exchange.status == 200
    assert environ_lines(exchange) == {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        # Percent-decoded bytes read as latin-1: "é" is two code points.
        "PATH_INFO": "/a b/caf\u00c3\u00a9",
        "QUERY_STRING": "x=1&y=%20",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "3",
        "SERVER_NAME": "example.org",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "REMOTE_PORT": "4321",
        "HTTP_X_MULTI": "one,two",
        "HTTP_HOST": "example.com",
        "wsgi.version": "(1, 0)",
        "wsgi.url_scheme": "'http'",
        "wsgi.multithread": str(threads > 0),
        "wsgi.multiprocess": "False",
        "wsgi.run_once": "False",
        "wsgi.input_terminated": "True",
        "file_wrapper": "True",
        "body": "abc",
    }


def test_fields_named_with_underscores_are_dropped(loop: FakeLoop) -> None:
    exchange = run(
        echo_environ,
        loop=loop,
        method=b"POST",
        headers=(
            (b"content-length", b"3"),
            (b"content_length", b"999"),
            (b"content_type", b"text/evil"),
            (b"x_forwarded_for", b"6.6.6.6"),
            (b"x-forwarded-for", b"10.0.0.9"),
        ),
        body=b"abc",
    )
    lines = environ_lines(exchange)
    assert lines["CONTENT_LENGTH"] == "3"
    assert "CONTENT_TYPE" not in lines
    assert lines["HTTP_X_FORWARDED_FOR"] == "10.0.0.9"


def test_content_length_and_chunked_bodies(loop: FakeLoop) -> None:
    # Repeated equal values pass the core; the environ gets one number.
    repeated = run(
        echo_environ,
        loop=loop,
        method=b"POST",
        headers=((b"content-length", b"3, 3"),),
        body=b"abc",
    )
    assert environ_lines(repeated)["CONTENT_LENGTH"] == "3"
    chunked = run(
        echo_environ, loop=loop, method=b"POST", headers=((b"transfer-encoding", b"chunked"),)
    )
    assert "CONTENT_LENGTH" not in environ_lines(chunked)
    assert "CONTENT_LENGTH" not in environ_lines(run(echo_environ, loop=loop))


def test_absolute_form_target_gives_its_path(loop: FakeLoop) -> None:
    lines = environ_lines(run(echo_environ, loop=loop, target=b"http://example.com/p%2Fq?z"))
    assert (lines["PATH_INFO"], lines["QUERY_STRING"]) == ("/p/q", "z")


# -- wsgi.input -------------------------------------------------------------------------


def test_input_streams_as_it_arrives(loop: FakeLoop) -> None:
    """The application sees each line while the client is still sending."""
    seen: list[bytes] = []
    got_line = threading.Event()

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        for line in stream:
            seen.append(line)
            got_line.set()
        text(start_response)
        return [b"%d lines" % len(seen)]

    exchange = FakeExchange(loop, b"POST", headers=((b"transfer-encoding", b"chunked"),))
    adapter = serve(app, exchange)
    exchange.deliver(b"first line\nsecond ")
    assert got_line.wait(5)
    assert seen == [b"first line\n"]  # the rest of the body has not been sent yet
    exchange.deliver(b"line\nno newline at the end")
    exchange.deliver(None)
    exchange.wait()
    assert seen == [b"first line\n", b"second line\n", b"no newline at the end"]
    assert bytes(exchange.body) == b"3 lines"
    adapter.shutdown(5)


def test_input_read_methods_never_return_more_than_was_sent(loop: FakeLoop) -> None:
    results: dict[str, Any] = {}

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        results["read3"] = stream.read(3)
        results["readline"] = stream.readline()
        results["readline2"] = stream.readline(2)
        results["readline_rest"] = stream.readline()
        results["readlines"] = stream.readlines()
        results["read_end"] = stream.read(10)
        results["read_all_end"] = stream.input.read()  # read() with no size (not allowed
        results["read_zero"] = stream.read(0)  # by the validator's wrapper)
        text(start_response)
        return [b""]

    exchange = FakeExchange(loop, b"POST", headers=((b"content-length", b"33"),))
    adapter = serve(app, exchange)
    # Pieces that split lines at awkward places.
    for piece in (b"abc", b"de", b"f\nxy", b"z\n", b"l1\nl2", b"\nl3\n", b"tail", b"12345"):
        exchange.deliver(piece)
    exchange.deliver(None)
    exchange.wait()
    assert results == {
        "read3": b"abc",
        "readline": b"def\n",
        "readline2": b"xy",
        "readline_rest": b"z\n",
        "readlines": [b"l1\n", b"l2\n", b"l3\n", b"tail12345"],
        "read_end": b"",
        "read_all_end": b"",
        "read_zero": b"",
    }
    adapter.shutdown(5)


def test_read_n_waits_for_n_bytes_or_the_end(loop: FakeLoop) -> None:
    sizes: list[int] = []

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        while chunk := environ["wsgi.input"].read(1000):
            sizes.append(len(chunk))
        text(start_response)
        return [b"ok"]

    exchange = FakeExchange(loop, b"POST", headers=((b"transfer-encoding", b"chunked"),))
    adapter = serve(app, exchange)
    for _ in range(25):
        exchange.deliver(b"x" * 100)
    exchange.deliver(None)
    exchange.wait()
    assert sizes == [1000, 1000, 500]
    adapter.shutdown(5)


def test_a_large_body_pauses_reading_until_the_app_consumes_it(loop: FakeLoop) -> None:
    """The buffer between the socket and the application stays bounded."""
    may_read = threading.Event()
    total = 0

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        nonlocal total
        may_read.wait(5)
        while chunk := environ["wsgi.input"].read(16 * 1024):
            total += len(chunk)
        text(start_response)
        return [b"%d" % total]

    size = 4 * 1024 * 1024
    exchange = FakeExchange(loop, b"POST", headers=((b"content-length", b"%d" % size),))
    adapter = serve(app, exchange)
    for _ in range(size // (64 * 1024)):
        exchange.deliver(b"y" * (64 * 1024))
    exchange.deliver(None)
    loop.settle()
    assert exchange.reading_paused
    assert len(exchange._pending) > 40  # the client's bytes wait in "the socket"
    may_read.set()
    exchange.wait()
    assert bytes(exchange.body) == b"%d" % size
    assert exchange.pause_count >= 2 and exchange.resume_count >= 2
    adapter.shutdown(5)


def test_a_body_the_app_did_not_read_is_left_to_the_server(loop: FakeLoop) -> None:
    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        text(start_response, "413 Too Big")
        return [b"no thanks"]

    exchange = FakeExchange(loop, b"POST", headers=((b"content-length", b"%d" % 2**20),))
    for _ in range(16):
        exchange.deliver(b"z" * (64 * 1024))
    adapter = serve(app, exchange)
    exchange.wait()
    assert exchange.status == 413
    assert not exchange.reading_paused  # the server can read on (and discard)
    adapter.shutdown(5)


def test_client_gone_during_the_body_raises_in_the_reader(loop: FakeLoop) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            environ["wsgi.input"].read(100)
        except ConnectionError as exc:
            errors.append(exc)
        done.set()
        text(start_response)
        return [b"never seen"]

    exchange = FakeExchange(loop, b"POST", headers=((b"content-length", b"100"),))
    adapter = serve(app, exchange)
    exchange.deliver(b"partial")
    loop.settle()
    exchange.disconnect()
    assert done.wait(5)
    assert len(errors) == 1
    assert exchange.status is None
    adapter.shutdown(5)


# -- the response -----------------------------------------------------------------------


@pytest.mark.parametrize("threads", MODES)
def test_reason_phrase_kept_values_stripped_hop_by_hop_dropped(
    loop: FakeLoop, threads: int
) -> None:
    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            "299 Whatever",
            [
                ("Content-Type", " text/plain "),
                ("X-Spaced", "  value with inner  space "),
                ("Connection", "close"),
                ("Transfer-Encoding", "chunked"),
                ("Keep-Alive", "timeout=5"),
            ],
        )
        return [b"body"]

    exchange = run(app, threads, loop)
    assert (exchange.status, exchange.reason) == (299, b"Whatever")
    # Connection: close is passed on, for the server to honour (it writes its own).
    assert exchange.headers == (
        (b"content-type", b"text/plain"),
        (b"x-spaced", b"value with inner  space"),
        (b"connection", b"close"),
    )
    assert bytes(exchange.body) == b"body"


@pytest.mark.parametrize("threads", MODES)
def test_write_callable_then_iterable(loop: FakeLoop, threads: int) -> None:
    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = text(start_response)
        write(b"written ")
        return [b"and ", b"returned"]

    exchange = run(app, threads, loop)
    assert bytes(exchange.body) == b"written and returned"
    assert exchange.header(b"content-length") is None  # the server frames it (chunked)


@pytest.mark.parametrize("threads", MODES)
def test_content_length_body_goes_out_in_one_step(loop: FakeLoop, threads: int) -> None:
    """A first piece as long as the Content-Length is the whole response: head, body and
    end reach the exchange together (one wake-up of the loop)."""

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        text(start_response, "200 OK", ("Content-Length", "5"))
        yield b"hello"

    exchange = run(app, threads, loop)
    assert bytes(exchange.body) == b"hello"
    assert exchange.calls[-1:] == ["respond"]  # head, body and end in one call


@pytest.mark.parametrize("threads", MODES)
def test_close_is_called_after_the_body(loop: FakeLoop, threads: int) -> None:
    events: list[str] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            events.append("iter")
            yield b"a"
            yield b"b"

        def close(self) -> None:
            events.append("close")

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        text(start_response)
        return Body()

    exchange = run(app, threads, loop)
    assert bytes(exchange.body) == b"ab"
    assert events == ["iter", "close"]


@validator
def _exc_info_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    text(start_response)
    try:
        raise ValueError("late")
    except ValueError:
        start_response("503 Later", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"err"]


@pytest.mark.parametrize("threads", MODES)
def test_exc_info_replaces_the_head_before_the_body(loop: FakeLoop, threads: int) -> None:
    exchange = run(_exc_info_app, threads, loop)
    assert (exchange.status, exchange.reason, bytes(exchange.body)) == (503, b"Later", b"err")


@pytest.mark.parametrize("threads", MODES)
def test_second_start_response_without_exc_info_is_a_500(
    loop: FakeLoop, threads: int, caplog: pytest.LogCaptureFixture
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        text(start_response)
        text(start_response, "201 Created")  # not wrapped: the validator refuses it first
        return [b"x"]

    with caplog.at_level(logging.ERROR, "driver"):
        assert run(app, threads, loop).status == 500
    assert "second time" in caplog.text


@pytest.mark.parametrize("threads", MODES)
def test_exc_info_after_the_head_aborts(
    loop: FakeLoop, threads: int, caplog: pytest.LogCaptureFixture
) -> None:
    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        text(start_response)
        yield b"partial"
        try:
            raise ValueError("after the head")
        except ValueError:
            start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
        yield b"never"

    with caplog.at_level(logging.ERROR, "driver"):
        exchange = run(app, threads, loop)
    assert exchange.aborted
    assert bytes(exchange.body) == b"partial"
    assert "after the head" in caplog.text


@pytest.mark.parametrize("threads", MODES)
def test_exception_before_the_head_is_a_logged_500(
    loop: FakeLoop, threads: int, caplog: pytest.LogCaptureFixture
) -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield from self.fail()

        def fail(self) -> Iterator[bytes]:
            raise RuntimeError("boom in the body")

        def close(self) -> None:
            closed.append(True)

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        text(start_response)
        return Body()

    with caplog.at_level(logging.ERROR, "driver"):
        exchange = run(app, threads, loop)
    assert exchange.status == 500 and not exchange.aborted
    assert closed == [True]
    assert "boom in the body" in caplog.text and "Traceback" in caplog.text


@pytest.mark.parametrize("threads", MODES)
def test_app_raising_at_once_is_a_500_and_the_next_request_is_served(
    loop: FakeLoop, threads: int, caplog: pytest.LogCaptureFixture
) -> None:
    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise KeyError("boom")
        text(start_response)
        return [b"fine"]

    with caplog.at_level(logging.ERROR, "driver"):
        assert run(app, threads, loop, target=b"/boom").status == 500
    assert bytes(run(app, threads, loop).body) == b"fine"


@pytest.mark.parametrize("threads", MODES)
def test_bad_heads_are_500s(loop: FakeLoop, threads: int, caplog: pytest.LogCaptureFixture) -> None:
    """What the validator would refuse, the adapter refuses too (these apps are not
    wrapped: the validator would stop them before the adapter sees them)."""
    bad: list[tuple[Any, Any]] = [
        ("200 OK", [("X-Bad", "a\r\nInjected: yes")]),
        ("200 OK", [("Bad Name", "x")]),
        ("200 OK", [("X", 1)]),
        ("2000 OK", []),
        ("OK", []),
        (200, []),
        ("200 OK", [("Content-Length", "-1")]),
        ("200 OK", (("X", "y"),)),
    ]
    for status, headers in bad:

        def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            start_response(status, headers)  # noqa: B023
            return [b"x"]

        with caplog.at_level(logging.ERROR, "driver"):
            exchange = run(app, threads, loop)
        assert exchange.status == 500, (status, headers)


@pytest.mark.parametrize("threads", MODES)
def test_no_start_response_is_a_500(
    loop: FakeLoop, threads: int, caplog: pytest.LogCaptureFixture
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return [b"no head"]  # not validator-wrapped: it would refuse this on its own

    with caplog.at_level(logging.ERROR, "driver"):
        assert run(app, threads, loop).status == 500
    assert "did not call start_response" in caplog.text


@pytest.mark.parametrize("threads", MODES)
def test_a_204_gets_no_content_length(loop: FakeLoop, threads: int) -> None:
    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("204 No Content", [])
        return []

    exchange = run(app, threads, loop)
    assert (exchange.status, exchange.headers, bytes(exchange.body)) == (204, (), b"")


# -- backpressure and disconnects ----------------------------------------------------------


def _counting_app(pieces: int, size: int, produced: list[int], closed: list[bool]) -> Any:
    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        text(start_response)

        class Body:
            def __iter__(self) -> Iterator[bytes]:
                for _ in range(pieces):
                    produced[0] += 1
                    yield b"p" * size

            def close(self) -> None:
                closed.append(True)

        return Body()

    return app


@pytest.mark.parametrize("threads", MODES)
def test_a_slow_reader_pauses_the_producer(loop: FakeLoop, threads: int) -> None:
    produced = [0]
    closed: list[bool] = []
    app = _counting_app(1000, 16 * 1024, produced, closed)
    exchange = FakeExchange(loop, high_water=64 * 1024, auto_drain=False)
    exchange.deliver(None)
    adapter = serve(app, exchange, threads)
    time.sleep(0.3)
    loop.settle()
    # Bounded: the fake's high water (64 KiB) plus the worker's in-flight allowance.
    assert 0 < produced[0] < 30
    assert exchange.max_queued <= 64 * 1024 + 300 * 1024
    while not exchange.ended.is_set():
        exchange.drain()
        time.sleep(0.001)
    exchange.wait()
    assert produced[0] == 1000 and closed == [True]
    assert len(exchange.body) == 1000 * 16 * 1024
    assert exchange.max_queued <= 64 * 1024 + 300 * 1024
    adapter.shutdown(5)


@pytest.mark.parametrize("threads", MODES)
def test_client_gone_mid_response_stops_iterating_and_closes(
    loop: FakeLoop, threads: int, caplog: pytest.LogCaptureFixture
) -> None:
    produced = [0]
    closed: list[bool] = []
    app = _counting_app(10_000, 16 * 1024, produced, closed)
    exchange = FakeExchange(loop, high_water=64 * 1024, auto_drain=False)
    exchange.deliver(None)
    adapter = serve(app, exchange, threads)
    time.sleep(0.2)
    exchange.disconnect()
    deadline = time.monotonic() + 5
    while not closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert closed == [True]
    assert produced[0] < 50
    assert not exchange.ended.is_set() or exchange.aborted
    assert adapter.shutdown(5)


def test_write_callable_raises_once_the_client_is_gone(loop: FakeLoop) -> None:
    raised: list[BaseException] = []

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = text(start_response)
        try:
            for _ in range(10_000):
                write(b"w" * 16 * 1024)
        except ConnectionError as exc:
            raised.append(exc)
        return []

    exchange = FakeExchange(loop, high_water=64 * 1024, auto_drain=False)
    exchange.deliver(None)
    adapter = serve(app, exchange)
    time.sleep(0.2)
    exchange.disconnect()
    assert adapter.shutdown(5)
    assert len(raised) == 1


# -- wsgi.file_wrapper -------------------------------------------------------------------


@pytest.mark.parametrize("threads", MODES)
def test_file_wrapper_with_a_real_file_uses_sendfile(
    loop: FakeLoop, threads: int, tmp_path: Path
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789" * 1000)
    files: list[Any] = []

    # Not validator-wrapped: the validator's iterator hides the wrapper from the server.
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        text(start_response)
        f = path.open("rb")
        f.seek(10)
        files.append(f)
        return environ["wsgi.file_wrapper"](f)  # type: ignore[no-any-return]

    exchange = run(app, threads, loop)
    assert exchange.calls[-3:] == ["start_response", "send_file", "end"]
    assert exchange.files == [((b"0123456789" * 1000)[10:], 10, 9990)]
    assert exchange.header(b"content-length") == b"9990"
    assert files[0].closed


@pytest.mark.parametrize("threads", MODES)
def test_file_wrapper_without_a_descriptor_is_iterated(loop: FakeLoop, threads: int) -> None:
    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        text(start_response)
        return environ["wsgi.file_wrapper"](io.BytesIO(b"x" * 200_000), 65536)  # type: ignore[no-any-return]

    exchange = run(app, threads, loop)
    assert bytes(exchange.body) == b"x" * 200_000
    assert not exchange.files


# -- the thread pool ---------------------------------------------------------------------


def test_a_blocked_app_does_not_delay_others(loop: FakeLoop) -> None:
    release = threading.Event()

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/slow":
            release.wait(10)
        text(start_response)
        return [environ["PATH_INFO"].encode()]

    adapter = WSGIAdapter(app, threads=4)
    slow = FakeExchange(loop, target=b"/slow")
    slow.deliver(None)
    loop.run(adapter.handle_exchange, slow)
    quick = [FakeExchange(loop, target=b"/q%d" % i) for i in range(20)]
    for exchange in quick:
        exchange.deliver(None)
        loop.run(adapter.handle_exchange, exchange)
    for i, exchange in enumerate(quick):
        assert bytes(exchange.wait().body) == b"/q%d" % i
    assert not slow.ended.is_set()
    release.set()
    assert bytes(slow.wait().body) == b"/slow"
    assert adapter.shutdown(5)


def test_inline_mode_runs_on_the_loop_thread(loop: FakeLoop) -> None:
    threads: list[threading.Thread] = []

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        threads.append(threading.current_thread())
        text(start_response)
        return [b"inline"]

    run(app, 0, loop)
    run(app, 2, loop)
    assert threads[0] is loop.thread
    assert threads[1] is not loop.thread


def test_inline_mode_spools_a_large_body(loop: FakeLoop) -> None:
    sizes: list[int] = []

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        while chunk := environ["wsgi.input"].read(100_000):
            sizes.append(len(chunk))
        text(start_response)
        return [b"ok"]

    body = b"s" * (3 * 1024 * 1024)
    exchange = run(
        app, 0, loop, method=b"POST", headers=((b"content-length", b"%d" % len(body)),), body=body
    )
    assert bytes(exchange.body) == b"ok"
    assert sum(sizes) == len(body)


def test_steps_posted_together_wake_the_loop_once(loop: FakeLoop) -> None:
    """The outbox wakes the loop once per batch of steps, not once per step."""
    outbox = StepQueue(loop, threadsafe=True)
    ran: list[int] = []
    gate = threading.Event()
    loop.call_soon_threadsafe(gate.wait, 5)  # the loop is busy elsewhere
    before = loop.wakeups

    def post(first: int) -> None:
        for value in range(first, first + 100):
            outbox.post(ran.append, value)

    posters = [threading.Thread(target=post, args=(i * 100,)) for i in range(4)]
    for poster in posters:
        poster.start()
    for poster in posters:
        poster.join()
    assert loop.wakeups - before == 1
    gate.set()
    loop.settle()
    assert sorted(ran) == list(range(400))
    outbox.post(ran.append, -1)
    loop.settle()
    assert ran[-1] == -1 and loop.wakeups - before == 2


@pytest.mark.parametrize("threads", MODES)
def test_a_list_is_the_whole_body_with_a_content_length(loop: FakeLoop, threads: int) -> None:
    # Not validator-wrapped: its iterator would hide the list from the adapter.
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        text(start_response)
        return [b"one ", b"two"]

    exchange = run(app, threads, loop)
    assert exchange.header(b"content-length") == b"7"
    assert bytes(exchange.body) == b"one two"
    assert exchange.calls[-1:] == ["respond"]  # head, body and end in one call


def test_inline_calls_of_one_loop_round_answer_together(loop: FakeLoop) -> None:
    """Inline, the requests a loop round brought run one after another, and only then
    are their responses handed over (application code, then server code, in a row)."""
    exchanges = [FakeExchange(loop, target=b"/%d" % i) for i in range(3)]
    answered_before: list[int] = []

    @validator
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        answered_before.append(sum("respond" in e.calls for e in exchanges))
        text(start_response)
        return [environ["PATH_INFO"].encode()]

    adapter = WSGIAdapter(app, threads=0)

    def one_round() -> None:
        for exchange in exchanges:
            adapter.handle_exchange(exchange)

    loop.run(one_round)
    for i, exchange in enumerate(exchanges):
        assert bytes(exchange.wait().body) == b"/%d" % i
    assert answered_before == [0, 0, 0]
