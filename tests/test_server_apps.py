"""The applications on their own, without sockets: the Range parser and the HTTP-date
parser. (The WSGI adapter has its own tests: ``test_wsgi_*.py``.)
"""

from __future__ import annotations

import pytest

from driver.conditions import parse_http_date as _http_date
from driver.conditions import parse_range as _parse_range


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
