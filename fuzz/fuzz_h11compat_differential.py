"""Differential: ``sansio.h11compat`` against the real h11 on the same bytes, both roles.

Invariant: for any input and any segmentation, the facade and h11 give the same events
(Data coalesced, headers with their raw names) with the same states after each one, or
both refuse; the only exceptions are the deliberate differences of the README's table
"Using h10 where h11 is used", recognised in ``DIFFERENCES`` (by the core's verdict, or
by what h11 makes of the input) and only there.

``trace(lib, role, pieces, eof)`` drives either library through its h11 API: as a
server it answers every complete request with a 200 and starts the next cycle when it
may, so pipelined requests are read too; as a client it sends a GET first (and again
after each reusable cycle). The unit tests (tests/test_h11compat_*.py) use it too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import h11
from hypothesis import example, given
from hypothesis import strategies as st

from sansio import h11compat
from sansio import strategies as hs

from ._harness import CUTS, counted, split_at

Step = tuple[Any, ...]


@dataclass(frozen=True)
class Trace:
    steps: tuple[Step, ...]
    """Each event as plain data, with both states after it; ``Data`` coalesced."""
    error: str | None
    """The ``RemoteProtocolError``'s message, if the input was refused."""

    @property
    def refused(self) -> bool:
        return self.error is not None


def _plain(lib: ModuleType, event: Any) -> Step:
    kind = type(event).__name__
    if isinstance(event, lib.Request):
        return (
            kind,
            event.method,
            event.target,
            event.http_version,
            _fields(event.headers.raw_items()),
        )
    if isinstance(event, lib.Response | lib.InformationalResponse):
        return (
            kind,
            event.status_code,
            event.http_version,
            event.reason,
            _fields(event.headers.raw_items()),
        )
    if isinstance(event, lib.Data):
        return (kind, bytes(event.data))
    if isinstance(event, lib.EndOfMessage):
        return (kind, _fields(event.headers.raw_items()))
    return (kind,)


def _fields(headers: Any) -> list[tuple[bytes, bytes]]:
    """The fields, with h11's two rewrites of parsed values applied (a documented
    difference: the core gives values as received): Transfer-Encoding lower-cased, and
    Content-Length folded into one field with one value."""
    out = []
    seen_length = False
    for name, value in headers:
        if name.lower() == b"transfer-encoding":
            value = value.lower()
        elif name.lower() == b"content-length":
            if seen_length:
                continue
            seen_length = True
            value = value.split(b",")[0].strip(b" \t")
        out.append((name, value))
    return out


def _states(conn: Any) -> tuple[str, str]:
    states = conn.states
    return repr(states[_role(conn, "CLIENT")]), repr(states[_role(conn, "SERVER")])


def _role(conn: Any, name: str) -> Any:
    return conn.our_role if repr(conn.our_role) == name else conn.their_role


GET = {"method": b"GET", "target": b"/", "headers": [(b"Host", b"example.com")]}


