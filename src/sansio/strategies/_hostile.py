"""Hostile requests: one table of smuggling classes (``HOSTILE_CLASSES``), each with a
builder that makes a message valid but for that one fault, and the status it must get.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .._limits import Limits
from ._blocks import (
    _field_lines,
    _fields,
    _hosts,
    _insert,
    _spell,
    field_values,
    request_targets,
    tokens,
)
from ._requests import _BODY_METHODS, _CHUNKED

__all__ = ["HOSTILE_CLASSES", "HostileRequest", "hostile_requests"]


@dataclass(frozen=True, slots=True)
class HostileRequest:
    """Bytes that a conforming server must reject, and how."""

    wire: bytes
    smuggling_class: str
    """A key of ``HOSTILE_CLASSES``."""
    status_hint: int
    """The ``RemoteProtocolError.status_hint`` the server must raise with."""
    eof: bool
    """The fault is a message cut short: the error comes only at EOF (``b""``)."""


HOSTILE_CLASSES: dict[str, str] = {
    "cl-te": "both Content-Length and Transfer-Encoding (RFC 9112 §6.1, §11.2)",
    "cl-cl": "differing Content-Length values (RFC 9110 §8.6)",
    "cl-invalid": "a Content-Length that is not 1*DIGIT (RFC 9110 §8.6)",
    "content-type-twice": "two different Content-Type or Content-Range values (RFC 9110 §5.3)",
    "te-not-chunked-final": "chunked is not the final transfer coding (RFC 9112 §6.3)",
    "te-unknown": "an unknown transfer coding before chunked: 501 (RFC 9112 §6.1)",
    "te-chunked-twice": "chunked applied more than once (RFC 9112 §6.1)",
    "te-http10": "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)",
    "obs-fold": "obsolete line folding in a request (RFC 9112 §5.2)",
    "space-before-colon": "whitespace between a field name and the colon (RFC 9112 §5.1)",
    "bare-cr": "a CR not followed by LF (RFC 9112 §2.2)",
    "ctl-in-field": "NUL or another control character in a field (RFC 9110 §5.5)",
    "bad-field-name": "a field name that is not a token (RFC 9110 §5.1)",
    "bad-request-line": "a malformed request line (RFC 9112 §3)",
    "target-form": "a request target in no form, or in one its method may not use (RFC 9112 §3.2)",
    "version-unsupported": "an HTTP major version other than 1: 505 (RFC 9110 §15.6.6)",
    "host-count": "an HTTP/1.1 request without exactly one Host (RFC 9112 §3.2)",
    "length-required": "an HTTP/1.0 POST, PUT or PATCH without Content-Length: 411 (RFC 1945 §8.3)",
    "chunk-size-invalid": "a chunk size that is not 1 to 16 hex digits (RFC 9112 §7.1)",
    "chunk-missing-crlf": "chunk data not followed by CRLF (RFC 9112 §7.1)",
    "chunk-bare-lf": "a chunk-size line ended by a bare LF (RFC 9112 §7.1)",
    "chunk-ext-invalid": "a chunk extension outside the grammar (RFC 9112 §7.1.1)",
    "chunk-line-too-long": "a chunk-size line over Limits.max_chunk_line_size",
    "trailer-field": "a trailer field that describes framing, routing, ... (RFC 9110 §6.5.1)",
    "request-line-too-long": "a request line over Limits.max_start_line_size: 414",
    "field-too-large": "a field line over Limits.max_field_size: 431",
    "head-too-large": "a head over Limits.max_head_size: 431",
    "too-many-fields": "more than Limits.max_header_count fields: 431",
    "truncated-head": "EOF in the middle of a request head",
    "truncated-body": "EOF in the middle of a Content-Length or chunked body",
    "body-too-large": "a body over Limits.max_body_size: 413 (only if it is set)",
}


_Hostile = tuple[bytes, int, bool]  # wire, status hint, needs EOF
_DEFAULT_LIMITS = Limits()
_CTLS = bytes([*range(0x00, 0x09), *range(0x0B, 0x0D), *range(0x0E, 0x20), 0x7F])


def hostile_requests(
    *, classes: Sequence[str] | None = None, limits: Limits = _DEFAULT_LIMITS
) -> st.SearchStrategy[HostileRequest]:
    """Requests a conforming server must reject, from the classes in ``HOSTILE_CLASSES``.

    Each is one message, valid but for its single fault, so the verdict is the class's
    own status. Size-based classes are built against ``limits``; ``body-too-large`` is
    drawn only when ``limits.max_body_size`` is set.
    """
    names = tuple(HOSTILE_CLASSES) if classes is None else tuple(classes)
    unknown = set(names) - set(HOSTILE_CLASSES)
    if unknown or not names:
        raise InvalidArgument(f"unknown hostile classes {sorted(unknown)}; see HOSTILE_CLASSES")
    if limits.max_body_size is None:
        names = tuple(n for n in names if n != "body-too-large")
        if not names:
            raise InvalidArgument("body-too-large needs limits.max_body_size")
    return st.sampled_from(names).flatmap(lambda name: _hostile(name, limits))


@st.composite
def _hostile(draw: st.DrawFn, name: str, limits: Limits) -> HostileRequest:
    wire, status, eof = _HOSTILE_BUILDERS[name](draw, limits)
    return HostileRequest(wire, name, status, eof)


def _head(
    draw: st.DrawFn,
    fields: list[tuple[bytes, bytes]],
    *,
    method: bytes = b"POST",
    version: bytes = b"1.1",
    host: bool = True,
    request_line: bytes | None = None,
) -> bytes:
    """A request head around ``fields`` (kept in order), with a few harmless fields mixed in."""
    fields = list(fields)
    for extra in draw(_fields(3)):
        _insert(draw, fields, extra)
    if host:
        _insert(draw, fields, (b"Host", draw(_hosts)))
    if request_line is None:
        request_line = b"%b %b HTTP/%b" % (method, draw(request_targets(method)), version)
    lines = draw(_field_lines(_spell(draw, fields), st.just(b"\r\n")))
    return request_line + b"\r\n" + lines + b"\r\n"


def _chunked(data: bytes = b"hello") -> bytes:
    return (b"%x\r\n%b\r\n" % (len(data), data) if data else b"") + b"0\r\n\r\n"


def _h_cl_te(draw: st.DrawFn, limits: Limits) -> _Hostile:
    body = draw(st.binary(max_size=16))
    fields = [
        (b"Content-Length", b"%d" % draw(st.sampled_from((0, 4, len(body))))),
        (b"Transfer-Encoding", draw(st.sampled_from(_CHUNKED))),
    ]
    if draw(st.booleans()):
        fields.reverse()
    return _head(draw, fields) + _chunked(body), 400, False


def _h_cl_cl(draw: st.DrawFn, limits: Limits) -> _Hostile:
    a = draw(st.integers(0, 99))
    b = draw(st.integers(0, 99).filter(lambda n: n != a))
    if draw(st.booleans()):
        fields = [(b"Content-Length", b"%d" % a), (b"Content-Length", b"%d" % b)]
    else:
        fields = [(b"Content-Length", b"%d, %d" % (a, b))]
    return _head(draw, fields) + b"x" * max(a, b), 400, False


def _h_cl_invalid(draw: st.DrawFn, limits: Limits) -> _Hostile:
    value = draw(
        st.sampled_from(
            (
                b"-1",
                b"+5",
                b"0x10",
                b"5 5",
                b"1.0",
                b"",
                b"abc",
                b"1_0",
                b"\xd9\xa3",
                b"5,",
                b",5",
                b"9" * 40,
            )
        )
    )
    return _head(draw, [(b"Content-Length", value)]) + b"hello", 400, False


def _h_content_type_twice(draw: st.DrawFn, limits: Limits) -> _Hostile:
    name = draw(st.sampled_from((b"Content-Type", b"content-type", b"Content-Range")))
    first, second = draw(st.sampled_from(((b"a/b", b"c/d"), (b"text/html", b""), (b"x", b"x, y"))))
    body = b"hello"
    fields = [(b"Content-Length", b"5"), (name, first), (name.upper(), second)]
    return _head(draw, fields) + body, 400, False


def _h_te_not_chunked_final(draw: st.DrawFn, limits: Limits) -> _Hostile:
    value = draw(
        st.sampled_from((b"gzip", b"chunked, gzip", b"identity", b"xchunked", b"chunked;q=1"))
        | tokens(max_size=10).filter(lambda t: t.lower() != b"chunked")
    )
    return _head(draw, [(b"Transfer-Encoding", value)]) + _chunked(), 400, False


def _h_te_unknown(draw: st.DrawFn, limits: Limits) -> _Hostile:
    coding = b"x-" + draw(tokens(max_size=8))
    value = draw(st.sampled_from((coding + b", chunked", coding + b",chunked")))
    fields = [(b"Transfer-Encoding", value)]
    if draw(st.booleans()):
        fields = [(b"Transfer-Encoding", coding), (b"Transfer-Encoding", b"chunked")]
    return _head(draw, fields) + _chunked(), 501, False


def _h_te_chunked_twice(draw: st.DrawFn, limits: Limits) -> _Hostile:
    if draw(st.booleans()):
        fields = [(b"Transfer-Encoding", b"chunked, chunked")]
    else:
        fields = [(b"Transfer-Encoding", b"chunked"), (b"Transfer-Encoding", b"chunked")]
    return _head(draw, fields) + _chunked(), 400, False


def _h_te_http10(draw: st.DrawFn, limits: Limits) -> _Hostile:
    fields = [(b"Transfer-Encoding", draw(st.sampled_from(_CHUNKED)))]
    return _head(draw, fields, version=b"1.0", host=False) + _chunked(), 400, False


def _with_line(draw: st.DrawFn, head: bytes, line: bytes) -> bytes:
    """``head`` with the raw ``line`` (and its line end) after one of its field lines,
    or right after the request line."""
    lines = head.split(b"\r\n")  # request line, fields..., "", ""
    lines.insert(draw(st.integers(1, len(lines) - 2)), line)
    return b"\r\n".join(lines)


def _h_obs_fold(draw: st.DrawFn, limits: Limits) -> _Hostile:
    # The fold continues the line before it, or is the first line after the request line.
    fold = draw(st.sampled_from((b" ", b"\t", b"  "))) + draw(field_values()) + b"x"
    return _with_line(draw, _head(draw, [(b"X-Folded", b"a")]), fold), 400, False


def _h_space_before_colon(draw: st.DrawFn, limits: Limits) -> _Hostile:
    name = draw(st.sampled_from((b"Transfer-Encoding", b"Content-Length", b"Host", b"X-A")))
    ws = draw(st.sampled_from((b" ", b"\t", b"  ")))
    return _with_line(draw, _head(draw, []), name + ws + b": chunked"), 400, False


def _h_bare_cr(draw: st.DrawFn, limits: Limits) -> _Hostile:
    line = draw(st.sampled_from((b"X-A: va\rlue", b"X-A: value\rX-B: b", b"X-A: v\r", b"\rX: y")))
    if draw(st.booleans()):
        return _with_line(draw, _head(draw, []), line), 400, False
    return _head(draw, [], request_line=b"GET / HTTP/1.1\r\rX: y"), 400, False


def _h_ctl_in_field(draw: st.DrawFn, limits: Limits) -> _Hostile:
    ctl = bytes([draw(st.sampled_from(_CTLS))])
    value = draw(st.sampled_from((b"a%bb", b"%bchunked", b"chunked%b"))).replace(b"%b", ctl)
    name = draw(st.sampled_from((b"Transfer-Encoding", b"X-A")))
    return _with_line(draw, _head(draw, [], method=b"GET"), name + b": " + value), 400, False


def _h_bad_field_name(draw: st.DrawFn, limits: Limits) -> _Hostile:
    bad = draw(st.sampled_from(b'()<>@,;\\"/[]?={}\x80\xff'))
    name = draw(st.sampled_from((b"X-%bA", b"%bHost", b"Transfer-Encoding%b", b"%b"))).replace(
        b"%b", bytes([bad])
    )
    if draw(st.integers(0, 4)) == 0:
        name = draw(st.sampled_from((b"", b"X A", b"Transfer Encoding")))
    return _with_line(draw, _head(draw, [], method=b"GET"), name + b": x"), 400, False


def _h_bad_request_line(draw: st.DrawFn, limits: Limits) -> _Hostile:
    line = draw(
        st.sampled_from(
            (
                b"GET  / HTTP/1.1",
                b"GET /  HTTP/1.1",
                b"GET / HTTP/1.1 ",
                b"GET /a b HTTP/1.1",
                b"GET\t/ HTTP/1.1",
                b" GET / HTTP/1.1",
                b"GET /",
                b"GET / HTTP/1",
                b"GET / HTTP/1.",
                b"GET / HTTP/a.b",
                b"GET / http/1.1",
                b"GET / HTTPS/1.1",
                b"GET / HTTP/1.1x",
                b"GET / HTTP/11",
                b"GET /\x00 HTTP/1.1",
                b"GET /\x7f HTTP/1.1",
                b"GET /\xe9 HTTP/1.1",
                b"G(T / HTTP/1.1",
                b"G@T / HTTP/1.1",
                b"/ HTTP/1.1",
            )
        )
    )
    return _head(draw, [], request_line=line), 400, False


def _h_target_form(draw: st.DrawFn, limits: Limits) -> _Hostile:
    method, target = draw(
        st.one_of(
            st.tuples(
                st.sampled_from((b"GET", b"HEAD", b"DELETE", b"M-SEARCH", b"PRI")), st.just(b"*")
            ),
            st.tuples(
                st.sampled_from((b"GET", b"OPTIONS", b"DELETE")),
                st.sampled_from((b"example.com:443", b"[::1]:80", b"h:1")),
            ),
            st.tuples(
                st.just(b"CONNECT"),
                st.one_of(request_targets(), st.sampled_from((b"*", b"h", b"h:", b"h:99999"))),
            ),
            st.tuples(
                st.sampled_from((b"GET", b"OPTIONS", b"CONNECT")),
                st.sampled_from(
                    (b"foo/bar", b"admin/secret", b"s://]ufd/:", b"http://", b"http:///a", b"?q")
                ),
            ),
        )
    )
    return _head(draw, [], request_line=b"%b %b HTTP/1.1" % (method, target)), 400, False


def _h_version_unsupported(draw: st.DrawFn, limits: Limits) -> _Hostile:
    major, minor = draw(st.integers(2, 9)), draw(st.integers(0, 9))
    return _head(draw, [], version=b"%d.%d" % (major, minor), method=b"GET"), 505, False


def _h_host_count(draw: st.DrawFn, limits: Limits) -> _Hostile:
    fields = [(b"Host", draw(_hosts)) for _ in range(draw(st.sampled_from((0, 2, 3))))]
    return _head(draw, fields, method=b"GET", host=False), 400, False


def _h_length_required(draw: st.DrawFn, limits: Limits) -> _Hostile:
    method = draw(st.sampled_from(_BODY_METHODS))
    return _head(draw, [], method=method, version=b"1.0", host=False), 411, False


def _chunked_head(draw: st.DrawFn) -> bytes:
    return _head(draw, [(b"Transfer-Encoding", b"chunked")])


def _h_chunk_size_invalid(draw: st.DrawFn, limits: Limits) -> _Hostile:
    size = draw(
        st.sampled_from(
            (
                b"",
                b"g",
                b"-1",
                b"+5",
                b"0x5",
                b" 5",
                b"5 5",
                b"\t5",
                b"5\x00",
                b"\xff",
                b"0" * 16 + b"5",
                b"1" + b"0" * 16,
            )
        )
    )
    return _chunked_head(draw) + size + b"\r\nhello\r\n0\r\n\r\n", 400, False


def _h_chunk_missing_crlf(draw: st.DrawFn, limits: Limits) -> _Hostile:
    after = draw(st.sampled_from((b"XX", b"\n0", b"\r0", b"x\r\n", b" \r\n")))
    return _chunked_head(draw) + b"5\r\nhello" + after + b"\r\n0\r\n\r\n", 400, False


def _h_chunk_bare_lf(draw: st.DrawFn, limits: Limits) -> _Hostile:
    body = draw(
        st.sampled_from(
            (b"5\nhello\r\n0\r\n\r\n", b"5;a=b\nhello\r\n0\r\n\r\n", b"0\n\r\n", b"0\r\nx: y\n\r\n")
        )
    )
    return _chunked_head(draw) + body, 400, False


def _h_chunk_ext_invalid(draw: st.DrawFn, limits: Limits) -> _Hostile:
    ext = draw(
        st.sampled_from((b";", b";=x", b";a=", b';a="', b";a b", b";a=b c", b";a\x00", b";\x7f"))
    )
    return _chunked_head(draw) + b"5" + ext + b"\r\nhello\r\n0\r\n\r\n", 400, False


def _h_trailer_field(draw: st.DrawFn, limits: Limits) -> _Hostile:
    name = draw(
        st.sampled_from(
            (b"Content-Length", b"Host", b"Transfer-Encoding", b"content-type", b"If-Match")
        )
    )
    trailers = [*draw(_fields(2)), (name, b"1")]
    lines = draw(_field_lines(_spell(draw, trailers), st.just(b"\r\n")))
    return _chunked_head(draw) + b"5\r\nhello\r\n0\r\n" + lines + b"\r\n", 400, False


def _h_chunk_line_too_long(draw: st.DrawFn, limits: Limits) -> _Hostile:
    pad = limits.max_chunk_line_size + draw(st.integers(1, 64))
    line = b"5;a=" + b"b" * pad
    return _chunked_head(draw) + line + b"\r\nhello\r\n0\r\n\r\n", 400, False


def _h_request_line_too_long(draw: st.DrawFn, limits: Limits) -> _Hostile:
    size = limits.max_start_line_size + draw(st.integers(1, 64))
    target = b"/" + b"a" * size
    return _head(draw, [], method=b"GET", request_line=b"GET %b HTTP/1.1" % target), 414, False


def _h_field_too_large(draw: st.DrawFn, limits: Limits) -> _Hostile:
    size = limits.max_field_size + draw(st.integers(1, 64))
    return _head(draw, [(b"Cookie", b"c" * size)], method=b"GET"), 431, False


def _h_head_too_large(draw: st.DrawFn, limits: Limits) -> _Hostile:
    per_field = max(1, min(limits.max_field_size - 16, 4096))
    count = limits.max_head_size // per_field + 2
    if count + 5 > limits.max_header_count:  # too many fields to get there: 431 either way
        count = limits.max_header_count + 1
    fields = [(b"X-Pad-%d" % i, b"p" * per_field) for i in range(count)]
    return _head(draw, fields, method=b"GET"), 431, False


def _h_too_many_fields(draw: st.DrawFn, limits: Limits) -> _Hostile:
    count = limits.max_header_count + draw(st.integers(1, 8))
    fields = [(b"X-%d" % i, b"v") for i in range(count)]
    return _head(draw, fields, method=b"GET"), 431, False


def _h_truncated_head(draw: st.DrawFn, limits: Limits) -> _Hostile:
    head = _head(draw, [], method=b"GET")
    cut = draw(st.integers(1, len(head) - 1))
    return head[:cut], 400, True


def _h_truncated_body(draw: st.DrawFn, limits: Limits) -> _Hostile:
    body = draw(st.binary(min_size=1, max_size=32))
    if draw(st.booleans()):
        wire = _head(draw, [(b"Content-Length", b"%d" % len(body))]) + body
    else:
        wire = _chunked_head(draw) + _chunked(body)
    cut = draw(st.integers(wire.index(b"\r\n\r\n") + 4, len(wire) - 1))
    return wire[:cut], 400, True


def _h_body_too_large(draw: st.DrawFn, limits: Limits) -> _Hostile:
    assert limits.max_body_size is not None
    size = limits.max_body_size + draw(st.integers(1, 64))
    if draw(st.booleans()):
        return _head(draw, [(b"Content-Length", b"%d" % size)]), 413, False
    return _chunked_head(draw) + b"%x\r\n" % size, 413, False


_HOSTILE_BUILDERS: dict[str, Callable[[st.DrawFn, Limits], _Hostile]] = {
    "cl-te": _h_cl_te,
    "cl-cl": _h_cl_cl,
    "cl-invalid": _h_cl_invalid,
    "content-type-twice": _h_content_type_twice,
    "te-not-chunked-final": _h_te_not_chunked_final,
    "te-unknown": _h_te_unknown,
    "te-chunked-twice": _h_te_chunked_twice,
    "te-http10": _h_te_http10,
    "obs-fold": _h_obs_fold,
    "space-before-colon": _h_space_before_colon,
    "bare-cr": _h_bare_cr,
    "ctl-in-field": _h_ctl_in_field,
    "bad-field-name": _h_bad_field_name,
    "bad-request-line": _h_bad_request_line,
    "target-form": _h_target_form,
    "version-unsupported": _h_version_unsupported,
    "host-count": _h_host_count,
    "length-required": _h_length_required,
    "chunk-size-invalid": _h_chunk_size_invalid,
    "chunk-missing-crlf": _h_chunk_missing_crlf,
    "chunk-bare-lf": _h_chunk_bare_lf,
    "chunk-ext-invalid": _h_chunk_ext_invalid,
    "chunk-line-too-long": _h_chunk_line_too_long,
    "trailer-field": _h_trailer_field,
    "request-line-too-long": _h_request_line_too_long,
    "field-too-large": _h_field_too_large,
    "head-too-large": _h_head_too_large,
    "too-many-fields": _h_too_many_fields,
    "truncated-head": _h_truncated_head,
    "truncated-body": _h_truncated_body,
    "body-too-large": _h_body_too_large,
}
assert set(_HOSTILE_BUILDERS) == set(HOSTILE_CLASSES)
