"""The applications on their own, without sockets: the WSGI adapter checked by
``wsgiref.validate`` (PEP 3333 conformance on both sides), the Range parser and the
HTTP-date parser.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any
from wsgiref.validate import validator

import pytest

from driver import HTTPRequest, WSGIAdapter
from driver.static import _http_date, _parse_range


def _request(
    method: bytes = b"GET",
    target: bytes = b"/",
    headers: tuple[tuple[bytes, bytes], ...] = (),
    body: bytes = b"",
) -> HTTPRequest:
    return HTTPRequest(method, target, headers, b"1.1", body, ("10.0.0.1", 4321))


def _echo_environ(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    keys = (
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "SERVER_PROTOCOL",
        "REMOTE_ADDR",
        "HTTP_X_MULTI",
        "HTTP_HOST",
    )
    text = "\n".join(f"{key}={environ.get(key)}" for key in keys)
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Len", str(len(body)))])
    return [text.encode("latin-1")]


def test_environ_is_pep3333_and_passes_wsgiref_validate() -> None:
    adapter = WSGIAdapter(validator(_echo_environ))
    reply = adapter(
        _request(
            b"POST",
            b"/a%20b/c?x=1&y=%20",
            (
                (b"host", b"example.com"),
                (b"content-type", b"text/plain"),
                (b"content-length", b"3"),
                (b"x-multi", b"one"),
                (b"x-multi", b"two"),
            ),
            b"abc",
        )
    )
    assert reply.status == 200
    assert (b"x-len", b"3") in reply.headers
    assert isinstance(reply.body, bytes)
    lines = dict(line.split("=", 1) for line in reply.body.decode().split("\n"))
    assert lines == {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/a b/c",
        "QUERY_STRING": "x=1&y=%20",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "3",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_X_MULTI": "one,two",
        "HTTP_HOST": "example.com",
    }


def test_environ_has_no_fields_named_with_underscores() -> None:
    environ = WSGIAdapter(_echo_environ).environ(
        _request(
            b"POST",
            b"/",
            (
                (b"content-length", b"3"),
                (b"content_length", b"999"),
                (b"content_type", b"text/evil"),
                (b"x_forwarded_for", b"6.6.6.6"),
                (b"x-forwarded-for", b"10.0.0.9"),
            ),
            b"abc",
        )
    )
    assert environ["CONTENT_LENGTH"] == "3"
    assert "CONTENT_TYPE" not in environ
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.0.0.9"


def test_content_length_is_the_framed_body_length() -> None:
    adapter = WSGIAdapter(_echo_environ)
    # Repeated equal values pass the core; the environ gets one number.
    environ = adapter.environ(_request(b"POST", b"/", ((b"content-length", b"3, 3"),), b"abc"))
    assert environ["CONTENT_LENGTH"] == "3"
    assert (
        adapter.environ(_request(b"POST", b"/", ((b"content-length", b"0"),)))["CONTENT_LENGTH"]
        == "0"
    )
    assert "CONTENT_LENGTH" not in adapter.environ(_request())


def test_close_is_called_on_the_returned_iterable() -> None:
    closed = []

    class Body:
        def __iter__(self) -> Any:
            return iter([b"a", b"b"])

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("204 No Content", [])
        return Body()

    reply = WSGIAdapter(app)(_request())
    assert (reply.status, reply.body, closed) == (204, b"ab", [True])


def test_exc_info_replaces_the_status_before_the_body() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        try:
            raise ValueError("late")
        except ValueError:
            import sys

            start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"err"]

    reply = WSGIAdapter(app)(_request())
    assert (reply.status, reply.body) == (500, b"err")


def test_app_that_never_starts_a_response_is_an_error() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return []

    with pytest.raises(RuntimeError, match="start_response"):
        WSGIAdapter(app)(_request())


def test_wsgi_errors_is_a_text_stream() -> None:
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["wsgi.errors"])
        start_response("200 OK", [])
        return []

    WSGIAdapter(app)(_request())
    assert isinstance(seen[0], io.TextIOBase) or hasattr(seen[0], "write")


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (b"bytes=0-0", 10, (0, 0)),
        (b"bytes=2-5", 10, (2, 5)),
        (b"bytes=2-", 10, (2, 9)),
        (b"bytes=5-100", 10, (5, 9)),
        (b"bytes=-3", 10, (7, 9)),
        (b"bytes=-30", 10, (0, 9)),
        (b"bytes=10-", 10, False),
        (b"bytes=-0", 10, False),
        (b"bytes=0-", 0, False),
        (b"bytes=5-2", 10, None),
        (b"bytes=0-1,3-4", 10, None),
        (b"items=0-1", 10, None),
        (b"bytes=a-b", 10, None),
        (b"bytes=--1", 10, None),
        (b"bytes=1", 10, None),
    ],
)
def test_range_header_parsing(
    header: bytes, size: int, expected: tuple[int, int] | bool | None
) -> None:
    assert _parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"Sun, 06 Nov 1994 08:49:37 GMT", 784111777),  # IMF-fixdate
        (b"Sunday, 06-Nov-94 08:49:37 GMT", 784111777),  # rfc850-date
        (b"Sun Nov  6 08:49:37 1994", 784111777),  # asctime-date
        (b"Thu Feb 29 00:00:00 2024", 1709164800),
        (b"Mon, 01 Jan 99999999999999999999 00:00:00 GMT", None),
        (b"Mon, 01 Jan 99999 00:00:00 GMT", None),
        (b"Sun, 31 Feb 1994 08:49:37 GMT", None),
        (b"Sun, 06 Nov 1994 24:00:00 GMT", None),
        (b"Sun, 06 Nov 1994 08:49:37 +0000", None),
        (b"sun, 06 nov 1994 08:49:37 gmt", None),  # HTTP-date is case-sensitive
        (b"Sun Nov 6 08:49:37 1994", None),
        (b'"an-etag"', None),
        (b'W/"weak"', None),
        (b"", None),
    ],
)
def test_http_date_parsing(value: bytes, expected: int | None) -> None:
    assert _http_date(value) == expected


def test_rfc850_two_digit_years_are_at_most_50_years_ahead() -> None:
    import time

    year = time.gmtime().tm_year
    for offset in (-60, -1, 0, 1, 49):
        two = (year + offset) % 100
        stamp = _http_date(b"Monday, 01-Jan-%02d 00:00:00 GMT" % two)
        assert stamp is not None
        parsed = time.gmtime(stamp).tm_year
        assert parsed % 100 == two and year - 51 <= parsed <= year + 50