def trace(
    lib: ModuleType, role: str, pieces: Sequence[bytes], *, eof: bool, method: bytes = b"GET"
) -> Trace:
    """What ``lib`` (h11 or the facade) makes of ``pieces`` in ``role`` (CLIENT or SERVER)."""
    conn = lib.Connection(getattr(lib, role), max_incomplete_event_size=1 << 20)
    steps: list[Step] = []
    bound = 4 * sum(map(len, pieces)) + 64  # next_event calls per drain, at most

    def request() -> None:
        conn.send(lib.Request(**{**GET, "method": method}))
        conn.send(lib.EndOfMessage())

    def answer() -> None:
        conn.send(lib.Response(status_code=200, headers=[(b"Content-Length", b"0")]))
        conn.send(lib.EndOfMessage())

    def drain() -> bool:
        for _ in range(bound):  # no livelock
            event = conn.next_event()
            if event is lib.NEED_DATA:
                return True
            if event is lib.PAUSED:
                if not (conn.our_state is lib.DONE and conn.their_state is lib.DONE):
                    return True
                conn.start_next_cycle()
                if role == "CLIENT":
                    request()
                continue
            plain = _plain(lib, event)
            if steps and plain[0] == "Data" and steps[-1][0] == "Data":
                plain = ("Data", steps.pop()[1] + plain[1])
            steps.append((*plain, _states(conn)))
            if isinstance(event, lib.ConnectionClosed):
                return False
            if isinstance(event, lib.EndOfMessage) and role == "SERVER":
                answer()
            if (
                isinstance(event, lib.EndOfMessage)
                and conn.our_state is lib.DONE
                and conn.their_state is lib.DONE
            ):
                conn.start_next_cycle()
                if role == "CLIENT":
                    request()
        raise AssertionError(f"livelock in {lib.__name__}")

    if role == "CLIENT":
        request()
    try:
        going = True
        for piece in pieces:
            conn.receive_data(piece)
            going = drain()
            if not going:
                break
        if eof and going:
            conn.receive_data(b"")
            drain()
    except lib.RemoteProtocolError as exc:
        assert conn.their_state is lib.ERROR
        return Trace(tuple(steps), str(exc) or type(exc).__name__)
    return Trace(tuple(steps), None)


# -- the deliberate differences (the README's table), and only those ---------------------

DIFFERENCES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        # The core refuses what h11 accepts (RFC 9112 §11; the README's strictness).
        "obs-fold": r"obsolete line folding|first header line starts with whitespace",
        "bare CR": r"bare CR",
        "line ends mixed": r"mixes CRLF and bare LF|does not end in CRLF",
        "control characters and DEL": r"invalid character 0x",
        "Content-Length with Transfer-Encoding": r"both Content-Length and Transfer-Encoding",
        "HTTP/1.0 POST without Content-Length": r"request without Content-Length",
        "Transfer-Encoding in HTTP/1.0": r"Transfer-Encoding in an HTTP/1.0",
        "request-target form": r"request target|target",
        "trailer fields RFC 9110 §6.5.1 rules out": r"trailer",
        "chunk extensions": r"chunk extension",
        "a singleton field sent twice with different values": (
            r"sent more than once, with different values"
        ),
        "the core's limits": (
            r"is longer than \d+ bytes|more than 16 hex digits|more than \d+ \w+ fields"
        ),
        "HTTP versions other than 1.x": r"unsupported HTTP version|invalid HTTP version",
    }.items()
}


def explained(refusal: str) -> str | None:
    """The documented difference a refusal by the facade (h11 accepting) comes from."""
    for name, pattern in DIFFERENCES.items():
        if pattern.search(refusal):
            return name
    return None


def close_delimited(steps: Sequence[Step]) -> int | None:
    """Where the first message ends if it is a close-delimited response, else None.

    A documented difference: h11 leaves such a connection reusable (both DONE, and the
    next request then fails on the closed socket); the core, and so the facade, says
    MUST_CLOSE from the response head on (RFC 9112 §9.3: the close ends the body).
    """
    for index, step in enumerate(steps):
        if step[0] == "Response":
            names = {name.lower() for name, _ in step[4]}
            if step[1] in (204, 304) or names & {b"content-length", b"transfer-encoding"}:
                return None
            ends = [i for i, s in enumerate(steps) if s[0] == "EndOfMessage" and i > index]
            return ends[0] if ends else len(steps) - 1
    return None


