"""``sansio.h11compat`` against the real h11, side by side on the same scripts.

Each scenario is a script of steps (bytes received, events sent, a new cycle) run on
both libraries; after every step both must agree on what came out (the events, the
error class), on both states and on h11's flags (``their_http_version``,
``client_is_waiting_for_100_continue``, ``trailing_data``). Bytes sent are compared by
what the real h11 makes of them as the peer, never byte for byte: the core writes its
own ``Connection`` field and answers HTTP/1.0 peers in HTTP/1.0 (the README's table).
"""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import h11
import pytest

from sansio import h11compat

SRC = Path(__file__).resolve().parents[1] / "src"
LIBS = pytest.mark.parametrize("lib", [h11, h11compat], ids=["h11", "facade"])

# -- the API surface ------------------------------------------------------------------


def test_every_name_h11_exports_is_there() -> None:
    assert set(h11.__all__) <= set(h11compat.__all__)
    for name in [*h11.__all__, "PRODUCT_ID", "MIGHT_SWITCH_PROTOCOL", "__version__"]:
        assert hasattr(h11compat, name), name
    assert getattr(h11compat, "__version__") == getattr(h11, "__version__")  # noqa: B009


@pytest.mark.parametrize(
    "name", ["Connection", "Request", "Response", "InformationalResponse", "Data", "EndOfMessage"]
)
def test_constructors_take_h11s_parameters(name: str) -> None:
    def parameters(cls: Any) -> list[tuple[str, Any, Any]]:
        signature = inspect.signature(cls)
        return [(p.name, p.kind, p.default) for p in signature.parameters.values()]

    assert parameters(getattr(h11compat, name)) == parameters(getattr(h11, name))


def test_connection_methods_and_properties_are_h11s() -> None:
    public = {n for n in dir(h11.Connection) if not n.startswith("_")}
    assert public <= set(dir(h11compat.Connection))


def test_sentinels_are_their_own_type_as_in_h11() -> None:
    for name in ["NEED_DATA", "PAUSED", "CLIENT", "SERVER", "IDLE", "DONE", "MUST_CLOSE"]:
        ours = getattr(h11compat, name)
        assert type(ours) is ours and isinstance(ours, ours)
        assert repr(ours) == repr(getattr(h11, name)) == name


@LIBS
def test_events_convert_and_compare_as_in_h11(lib: ModuleType) -> None:
    request = lib.Request(method="GET", target="/", headers=[("Host", "a"), ("X-Y", b"z")])
    assert (request.method, request.target, request.http_version) == (b"GET", b"/", b"1.1")
    assert request.headers == [(b"host", b"a"), (b"x-y", b"z")]
    assert request.headers.raw_items() == [(b"Host", b"a"), (b"X-Y", b"z")]
    assert list(request.headers) == [(b"host", b"a"), (b"x-y", b"z")]
    assert request.headers[1] == (b"x-y", b"z") and len(request.headers) == 2
    assert request == lib.Request(
        method=b"GET", target=b"/", headers=[(b"host", b"a"), (b"x-y", b"z")]
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.method = b"POST"
    with pytest.raises(TypeError):
        hash(request)
    assert lib.Data(b"x").chunk_start is False and lib.Data(b"x", True, True).chunk_end is True
    assert lib.EndOfMessage().headers == [] and lib.ConnectionClosed() == lib.ConnectionClosed()
    assert lib.Response(status_code=200, headers=[]).http_version == b"1.1"
    with pytest.raises(lib.LocalProtocolError):
        lib.Response(status_code="200", headers=[])
    with pytest.raises(TypeError):
        lib.Request(method=1, target="/", headers=[("Host", "a")])
    with pytest.raises(TypeError):
        lib.ProtocolError("abstract")
    assert lib.RemoteProtocolError("x", 431).error_status_hint == 431


# -- install() ---------------------------------------------------------------------------


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )


def test_install_puts_the_facade_and_its_submodules_in_place_of_h11() -> None:
    result = python(
        "from sansio import h11compat; h11compat.install(); h11compat.install()\n"
        "import h11\n"
        "from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE, Connection\n"
        "from h11._util import LocalProtocolError, RemoteProtocolError\n"
        "from h11._events import Request\n"
        "from h11._state import IDLE\n"
        "assert h11 is h11compat and h11compat.installed()\n"
        "assert DEFAULT_MAX_INCOMPLETE_EVENT_SIZE == 16384 and Connection is h11.Connection\n"
        "try:\n"
        "    import h11._readers\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "h11._readers is h11's own parser" in result.stdout


def test_install_refuses_once_the_real_h11_is_imported() -> None:
    result = python("import h11\nfrom sansio import h11compat\nh11compat.install()")
    assert result.returncode == 1
    assert "h11 is already imported" in result.stderr
    assert "call sansio.h11compat.install() before" in result.stderr


def test_the_launcher_needs_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sansio.h11compat"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SRC)},
    )
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "usage: python -m sansio.h11compat MODULE [ARGS...]",
    )


# -- scripts run on both ---------------------------------------------------------------

Step = tuple[str, Any]
Make = Callable[[ModuleType], Any]


def run(lib: ModuleType, role: str, steps: list[Step]) -> list[Any]:
    """Run ``steps`` on ``lib``: ("recv", bytes), ("send", make(lib)), ("next", n: take
    n results of next_event), ("cycle", None), ("failed", None). Returns, after every
    step, what it gave and where the connection stands."""
    conn = lib.Connection(getattr(lib, role))
    record: list[Any] = []
    for kind, arg in steps:
        try:
            if kind == "recv":
                conn.receive_data(arg)
                out: Any = None
            elif kind == "next":
                out = [plain(conn.next_event()) for _ in range(arg)]
            elif kind == "send":
                sent = conn.send(arg(lib))
                out = None if sent is None else "bytes"
            elif kind == "cycle":
                out = conn.start_next_cycle()
            else:
                out = conn.send_failed()
        except (lib.LocalProtocolError, lib.RemoteProtocolError) as exc:
            out = type(exc).__name__
        record.append(
            (
                kind,
                out,
                repr(conn.states[lib.CLIENT]),
                repr(conn.states[lib.SERVER]),
                repr(conn.our_state),
                repr(conn.their_state),
                conn.their_http_version,
                conn.client_is_waiting_for_100_continue,
                conn.they_are_waiting_for_100_continue,
                conn.trailing_data,
            )
        )
    return record


def plain(event: Any) -> Any:
    if isinstance(event, type):
        return repr(event)
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    if "headers" in fields:
        fields["headers"] = list(fields["headers"])
    return (type(event).__name__, fields)


def request(target: str = "/", *extra: tuple[str, str], version: str = "1.1") -> Make:
    return lambda lib: lib.Request(
        method="GET", target=target, headers=[("Host", "a"), *extra], http_version=version
    )


def response(status: int = 200, *headers: tuple[str, str]) -> Make:
    return lambda lib: lib.Response(status_code=status, headers=list(headers))


def data(payload: bytes) -> Make:
    return lambda lib: lib.Data(payload)


def end(lib: ModuleType) -> Any:
    return lib.EndOfMessage()


def closed(lib: ModuleType) -> Any:
    return lib.ConnectionClosed()


GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
CL0 = ("Content-Length", "0")
SCRIPTS: dict[str, tuple[str, list[Step]]] = {
    "keep-alive, then the next cycle": (
        "SERVER",
        [
            ("recv", GET + GET),
            ("next", 2),
            ("send", response(200, CL0)),
            ("send", end),
            ("next", 1),
            ("cycle", None),
            ("next", 3),
        ],
    ),
    "a 1.0 request with keep-alive still closes, as in h11": (
        "SERVER",
        [
            ("recv", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
            ("next", 2),
            ("send", response(200, CL0)),
            ("send", end),
            ("cycle", None),
        ],
    ),
    "Connection: close from the client": (
        "SERVER",
        [
            ("recv", b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
            ("next", 3),
            ("send", response(200, CL0)),
            ("send", end),
            ("send", closed),
        ],
    ),
    "Connection: close from the server": (
        "SERVER",
        [
            ("recv", GET),
            ("next", 2),
            ("send", response(200, CL0, ("Connection", "close"))),
            ("send", end),
            ("recv", b""),
            ("next", 1),
        ],
    ),
    "send_failed puts us in ERROR for good": (
        "SERVER",
        [("recv", GET), ("next", 2), ("failed", None), ("send", response(200, CL0))],
    ),
    "a refused send puts us in ERROR": (
        "SERVER",
        [
            ("recv", GET),
            ("next", 2),
            ("send", response(200, ("Content-Length", "1"))),
            ("send", end),
            ("send", end),
        ],
    ),
    "a broken request: the peer in ERROR, the server may still answer": (
        "SERVER",
        [
            ("recv", b"GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n"),
            ("next", 1),
            ("next", 1),
            ("send", response(400, CL0)),
            ("send", end),
        ],
    ),
    "Expect: 100-continue, server side": (
        "SERVER",
        [
            (
                "recv",
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
            ),
            ("next", 2),
            ("send", lambda lib: lib.InformationalResponse(status_code=100, headers=[])),
            ("recv", b"hi"),
            ("next", 2),
        ],
    ),
    "Expect: 100-continue, client side": (
        "CLIENT",
        [
            ("send", request("/", ("Expect", "100-continue"), ("Content-Length", "2"))),
            ("recv", b"HTTP/1.1 100 Continue\r\n\r\n"),
            ("next", 2),
            ("send", data(b"hi")),
            ("send", end),
            ("recv", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            ("next", 3),
        ],
    ),
    "an upgrade accepted: the rest is trailing_data": (
        "SERVER",
        [
            (
                "recv",
                b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: ws\r\nConnection: upgrade\r\n\r\nrest",
            ),
            ("next", 3),
            (
                "send",
                lambda lib: lib.InformationalResponse(
                    status_code=101, headers=[("Upgrade", "ws"), ("Connection", "upgrade")]
                ),
            ),
            ("next", 1),
        ],
    ),
    "an upgrade declined": (
        "CLIENT",
        [
            ("send", request("/", ("Upgrade", "ws"), ("Connection", "upgrade"))),
            ("send", end),
            ("recv", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            ("next", 4),
            ("cycle", None),
        ],
    ),
    "CONNECT accepted": (
        "CLIENT",
        [
            (
                "send",
                lambda lib: lib.Request(
                    method="CONNECT", target="a:443", headers=[("Host", "a:443")]
                ),
            ),
            ("send", end),
            ("recv", b"HTTP/1.1 200 OK\r\n\r\ntunnel"),
            ("next", 2),
        ],
    ),
    "a 1.0 response closes": (
        "CLIENT",
        [
            ("send", request()),
            ("send", end),
            ("recv", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            ("next", 4),
            ("recv", b""),
            ("next", 2),
        ],
    ),
    "chunked with trailers, client side": (
        "CLIENT",
        [
            ("send", request()),
            ("send", end),
            ("recv", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
            ("recv", b"0\r\nX-Sum: 1\r\n\r\n"),
            ("next", 4),
        ],
    ),
    "the server closes before answering": (
        "CLIENT",
        [("send", request()), ("send", end), ("recv", b""), ("next", 1), ("next", 1)],
    ),
    "start_next_cycle too early": (
        "SERVER",
        [("recv", GET), ("next", 1), ("cycle", None), ("next", 1)],
    ),
    "sending out of turn": (
        "CLIENT",
        [("send", response(200, CL0)), ("send", request())],
    ),
    "the peer closes between requests": (
        "SERVER",
        [
            ("recv", GET),
            ("next", 2),
            ("send", response(200, CL0)),
            ("send", end),
            ("cycle", None),
            ("recv", b""),
            ("next", 2),
        ],
    ),
}


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_facade_does_what_h11_does(name: str) -> None:
    role, steps = SCRIPTS[name]
    assert run(h11compat, role, steps) == run(h11, role, steps)


def test_send_with_data_passthrough_hands_back_the_data_object_itself() -> None:
    for lib in (h11, h11compat):
        conn = lib.Connection(lib.SERVER)
        conn.receive_data(GET)
        conn.next_event(), conn.next_event()
        conn.send(lib.Response(status_code=200, headers=[]))  # chunked
        payload = memoryview(b"hello")
        pieces = conn.send_with_data_passthrough(lib.Data(payload))
        assert pieces is not None and any(piece is payload for piece in pieces)
        assert b"".join(bytes(p) for p in pieces) == b"5\r\nhello\r\n"
        assert b"".join(conn.send_with_data_passthrough(lib.EndOfMessage()) or []) == b"0\r\n\r\n"


def test_a_response_to_a_10_client_is_close_delimited_and_reads_the_same() -> None:
    """The wire differs in the status line's version only (HTTP/1.0 from the facade);
    what an h11 client reads from either is the same."""
    read = []
    for lib in (h11, h11compat):
        conn = lib.Connection(lib.SERVER)
        conn.receive_data(b"GET / HTTP/1.0\r\n\r\n")
        conn.next_event(), conn.next_event()
        wire = conn.send(lib.Response(status_code=200, headers=[("X", "y")]))
        wire += conn.send(lib.Data(b"body")) + conn.send(lib.EndOfMessage())
        assert conn.our_state is lib.MUST_CLOSE
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method="GET", target="/", headers=[("Host", "a")]))
        client.send(h11.EndOfMessage())
        client.receive_data(wire)
        client.receive_data(b"")
        events: list[Any] = [client.next_event() for _ in range(3)]
        read.append([(type(e).__name__, getattr(e, "data", None)) for e in events])
        assert b"close" in dict(events[0].headers)[b"connection"]
    assert read[0] == read[1] == [("Response", None), ("Data", b"body"), ("EndOfMessage", None)]


def test_a_response_with_content_length_and_chunked_goes_out_chunked_as_in_h11() -> None:
    for lib in (h11, h11compat):
        conn = lib.Connection(lib.SERVER)
        conn.receive_data(GET)
        conn.next_event(), conn.next_event()
        fields = [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]
        head = conn.send(lib.Response(status_code=200, headers=fields))
        assert head is not None and b"content-length" not in head.lower()
        assert conn.send(lib.Data(b"hello")) == b"5\r\nhello\r\n"


def test_a_204_with_content_length_0_is_sent_without_it() -> None:
    conn = h11compat.Connection(h11compat.SERVER)
    conn.receive_data(GET)
    conn.next_event(), conn.next_event()
    head = conn.send(h11compat.Response(status_code=204, headers=[("Content-Length", "0")]))
    assert head is not None and head.startswith(b"HTTP/1.1 204 ")
    assert b"content-length" not in head.lower()
    assert conn.our_state is h11compat.SEND_BODY


def test_max_incomplete_event_size_bounds_a_head_as_in_h11() -> None:
    for lib in (h11, h11compat):
        conn = lib.Connection(lib.SERVER, max_incomplete_event_size=100)
        conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"x" * 200)
        with pytest.raises(lib.RemoteProtocolError) as info:
            conn.next_event()
        assert info.value.error_status_hint == 431
        assert conn.their_state is lib.ERROR
    big = b"GET / HTTP/1.1\r\nHost: a\r\nCookie: " + b"x" * 90_000 + b"\r\n\r\n"
    conn = h11compat.Connection(h11compat.SERVER, max_incomplete_event_size=100 * 1024)
    conn.receive_data(big)
    assert type(conn.next_event()) is h11compat.Request


def test_the_core_says_where_each_piece_of_a_chunked_body_sits() -> None:
    """``sansio.Connection.chunk_bounds``, the core's one addition for the facade."""
    import sansio

    conn = sansio.Connection(sansio.SERVER)
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
    assert type(conn.next_event()) is sansio.Request
    assert conn.chunk_bounds == (False, False)
    assert conn.next_event() == sansio.Data(b"hel") and conn.chunk_bounds == (True, False)
    conn.receive_data(b"lo\r\n3\r\nabc\r\n0\r\n\r\n")
    assert conn.next_event() == sansio.Data(b"lo") and conn.chunk_bounds == (False, True)
    assert conn.next_event() == sansio.Data(b"abc") and conn.chunk_bounds == (True, True)
    plain = sansio.Connection(sansio.SERVER)
    plain.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
    plain.next_event(), plain.next_event()
    assert plain.chunk_bounds == (False, False)
