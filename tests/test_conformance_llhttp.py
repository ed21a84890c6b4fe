"""llhttp's own test corpus, run against the core: agree with llhttp, or differ by a rule.

``tests/data/llhttp/`` holds the 251 HTTP message fixtures of llhttp (the parser inside
Node.js) as data, vendored with its MIT license (``ORIGIN.md`` says from where): the
exact bytes llhttp was fed and what it reported.
Each case here feeds those bytes to a ``sansio.Connection`` (SERVER for request cases;
CLIENT, after sending its own GET or HEAD, for response cases), whole, one byte at a
time and split in two at every offset, and compares the events with llhttp's messages:
method, target, version, headers, body, trailers, keep-alive and completion.

llhttp is a lenient, incremental parser; this core is a strict one that validates a
head as a whole. Where the two rightly disagree, the difference is one of the RULES
below: a predicate over the case, the RFC section behind it, and a transformation of
llhttp's verdict into what *we* must do instead (reject with a given status, or parse
to a given value). A rule never skips a case: it replaces the expectation. Every other
case must agree with llhttp exactly. REFERENCES say which llhttp verdict a case is held
to when it is not its own (a lenient case is held to its strict twin, for instance).

Host: 79 request cases send HTTP/1.1 heads without Host, which the core must reject
(RFC 9112 §3.2). So that they still test everything else, each is run twice: with a
``Host: h10.test`` line added after every such request line (compared with llhttp's
verdict, plus that header), and as sent (rejected at the first head without Host).

Events may be split differently, but the events and the error's status must not depend
on how the input was cut into reads.

Normalisation, not a difference: llhttp keeps header names as sent and trailing
whitespace in values; the core lower-cases names and strips values (RFC 9112 §5,
"a field value does not include leading or trailing whitespace"), so llhttp's headers
are compared lower-cased and stripped.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import sansio
from sansio import (
    CLIENT,
    DONE,
    MIGHT_SWITCH_PROTOCOL,
    NEED_DATA,
    PAUSED,
    SERVER,
    SWITCHED_PROTOCOL,
    ConnectionClosed,
    Data,
    EndOfMessage,
    InformationalResponse,
    RemoteProtocolError,
    Request,
    Response,
)

CORPUS = Path(__file__).resolve().parent / "data" / "llhttp"
CORPUS_FILES = ("requests.json", "responses.json")

# KNOWN CORE BUGS found by this corpus and not fixed yet: these cases fail until they
# are. Empty this as they are fixed; never skip or xfail a case here. (The first run
# found two, both fixed: empty lines before a status line, and a segmentation-dependent
# 411 for HTTP/1.0 bodies without Content-Length, now decided from the head alone.)
KNOWN_CORE_BUGS: dict[str, str] = {}

Headers = tuple[tuple[bytes, bytes], ...]

# -- the corpus ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    name: str
    type: str
    lenient: tuple[str, ...]
    meta: dict[str, Any]
    data: bytes
    verdict: str
    error_name: str | None
    error_reason: str | None
    error_offset: int | None
    finish: int | None
    messages: tuple[dict[str, Any], ...]

    @property
    def is_request(self) -> bool:
        return self.id.startswith("test/request/")


def _load() -> list[Case]:
    cases = []
    for name in CORPUS_FILES:
        path = CORPUS / name
        if not path.is_file():
            continue
        for raw in json.loads(path.read_text(encoding="utf-8")):
            cases.append(
                Case(
                    id=raw["id"],
                    name=raw["name"],
                    type=raw["type"],
                    lenient=tuple(raw["lenient"]),
                    meta=raw["meta"],
                    data=base64.b64decode(raw["input_b64"]),
                    verdict=raw["verdict"],
                    error_name=raw["error_name"],
                    error_reason=raw["error_reason"],
                    error_offset=raw["error_offset"],
                    finish=raw["finish"],
                    messages=tuple(raw["messages"]),
                )
            )
    return cases


CASES = _load()
BY_ID = {case.id: case for case in CASES}


def _strict_twin(case: Case) -> Case | None:
    """The strict case fed the same bytes, if the corpus has one."""
    for other in CASES:
        if not other.lenient and other.data == case.data and other.is_request == case.is_request:
            return other
    return None


def _lenient_twin(case: Case, flag: str) -> Case | None:
    """A case fed the same bytes with llhttp's ``flag`` leniency on."""
    for other in CASES:
        if flag in other.lenient and other.data == case.data:
            return other
    return None


# -- one message, as llhttp reported it or as we parsed it --------------------------


@dataclass(frozen=True)
class Msg:
    head: tuple[object, ...]  # (method, target, version) or (status, reason, version)
    headers: Headers
    body: bytes = b""
    trailers: Headers = ()
    complete: bool = False
    keep_alive: bool | None = None  # None: not compared (llhttp gives none on upgrade)

    def matches(self, ours: Msg, fold_ws: bool = False) -> bool:
        headers, mine = self.headers, ours.headers
        if fold_ws:
            headers, mine = _fold_ws(headers), _fold_ws(mine)
        return (
            self.head == ours.head
            and headers == mine
            and self.body == ours.body
            and self.trailers == ours.trailers
            and self.complete == ours.complete
            and (self.keep_alive is None or self.keep_alive == ours.keep_alive)
        )