def compare(data: bytes, pieces: Sequence[bytes], role: str, eof: bool) -> None:
    ours = trace(h11compat, role, pieces, eof=eof)
    theirs = trace(h11, role, [data] if data else [], eof=eof)
    end = close_delimited(theirs.steps) if role == "CLIENT" else None
    if end is not None and not ours.refused:
        # Compare the message itself; the states after it differ, as documented.
        assert [s[:-1] for s in ours.steps[: end + 1]] == [
            s[:-1] for s in theirs.steps[: end + 1]
        ], (data, ours, theirs)
        return
    if ours.refused and theirs.refused:
        return
    if ours.refused and not theirs.refused:
        assert explained(ours.error or ""), (data, ours, theirs)
        return
    if theirs.refused:
        if not eof and trace(h11compat, role, pieces, eof=True).refused:
            return  # h11 refuses some lines before they end; the core once they end
        # h11 refuses what the core accepts on purpose: the events before must agree.
        stray = theirs.error in H11_REFUSALS
        assert h11_leniency(data) or stray, (data, ours, theirs)
        if stray:
            assert ours.steps[: len(theirs.steps)] == theirs.steps, (data, ours, theirs)
        return
    if role == "CLIENT" and re.search(rb"\n[ \t]", data.split(b"\r\n\r\n")[0]):
        # obs-fold in a response: the core makes each fold one SP (RFC 9112 §5.2), h11
        # keeps the whitespace around it. Values compared with whitespace runs as one SP.
        assert _one_space(ours.steps) == _one_space(theirs.steps), (data, ours, theirs)
        return
    assert ours.steps == theirs.steps, (data, ours.steps, theirs.steps)


def _one_space(steps: Sequence[Step]) -> list[Any]:
    return [
        tuple(
            [(n, re.sub(rb"[ \t]+", b" ", v)) for n, v in part] if isinstance(part, list) else part
            for part in step
        )
        for step in steps
    ]


H11_REFUSALS = {
    # Stray empty lines after a message or before a status line, which RFC 9112 §2.2
    # lets a recipient skip.
    "Got data when expecting EOF",
    "no response line received",
    # A response with a coding other than chunked (or an empty Transfer-Encoding):
    # h11 supports chunked only; RFC 9112 §6.3 rule 4 makes it close-delimited.
    "Only Transfer-Encoding: chunked is supported",
    # Framing fields of a response that has no body whatever they say (to HEAD, 204,
    # 304: RFC 9112 §6.3 rule 1), which the core ignores and h11 checks.
    "bad Content-Length",
    "conflicting Content-Length headers",
}
"""h11's refusals of input the core accepts by design (the messages before agree)."""


def h11_leniency(data: bytes) -> bool:
    """Input h11 refuses and the core accepts, as RFC 9112 lets a recipient: empty lines
    before a request or status line (§2.2), a higher minor version (RFC 9110 §2.5)."""
    return data.startswith((b"\r", b"\n")) or bool(re.search(rb"HTTP/1\.[2-9]", data))


_requests = st.one_of(
    hs.requests().map(lambda r: r.wire),
    hs.requests(tolerated=False).flatmap(lambda r: hs.mutations(r.wire)),
    hs.hostile_requests().map(lambda r: r.wire),
)


@given(data=_requests, cuts=CUTS, eof=st.booleans())
@example(
    data=b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", cuts=[], eof=True
)
@example(  # found by CI: a singleton field twice, which the core refuses and h11 joins
    data=b"POST / HTTP/1.1\r\nhost:a\r\ncontent-length:2\r\n"
    b"content-type:a/b\r\ncontent-type:c/d\r\n\r\nhi",
    cuts=[-1],
    eof=False,
)
@counted
def test_server_role_same_events_or_both_refuse(data: bytes, cuts: list[int], eof: bool) -> None:
    compare(data, split_at(data, cuts), "SERVER", eof)


_responses = st.one_of(
    hs.responses(request_method=b"GET").map(lambda r: r.wire),
    hs.responses(request_method=b"GET", tolerated=False).flatmap(lambda r: hs.mutations(r.wire)),
)


@given(data=_responses, cuts=CUTS, eof=st.booleans())
@counted
def test_client_role_same_events_or_both_refuse(data: bytes, cuts: list[int], eof: bool) -> None:
    compare(data, split_at(data, cuts), "CLIENT", eof)
