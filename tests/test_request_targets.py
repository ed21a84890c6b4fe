"""Request targets by form and method (RFC 9112 §3.2), and ``sansio.target_path``.

origin-form (``/...``) and absolute-form (``scheme://authority...``) for any method but
CONNECT; authority-form (``host:port``) for CONNECT, and CONNECT only; ``*`` for OPTIONS
only. Anything else is a 400 whose message names the form, however the bytes arrive,
and ``send`` refuses the same targets. ``target_path`` gives the path and query of any
target the core accepts.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

import sansio
from sansio import LocalProtocolError, RemoteProtocolError, Request, target_path

from helpers import first_message
from strategies import requests

ORIGIN = (b"/", b"/a/b?x=1&y", b"//double", b"/?", b"/%2e%2e/~u;p=1#frag", b"/:@!$&'()*+,;=")
ABSOLUTE = (
    b"http://example.com",
    b"http://example.com/a?b",
    b"HTTP://EXAMPLE.COM:8080/A",
    b"https://[::1]:443/",
    b"hTtPs://h?q",
    b"http://user:p%41ss@h/x",
    b"ftp://h.example/file",
    b"http://[v7.fe80::1]/",
    b"http://[::ffff:1.2.3.4]/",
    b"http://127.0.0.1#frag",
)
AUTHORITY = (b"example.com:443", b"[::1]:8443", b"10.0.0.1:80", b"home_0.netscape.com:1")
ASTERISK = (b"*",)
NO_FORM = (
    b"foo/bar",
    b"admin/secret",
    b"example.com",
    b"s://]ufd/:",
    b"http://",
    b"http:///path",
    b"http://h:80x/",
    b"http://[::g]/",
    b"http://[1::2::3]/",  # the grammar's rough IPv6 shape, but not an IPv6 address
    b"[1:2:3]:443",
    b"http://[v7.a%20]/",
    b"http://a b",
    b"h:",
    b"h:65536",
    b"u@h:443",
    b"example.com:443/x",
    b"**",
    b"?x",
    b"#x",
)
METHODS = (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"MKCOLA")


def _allowed(method: bytes, form: str) -> bool:
    """RFC 9112 §3.2.1-§3.2.4 and RFC 9110 §9.3.6, as a table."""
    if method == b"CONNECT":
        return form == "authority"
    return form in ("origin", "absolute") or (form == "asterisk" and method == b"OPTIONS")


def _request(method: bytes, target: bytes) -> bytes:
    body = b"Content-Length: 0\r\n" if method in (b"POST", b"PUT") else b""
    return b"%b %b HTTP/1.1\r\nHost: h\r\n%b\r\n" % (method, target, body)


FORMS = [
    *(("origin", t) for t in ORIGIN),
    *(("absolute", t) for t in ABSOLUTE),
    *(("authority", t) for t in AUTHORITY),
    *(("asterisk", t) for t in ASTERISK),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("form", "target"), FORMS)
def test_each_form_for_each_method_is_accepted_or_refused_by_the_table(
    method: bytes, form: str, target: bytes
) -> None:
    got = first_message(_request(method, target))
    if _allowed(method, form):
        assert not isinstance(got, RemoteProtocolError), got
        assert type(got[0]) is Request and got[0].target == target
    else:
        assert isinstance(got, RemoteProtocolError)
        assert got.status_hint == 400
        # CONNECT's refusal names the form it needs; any other, the form it was given.
        named = "authority-form" if method == b"CONNECT" else f"{form}-form"
        assert named in str(got), got


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", NO_FORM)
def test_a_target_in_no_form_is_refused_for_every_method(method: bytes, target: bytes) -> None:
    got = first_message(_request(method, target))
    assert isinstance(got, RemoteProtocolError), got
    assert got.status_hint == 400
    assert "form" in str(got) or "request line" in str(got), got


# The issue's table: what a peer server's corpus rejects and the core used to accept.
@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"GET * HTTP/1.1", "the asterisk-form request target '*' is only for OPTIONS, not GET"),
        (
            b"GET example.com:443 HTTP/1.1",
            "the authority-form request target b'example.com:443' is only for CONNECT, not GET",
        ),
        (b"GET foo/bar HTTP/1.1", "request target b'foo/bar' is in no request-target form"),
        (
            b"PUT s://]ufd/: HTTP/1.1",
            "invalid absolute-form request target b's://]ufd/:' (RFC 3986 §4.3)",
        ),
    ],
)
def test_the_issue_table_is_refused_with_a_message_naming_the_form(
    line: bytes, message: str
) -> None:
    got = first_message(line + b"\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(got, RemoteProtocolError), got
    assert got.status_hint == 400
    assert message in str(got)


def test_a_guard_on_the_path_cannot_be_passed_without_a_slash() -> None:
    # GET admin/secret used to reach a WSGI app as PATH_INFO "admin/secret".
    got = first_message(b"GET admin/secret HTTP/1.1\r\nHost: h\r\n\r\n")
    assert isinstance(got, RemoteProtocolError)
    got = first_message(b"GET http://h/admin/secret HTTP/1.1\r\nHost: h\r\n\r\n")
    assert not isinstance(got, RemoteProtocolError)
    assert isinstance(got[0], Request)
    assert target_path(got[0].target) == (b"/admin/secret", b"")


@pytest.mark.parametrize(
    ("method", "target", "allowed"),
    [
        (b"GET", b"/", True),
        (b"OPTIONS", b"*", True),
        (b"GET", b"http://h/a", True),
        (b"CONNECT", b"h:443", True),
        (b"GET", b"*", False),
        (b"CONNECT", b"/", False),
        (b"CONNECT", b"http://h:443/", False),
        (b"GET", b"h:443", False),
        (b"GET", b"foo", False),
        (b"POST", b"s://]ufd/:", False),
    ],
)
def test_send_refuses_the_same_targets(method: bytes, target: bytes, allowed: bool) -> None:
    client = sansio.Connection(sansio.CLIENT)
    request = Request(method, target, ((b"Host", b"h"),), b"1.1")
    if allowed:
        wire = client.send(request)
        assert wire.startswith(method + b" " + target + b" HTTP/1.1\r\n")
    else:
        with pytest.raises(LocalProtocolError, match="form"):
            client.send(request)
        assert client.our_state is sansio.IDLE  # nothing was sent


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        (b"/", b"/", b""),
        (b"/a/b?x=1&y=2", b"/a/b", b"x=1&y=2"),
        (b"/a?b?c", b"/a", b"b?c"),
        (b"/a#frag?no", b"/a", b""),
        (b"/a?q#frag", b"/a", b"q"),
        (b"/%2F%3f?%3F", b"/%2F%3f", b"%3F"),
        (b"//h/p", b"//h/p", b""),
        (b"http://h/a?b", b"/a", b"b"),
        (b"HTTP://H:80/A?B", b"/A", b"B"),
        (b"http://h", b"/", b""),
        (b"http://h?x=1", b"/", b"x=1"),
        (b"http://h:8080#f", b"/", b""),
        (b"https://u:p@[::1]:443//x", b"//x", b""),
        (b"http://h/http://other/x", b"/http://other/x", b""),
        (b"*", b"*", b""),
        (b"example.com:443", b"", b""),
        (b"[::1]:443", b"", b""),
    ],
)
def test_target_path_gives_the_path_and_query_of_every_form(
    target: bytes, path: bytes, query: bytes
) -> None:
    assert target_path(target) == (path, query)


@pytest.mark.parametrize("target", [b"", b"foo/bar", b"s://]ufd/:", b"http://", b"h:"])
def test_target_path_refuses_what_is_no_target(target: bytes) -> None:
    with pytest.raises(ValueError, match="not a request target"):
        target_path(target)


@given(requests())
def test_every_accepted_target_has_a_path(req: Any) -> None:
    target = req.request.target
    path, query = target_path(target)
    assert path.startswith(b"/") or target == b"*"
    assert b"#" not in path + query
    if target.startswith(b"/"):
        assert target.startswith(path)