def _fold_ws(headers: Headers) -> Headers:
    return tuple((name, re.sub(rb"[ \t]+", b" ", value)) for name, value in headers)


def _fields(pairs: list[list[str]]) -> Headers:
    return tuple(
        (name.encode("latin-1").lower(), value.encode("latin-1").strip(b" \t"))
        for name, value in pairs
    )


def _llhttp_messages(case: Case) -> list[Msg]:
    """llhttp's messages that reached the end of their head (we emit no partial heads)."""
    out = []
    for m in case.messages:
        if not m["headers_complete"]:
            continue
        version = m["version"].encode("ascii")
        head: tuple[object, ...]
        if case.is_request:
            head = (m["method"].encode("latin-1"), m["url"].encode("latin-1"), version)
        else:
            head = (m["status"], m["reason"].encode("latin-1"), version)
        out.append(
            Msg(
                head=head,
                headers=_fields(m["headers"]),
                body=base64.b64decode(m["body_b64"]),
                trailers=_fields(m["trailers"]),
                complete=m["complete"],
                keep_alive=m["keep_alive"],
            )
        )
    return out


# -- what we expect, and what we did -------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    messages: tuple[Msg, ...]
    error: int | None = None  # status_hint of the RemoteProtocolError, if one was raised
    error_text: str = ""

    def summary(self) -> str:
        lines = [f"  {m}" for m in self.messages]
        if self.error is not None:
            lines.append(f"  error {self.error}: {self.error_text}")
        else:
            lines.append("  no error")
        return "\n".join(lines)


@dataclass(frozen=True)
class Expected:
    messages: tuple[Msg, ...]
    error: frozenset[int] | None = None  # None: no error; else the status hints allowed
    error_text: str | None = None  # a word the error message must contain
    not_error_text: str | None = None  # ... or must not contain
    free_tail: bool = False  # after ``messages``, whatever we do is not compared
    fold_ws: bool = False  # compare header values with whitespace runs folded to one SP
    rules: tuple[str, ...] = ()
    # Further inputs to check with their own expectation: (label, bytes, expectation).
    variants: tuple[tuple[str, bytes, Expected], ...] = ()
    # Alternatives: ours must match one of them (used where the core may choose).
    alternatives: tuple[Expected, ...] = ()

    def truncate(self, index: int, statuses: set[int], text: str | None) -> Expected:
        """An error before message ``index``'s head event (an earlier error wins)."""
        if self.error is not None and len(self.messages) <= index:
            return self
        return replace(
            self,
            messages=self.messages[:index],
            error=frozenset(statuses),
            error_text=text,
            not_error_text=None,
            free_tail=False,
        )

    def describe(self) -> str:
        if self.alternatives:
            return "  one of:\n" + "\n  --\n".join(alt.describe() for alt in self.alternatives)
        lines = [f"  {m}" for m in self.messages]
        if self.free_tail:
            lines.append("  ... (anything after this)")
        elif self.error is not None:
            lines.append(f"  error in {sorted(self.error)} (text: {self.error_text!r})")
        else:
            lines.append("  no error")
        return "\n".join(lines)


def _error_statuses(error_name: str | None) -> set[int]:
    if error_name == "HPE_INVALID_VERSION":
        return {400, 505}
    if error_name == "HPE_INVALID_TRANSFER_ENCODING":
        return {400, 501}
    return {400}


# llhttp reports these while it reads the head (or at its end); the core validates
# framing when the head is complete and raises before emitting it.
HEAD_TIME_ERRORS = {
    "HPE_INVALID_TRANSFER_ENCODING",
    "HPE_INVALID_CONTENT_LENGTH",
    "HPE_UNEXPECTED_CONTENT_LENGTH",
}
PAUSES = {"HPE_PAUSED_UPGRADE", "HPE_PAUSED_H2_UPGRADE"}


def from_llhttp(case: Case, rules: tuple[str, ...] = ()) -> Expected:
    """llhttp's verdict, as events of this core."""
    messages = _llhttp_messages(case)
    if case.verdict == "error" and case.error_name not in PAUSES:
        if (
            case.error_name in HEAD_TIME_ERRORS
            and messages
            and not messages[-1].complete
            and not messages[-1].body
        ):
            messages.pop()
        return Expected(
            tuple(messages), error=frozenset(_error_statuses(case.error_name)), rules=rules
        )
    if case.finish == 1:  # closing completes the message (a body read to EOF)
        messages[-1] = replace(messages[-1], complete=True)
    elif case.finish == 2:  # closing cuts the message short
        return Expected(tuple(messages), error=frozenset({400}), rules=rules)
    return Expected(tuple(messages), rules=rules)


# -- driving the core ----------------------------------------------------------------

HOST = (b"host", b"h10.test")


def run(case: Case, chunks: list[bytes]) -> Outcome:
    """Feed ``chunks`` to a fresh connection; answer and recycle between messages."""
    server = case.is_request
    conn = sansio.Connection(SERVER if server else CLIENT)
    method = b"HEAD" if case.meta.get("skipBody") else b"GET"

    def send_request() -> None:
        conn.send(Request(method, b"/", (HOST,), b"1.1"))
        conn.send(EndOfMessage())

    if not server:
        send_request()
    messages: list[Msg] = []
    current: Msg | None = None

    def flush() -> None:
        nonlocal current
        if current is not None:
            messages.append(current)
            current = None

    feeds = [*chunks, b""] if case.finish is not None else chunks
    for chunk in feeds:
        conn.receive_data(chunk)
        while True:
            try:
                event = conn.next_event()
            except RemoteProtocolError as exc:
                flush()
                return Outcome(tuple(messages), exc.status_hint, str(exc))
            if event is NEED_DATA:
                break
            if event is PAUSED and conn.their_state is SWITCHED_PROTOCOL:
                return Outcome(tuple(messages))  # llhttp pauses on an upgrade too
            assert event is not PAUSED, "PAUSED although every cycle was restarted"
            if type(event) is Request:
                current = Msg((event.method, event.target, event.http_version), event.headers)
                current = replace(current, keep_alive=conn.keep_alive)
            elif type(event) is Response:
                head = (event.status_code, event.reason, event.http_version)
                current = Msg(head, event.headers, keep_alive=conn.keep_alive)
            elif type(event) is InformationalResponse:
                head = (event.status_code, event.reason, event.http_version)
                messages.append(Msg(head, event.headers, complete=True, keep_alive=True))
            elif type(event) is Data:
                assert current is not None
                current = replace(current, body=current.body + event.data)
            elif type(event) is EndOfMessage:
                assert current is not None
                current = replace(
                    current, trailers=event.headers, complete=True, keep_alive=conn.keep_alive
                )
                flush()
                if server and conn.their_state is MIGHT_SWITCH_PROTOCOL:
                    # The request proposed a switch: accept it, as llhttp's caller would.
                    if messages[-1].head[0] == b"CONNECT":
                        conn.send(Response(200))
                    else:
                        conn.send(InformationalResponse(101, ((b"Upgrade", b"x"),)))
                elif server:
                    conn.send(Response(200, ((b"Content-Length", b"0"),)))
                    conn.send(EndOfMessage())
                if conn.our_state is DONE and conn.their_state is DONE:
                    conn.start_next_cycle()
                    if not server:
                        send_request()
            else:
                assert type(event) is ConnectionClosed
                break
    flush()
    return Outcome(tuple(messages))


def feeds(data: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """The input one byte at a time, and split in two at every offset (or at 97 offsets
    spread over it, for long inputs)."""
    yield "bytewise", [data[i : i + 1] for i in range(len(data))]
    n = len(data)
    offsets = range(1, n) if n <= 400 else sorted({1 + (n - 2) * k // 96 for k in range(97)})
    for i in offsets:
        yield f"split@{i}", [data[:i], data[i:]]


def matches(expected: Expected, ours: Outcome) -> bool:
    if expected.alternatives:
        return any(matches(alt, ours) for alt in expected.alternatives)
    want = expected.messages
    if expected.free_tail:
        if len(ours.messages) < len(want):
            return False
        *before, last = want
        mine = ours.messages[len(want) - 1]
        return (
            all(w.matches(o) for w, o in zip(before, ours.messages, strict=False))
            and last.head == mine.head
            and last.headers == mine.headers
            and mine.body.startswith(last.body)
            and mine.complete
            and (ours.error is None or ours.error in (400, 411))
        )
    if len(want) != len(ours.messages):
        return False
    if not all(w.matches(o, expected.fold_ws) for w, o in zip(want, ours.messages, strict=True)):
        return False
    if expected.error is None:
        return ours.error is None
    if ours.error not in expected.error:
        return False
    if expected.error_text is not None and expected.error_text not in ours.error_text:
        return False
    return expected.not_error_text is None or expected.not_error_text not in ours.error_text


# -- the deliberate differences ------------------------------------------------------


@dataclass(frozen=True)
class Ctx:
    """A case and the bytes actually fed (the case's own, or a variant of them)."""

    case: Case
    data: bytes
    host_injected: bool = False


@dataclass(frozen=True)
class Rule:
    name: str
    rfc: str
    reason: str
    applies: Callable[[Ctx, Expected], bool]
    apply: Callable[[Ctx, Expected], Expected]


def _first_head(data: bytes) -> bytes:
    """The first head of the input: up to its first empty line (CRLF or bare LF)."""
    data = data.lstrip(b"\r\n")
    ends = [i for i in (data.find(b"\n\r\n"), data.find(b"\n\n")) if i >= 0]
    return data[: min(ends) + 1] if ends else data


def _has_bare_lf(head: bytes) -> bool:
    return re.search(rb"(?<!\r)\n", head) is not None


def _whole_head(data: bytes) -> bytes:
    """The first head with the empty line that ends it (leading empty lines dropped)."""
    data = data.lstrip(b"\r\n")
    ends = [i for i in (data.find(b"\n\r\n"), data.find(b"\n\n")) if i >= 0]
    if not ends:
        return data
    end = min(ends)
    return data[: end + (3 if data[end : end + 3] == b"\n\r\n" else 2)]


def _mixes_line_ends(head: bytes) -> bool:
    """Some line of the head (its empty last line included) ends in CRLF, another in a
    bare LF."""
    return b"\r\n" in head and _has_bare_lf(head)


def _has_obs_fold(head: bytes) -> bool:
    return re.search(rb"\n[ \t]", head) is not None


def _is_http09(ctx: Ctx, _: Expected) -> bool:
    return any(m["version"] == "0.9" for m in ctx.case.messages)


def _is_rtsp_ice(ctx: Ctx, _: Expected) -> bool:
    return any(m["protocol"] in ("RTSP", "ICE") for m in ctx.case.messages)


def _reject_first(status: int, text: str | None = None) -> Callable[[Ctx, Expected], Expected]:
    def apply(ctx: Ctx, exp: Expected) -> Expected:
        return exp.truncate(0, {status}, text)

    return apply


def _is_upgrade(ctx: Ctx, exp: Expected) -> bool:
    return (
        ctx.case.error_name == "HPE_PAUSED_UPGRADE" and exp.error is None and not exp.alternatives
    )


def _upgrade(ctx: Ctx, exp: Expected) -> Expected:
    last = exp.messages[-1]
    if last.head[0] == 101:
        # A 101 response: the client never asked to upgrade, so the core refuses it.
        return exp.truncate(len(exp.messages) - 1, {400}, "101")
    return replace(exp, free_tail=True)


def _asterisk_index(ctx: Ctx, exp: Expected) -> int | None:
    """Where the first request with "*" and a method other than OPTIONS is (llhttp may
    not have finished its head: it pauses on the HTTP/2 preface)."""
    for i, m in enumerate(ctx.case.messages):
        if m["url"] == "*" and m["method"] != "OPTIONS":
            return min(i, len(exp.messages))
    return None


def _is_asterisk_not_options(ctx: Ctx, exp: Expected) -> bool:
    return ctx.case.is_request and _asterisk_index(ctx, exp) is not None


def _asterisk_not_options(ctx: Ctx, exp: Expected) -> Expected:
    index = _asterisk_index(ctx, exp)
    assert index is not None
    return exp.truncate(index, {400}, "asterisk-form")


def _unframed_http10(ctx: Ctx, exp: Expected) -> bool:
    """A 1.0 request without keep-alive or Content-Length, followed by more bytes; not a
    CONNECT, whose following bytes belong to the tunnel (the protocol switch rule)."""
    if not ctx.case.is_request or not exp.messages:
        return False
    first = exp.messages[0]
    if first.head[0] == b"CONNECT":
        return False
    tail = ctx.data[ctx.data.find(b"\r\n\r\n") + 4 :]
    names = {name for name, _ in first.headers}
    return (
        first.head[2] == b"1.0"
        and b"content-length" not in names
        and b"connection" not in names
        and tail.strip(b"\r\n") != b""
    )


def _unframed_http10_apply(ctx: Ctx, exp: Expected) -> Expected:
    first = replace(exp.messages[0], body=b"", complete=True, keep_alive=False)
    if first.head[0] in (b"POST", b"PUT", b"PATCH"):
        # RFC 1945 §8.3: decided from the head alone, before any event.
        return replace(exp, messages=(), error=frozenset({411}), free_tail=False)
    return replace(exp, messages=(first,), error=frozenset({400}), free_tail=False)


def _is_unknown_method(ctx: Ctx, _: Expected) -> bool:
    return ctx.case.error_name == "HPE_INVALID_METHOD" or (
        ctx.case.error_reason == "Invalid method for HTTP/x.x request"
    )


def _unknown_method(ctx: Ctx, exp: Expected) -> Expected:
    # The request line and headers are what the bytes say; only the method differs
    # from what llhttp knows. Built from the first head: start line, then "name: value".
    lines = _first_head(ctx.data).rstrip(b"\r\n").split(b"\r\n")
    method, target, version = lines[0].split(b" ")
    headers = tuple(
        (name.lower(), value.strip())
        for name, _, value in (line.partition(b":") for line in lines[1:])
    )
    http11 = version == b"HTTP/1.1"
    msg = Msg((method, target, version[5:]), headers, complete=True, keep_alive=http11)
    return replace(exp, messages=(msg,), error=None)


def _is_mid_head_error(ctx: Ctx, exp: Expected) -> bool:
    case = ctx.case
    if (
        case.verdict != "error"
        or case.error_name in PAUSES
        or case.messages[-1]["headers_complete"]
    ):
        return False
    assert case.error_offset is not None
    rest = case.data[max(0, case.error_offset - 2) :]
    return b"\n\r\n" not in rest and b"\n\n" not in rest


def _mid_head_error(ctx: Ctx, exp: Expected) -> Expected:
    # llhttp stops at the first bad byte; the core validates a head once it is whole,
    # so it waits for more. Completing the head (with a Host, so that the verdict is
    # about the bad byte and not about Host) must get it rejected.
    data = ctx.data
    completion = b"" if data.endswith(b"\n") else b"\r\n"
    if ctx.case.is_request and not re.search(rb"(?i)\nhost:", data):
        completion += b"Host: h10.test\r\n"
    completion += b"\r\n"
    rejected = Expected(
        exp.messages,
        error=exp.error,
        not_error_text="Host header",
        rules=("completed head",),
    )
    return replace(
        exp,
        error=None,
        variants=(*exp.variants, ("head completed", data + completion, rejected)),
    )


def _needs_host(m: Msg) -> bool:
    return m.head[2] == b"1.1" and not any(name == b"host" for name, _ in m.headers)


def _is_host_injected(ctx: Ctx, exp: Expected) -> bool:
    return ctx.host_injected and any(_needs_host(m) for m in exp.messages)


def _host_injected(ctx: Ctx, exp: Expected) -> Expected:
    # llhttp saw these heads without the Host line we added right after the request line.
    messages = tuple(
        replace(m, headers=(HOST, *m.headers)) if _needs_host(m) else m for m in exp.messages
    )
    return replace(exp, messages=messages)


def _inject_host(data: bytes) -> bytes:
    """Add a Host line after every HTTP/1.1 request line whose head has none."""
    out = bytearray()
    done = 0
    for match in re.finditer(rb"(?m)^[!-~]+ [!-~]+ HTTP/1\.1\r?\n", data):
        ends = [
            i
            for i in (data.find(b"\n\r\n", match.end() - 1), data.find(b"\n\n", match.end() - 1))
            if i >= 0
        ]
        head = data[match.end() - 1 : min(ends) + 1] if ends else data[match.end() - 1 :]
        if re.search(rb"(?i)\nhost[ \t]*:", head) is None:
            out += data[done : match.end()] + b"Host: h10.test\r\n"
            done = match.end()
    return bytes(out + data[done:])


def _without_host(injected: Expected) -> Expected:
    """The input as sent: rejected at its first complete head without Host (§3.2).

    ``injected`` is the expectation with Host added. A head that run emits is otherwise
    fine, so here it gets the Host error. A head that run rejects too may get either
    error (the core checks bytes and syntax before Host, framing after). A head that
    never completes is waited for, Host or not.
    """
    heads = injected.messages
    index = next((i for i, m in enumerate(heads) if HOST in m.headers), len(heads))
    host_error = Expected(heads[:index], error=frozenset({400}), error_text="Host header")
    if index < len(heads):
        return host_error
    if injected.error is None:
        return replace(injected, variants=())
    return Expected((), alternatives=(host_error, replace(injected, variants=())))


def _bad_trailer_index(exp: Expected) -> int | None:
    return next(
        (
            i
            for i, m in enumerate(exp.messages)
            if any(not sansio.allowed_in_trailers(name) for name, _ in m.trailers)
        ),
        None,
    )


def _is_bad_trailer(ctx: Ctx, exp: Expected) -> bool:
    return _bad_trailer_index(exp) is not None


def _bad_trailer(ctx: Ctx, exp: Expected) -> Expected:
    # The head and the body arrive; the end of the message does not.
    index = _bad_trailer_index(exp)
    assert index is not None
    cut = replace(exp.messages[index], trailers=(), complete=False)
    return replace(
        exp,
        messages=(*exp.messages[:index], cut),
        error=frozenset({400}),
        error_text="cannot be a trailer field",
        free_tail=False,
    )


def _is_unknown_coding(ctx: Ctx, exp: Expected) -> bool:
    return ctx.case.is_request and any(_codings(m) not in ([], [b"chunked"]) for m in exp.messages)


def _codings(m: Msg) -> list[bytes]:
    values = b",".join(v for n, v in m.headers if n == b"transfer-encoding")
    return [c.strip().lower() for c in values.split(b",") if c.strip()]


def _unknown_coding(ctx: Ctx, exp: Expected) -> Expected:
    index = next(
        i for i, m in enumerate(exp.messages) if _codings(exp.messages[i]) not in ([], [b"chunked"])
    )
    return exp.truncate(index, {501}, "transfer coding")


def _is_proxy_connection(ctx: Ctx, exp: Expected) -> bool:
    return any(name == b"proxy-connection" for m in exp.messages for name, _ in m.headers)


def _proxy_connection(ctx: Ctx, exp: Expected) -> Expected:
    def persistent(m: Msg) -> bool:
        tokens = b",".join(v for n, v in m.headers if n == b"connection").lower()
        return b"close" not in tokens and (m.head[2] == b"1.1" or b"keep-alive" in tokens)

    return replace(exp, messages=tuple(replace(m, keep_alive=persistent(m)) for m in exp.messages))


def _is_skip_body_request(ctx: Ctx, exp: Expected) -> bool:
    return ctx.case.is_request and bool(ctx.case.meta.get("skipBody"))


def _skip_body_request(ctx: Ctx, exp: Expected) -> Expected:
    first = exp.messages[0]
    body = ctx.data.split(b"\r\n\r\n", 1)[1]
    return replace(exp, messages=(replace(first, body=body, complete=False),))


def _is_obs_fold_request(ctx: Ctx, exp: Expected) -> bool:
    return ctx.case.is_request and _head_ends(ctx.data) and _has_obs_fold(_first_head(ctx.data))


def _is_mixed_line_ends(ctx: Ctx, exp: Expected) -> bool:
    return _head_ends(ctx.data) and _mixes_line_ends(_whole_head(ctx.data))


def _head_ends(data: bytes) -> bool:
    return b"\n\r\n" in data or b"\n\n" in data


# Lenient cases with no strict twin in the corpus and no rule above that covers them:
# where our strict parse stops. (message index, head emitted, body before the error,
# statuses). The leniency named is what llhttp needed to accept the bytes.
LENIENT_STRICT: dict[str, tuple[int, bool, bytes, set[int], str]] = {
    # keep-alive: data after a 1.0 request without keep-alive is not a next request
    "test/request/connection.md:107": (1, False, b"", {400}, "closing"),
    # headers: a control character (0x0c) in a field value (RFC 9110 §5.5)
    "test/request/lenient-headers.md:6": (0, False, b"", {400}, "0x0c"),
    "test/request/lenient-headers.md:34": (1, False, b"", {400}, "0x0c"),
    # version: HTTP/5.6 (RFC 9110 §6.2: 505 for a major version we do not speak)
    "test/request/lenient-version.md:4": (0, False, b"", {505}, "version"),
    # chunked-length: Transfer-Encoding with Content-Length (RFC 9112 §6.1)
    "test/request/transfer-encoding.md:530": (0, False, b"", {400}, "Transfer-Encoding"),
    # optional-lf-after-cr: a bare CR in a chunk-size line (RFC 9112 §7.1)
    "test/request/transfer-encoding.md:1025": (0, True, b"", {400}, "0x0d"),
    # all: bare LF ends a chunk-size line (RFC 9112 §7.1 and Errata 7633)
    "test/request/invalid.md:568": (0, True, b"", {400}, "CRLF"),
}


@dataclass(frozen=True)
class Reference:
    """Which of llhttp's verdicts a case is compared with, when not its own."""

    name: str
    rfc: str
    reason: str
    choose: Callable[[Ctx], Expected | None]


def _strict_twin_reference(ctx: Ctx) -> Expected | None:
    twin = _strict_twin(ctx.case) if ctx.case.lenient else None
    if twin is None:
        return None
    return expected_for(Ctx(twin, ctx.data, ctx.host_injected))


def _still_rejected(ctx: Ctx) -> Expected | None:
    case = ctx.case
    if case.lenient and case.verdict == "error" and case.error_name not in PAUSES:
        return from_llhttp(case)
    return None


def _obs_fold_response(ctx: Ctx) -> Expected | None:
    case = ctx.case
    if case.is_request or case.lenient != ("headers",):
        return None
    if not _has_obs_fold(_first_head(ctx.data)):
        return None
    # llhttp keeps the continuation line's whitespace; we fold it to one SP.
    return replace(from_llhttp(case), fold_ws=True)


def _bare_lf_response(ctx: Ctx) -> Expected | None:
    case = ctx.case
    head = _whole_head(ctx.data)
    if case.is_request or case.lenient or not _has_bare_lf(head) or _mixes_line_ends(head):
        return None
    twin = _lenient_twin(case, "optional-cr-before-lf")
    return None if twin is None else from_llhttp(twin)


def _lenient_strict(ctx: Ctx) -> Expected | None:
    if ctx.case.id not in LENIENT_STRICT:
        return None
    index, head, body, statuses, text = LENIENT_STRICT[ctx.case.id]
    exp = from_llhttp(ctx.case)
    if not head:
        return exp.truncate(index, statuses, text)
    cut = replace(exp.messages[index], body=body, complete=False)
    return replace(
        exp,
        messages=(*exp.messages[:index], cut),
        error=frozenset(statuses),
        error_text=text,
    )


def _lenient_only(ctx: Ctx) -> Expected | None:
    return from_llhttp(ctx.case) if ctx.case.lenient else None


NEEDS_A_RULE = "lenient, no strict reference: llhttp's lenient verdict"

REFERENCES: tuple[Reference, ...] = (
    Reference(
        "lenient: as its strict twin",
        "RFC 9112 §11",
        "the core has no leniencies; the strict case fed the same bytes is the reference",
        _strict_twin_reference,
    ),
    Reference(
        "lenient, and llhttp rejects it even so",
        "RFC 9112 §11",
        "the leniency did not save it; llhttp's error is the reference",
        _still_rejected,
    ),
    Reference(
        "obs-fold in a response is replaced by SP",
        "RFC 9112 §5.2",
        "a user agent MUST replace each obs-fold with SP, as llhttp's lenient mode does "
        "(llhttp keeps the continuation's whitespace, so values are compared folded)",
        _obs_fold_response,
    ),
    Reference(
        "bare LF in a response head: as llhttp's lenient twin",
        "RFC 9112 §2.2",
        "a recipient MAY accept a bare LF as a line terminator; the optional-cr-before-lf "
        "case fed the same bytes is the reference",
        _bare_lf_response,
    ),
    Reference(
        "lenient, no strict twin: our strict verdict (LENIENT_STRICT)",
        "RFC 9112 §11",
        "where the core stops the message that needed the leniency",
        _lenient_strict,
    ),
    Reference(NEEDS_A_RULE, "RFC 9112 §11", "a rule must replace it", _lenient_only),
)


RULES: tuple[Rule, ...] = (
    Rule(
        "HTTP/0.9 is not supported",
        "RFC 9112 §2.3",
        "HTTP/1.x has a version in every start line; 0.9 requests have no head at all",
        _is_http09,
        _reject_first(400),
    ),
    Rule(
        "RTSP and ICE are not HTTP",
        "RFC 9112 §2.3",
        'HTTP-name is "HTTP"; llhttp also parses RTSP/x.y and ICE/x.y start lines',
        _is_rtsp_ice,
        _reject_first(400),
    ),
    Rule(
        "unknown methods are accepted",
        "RFC 9110 §9.1",
        "the method is an open token; a server answers 501 once the request is parsed",
        _is_unknown_method,
        _unknown_method,
    ),
    Rule(
        "a head is validated once it is complete",
        "RFC 9112 §2.2",
        "llhttp stops at the first bad byte; we wait for the head to end (or a limit)",
        _is_mid_head_error,
        _mid_head_error,
    ),
    Rule(
        "a head that mixes CRLF and bare LF line ends is rejected",
        "RFC 9112 §2.2, §11",
        "a CRLF-only parser reads a bare LF as part of a field, so the two disagree on the "
        "fields and the framing (llhttp's 'Missing CR between headers' smuggling probe)",
        _is_mixed_line_ends,
        _reject_first(400, "mixes CRLF and bare LF"),
    ),
    Rule(
        "obs-fold in a request is rejected",
        "RFC 9112 §5.2",
        "a server MUST reject it (or replace it); we reject, as llhttp's strict mode does",
        _is_obs_fold_request,
        _reject_first(400, "folding"),
    ),
    Rule(
        "the asterisk-form request target is only for OPTIONS",
        "RFC 9112 §3.2.4",
        '"The asterisk-form of request-target is only used for a server-wide OPTIONS '
        'request": M-SEARCH * is SSDP (HTTP over UDP), and PRI * is the HTTP/2 connection '
        "preface (RFC 9113 §3.4), which is not HTTP/1 either",
        _is_asterisk_not_options,
        _asterisk_not_options,
    ),
    Rule(
        "HTTP/1.0 request without Content-Length, followed by more bytes",
        "RFC 1945 §8.3, RFC 9112 §9.3",
        "a 1.0 POST/PUT/PATCH without Content-Length is refused with 411 from its head; "
        "after any other such request more bytes are data after the last message (400), "
        "never a next request",
        _unframed_http10,
        _unframed_http10_apply,
    ),
    Rule(
        "a protocol switch: compare up to the pause",
        "RFC 9110 §7.8, §9.3.6",
        "an Upgrade (HTTP/1.1) or CONNECT request is accepted and the connection switched, "
        "so nothing after it is read as HTTP, as llhttp pauses; a 101 the client did not "
        "ask for is rejected",
        _is_upgrade,
        _upgrade,
    ),
    Rule(
        "a skipBody request cannot be reproduced",
        "RFC 9112 §6.3",
        "the harness told llhttp the request has no body; from the bytes, its body is "
        "Content-Length long",
        _is_skip_body_request,
        _skip_body_request,
    ),
    Rule(
        "a request with a transfer coding other than chunked is refused with 501",
        "RFC 9112 §6.1",
        "a server that receives a transfer coding it does not understand SHOULD answer 501; "
        "llhttp passes the still-encoded body on",
        _is_unknown_coding,
        _unknown_coding,
    ),
    Rule(
        "a trailer field that must be a header field is refused",
        "RFC 9110 §6.5.1",
        "a sender MUST NOT send a field as a trailer unless its definition allows it; "
        "Content-Type and Vary (content format, response controls) do not",
        _is_bad_trailer,
        _bad_trailer,
    ),
    Rule(
        "Proxy-Connection does not govern persistence",
        "RFC 9112 §9.3, Appendix C.2.2",
        "only Connection does; Proxy-Connection was never standardised",
        _is_proxy_connection,
        _proxy_connection,
    ),
    Rule(
        "an HTTP/1.1 request without exactly one Host is rejected",
        "RFC 9112 §3.2",
        "a server MUST respond 400: we compare llhttp's verdict with a Host line added, "
        "and check that the bytes as sent are rejected at the first head without one",
        _is_host_injected,
        _host_injected,
    ),
)
HOST_RULE = RULES[-1].name


def expected_for(ctx: Ctx) -> Expected:
    """What the core must do with ``ctx.data``: llhttp's verdict, changed by the rules."""
    for reference in REFERENCES:
        exp = reference.choose(ctx)
        if exp is not None:
            exp = replace(exp, rules=(reference.name, *exp.rules))
            break
    else:
        exp = from_llhttp(ctx.case)
    if ctx.case.lenient and _strict_twin(ctx.case) is not None:
        return exp  # the twin's own rules are already applied
    for rule in RULES:
        if rule.applies(ctx, exp):
            changed = rule.apply(ctx, exp)
            if changed != exp:  # a rule that changes nothing is not a difference
                exp = replace(changed, rules=(*exp.rules, rule.name))
    return exp


def checks_for(case: Case) -> list[tuple[str, bytes, Expected]]:
    """Each input to feed for ``case``, with what the core must do with it."""
    if case.is_request:
        injected = _inject_host(case.data)
        if injected != case.data:
            exp = expected_for(Ctx(case, injected, host_injected=True))
            as_sent = replace(_without_host(exp), rules=(HOST_RULE,))
            return [
                (f"{case.id} (Host added)", injected, exp),
                (f"{case.id} (as sent, without Host)", case.data, as_sent),
            ]
    return [(case.id, case.data, expected_for(Ctx(case, case.data)))]


# -- the test ------------------------------------------------------------------------


def test_corpus_is_present() -> None:
    assert CORPUS.is_dir() and all((CORPUS / f).is_file() for f in CORPUS_FILES), (
        f"the llhttp corpus is missing: expected {CORPUS}/{{{','.join(CORPUS_FILES)}}} "
        "(vendored in the repository: see tests/data/llhttp/ORIGIN.md)"
    )
    assert len(CASES) == 251


def _check(case: Case, label: str, data: bytes, expected: Expected) -> None:
    whole = run(case, [data])
    assert expected.rules[-1:] != (NEEDS_A_RULE,), f"{label}: no strict reference"
    assert matches(expected, whole), (
        f"{label}: rules {list(expected.rules)}\nexpected:\n{expected.describe()}\n"
        f"ours:\n{whole.summary()}"
    )
    for how, chunks in feeds(data):
        ours = run(case, chunks)
        # The error's wording may quote the bytes at hand; its status and the events may
        # not depend on how the input was cut.
        assert (ours.messages, ours.error) == (whole.messages, whole.error), (
            f"{label}: fed {how}, the outcome differs from one read\n"
            f"one read:\n{whole.summary()}\n{how}:\n{ours.summary()}"
        )
    for variant, variant_data, variant_expected in expected.variants:
        _check(case, f"{label} / {variant}", variant_data, variant_expected)


@pytest.mark.parametrize("case_id", [case.id for case in CASES] or ["missing corpus"])
def test_llhttp_case(case_id: str) -> None:
    assert case_id in BY_ID, f"the llhttp corpus is missing at {CORPUS}"
    case = BY_ID[case_id]
    try:
        for label, data, expected in checks_for(case):
            _check(case, label, data, expected)
    except AssertionError as exc:
        if case_id in KNOWN_CORE_BUGS:
            raise AssertionError(f"KNOWN CORE BUG: {KNOWN_CORE_BUGS[case_id]}\n{exc}") from None
        raise


@cache
def _rules_by_case() -> dict[str, tuple[str, ...]]:
    return {
        case.id: tuple(rule for _, _, exp in checks_for(case) for rule in exp.rules)
        for case in CASES
    }


def test_every_rule_is_used() -> None:
    by_case = _rules_by_case()
    used = {rule for rules in by_case.values() for rule in rules}
    names = [rule.name for rule in RULES] + [ref.name for ref in REFERENCES[:-1]]
    unused = [name for name in names if name not in used]
    assert not unused, f"rules that no case needs any more: {unused}"
    # The tally, for ``pytest -s``: cases that agree outright, and cases per rule.
    print(f"\nllhttp corpus: {sum(not rules for rules in by_case.values())} cases agree")
    for name in names:
        count = sum(any(rule.startswith(name) for rule in rules) for rules in by_case.values())
        print(f"{count:4} {name}")


def test_rules_are_documented() -> None:
    for rule in RULES:
        assert rule.rfc.startswith("RFC ") and rule.reason, rule.name
    for reference in REFERENCES:
        assert reference.rfc.startswith("RFC ") and reference.reason, reference.name
