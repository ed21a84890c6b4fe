"""Conditional and partial requests (RFC 9110 §13, §14): HTTP-dates, entity-tags, ranges.

Pure functions over header fields, used by ``driver.static``. A field sent on several
lines is one field whose value is the lines joined by commas (RFC 9110 §5.3):
``combined_fields`` is the one place that combines them, for every field read here. So
``If-None-Match`` split over two lines is one list, and a single-valued field sent
twice (``If-Modified-Since``, ``If-Unmodified-Since``, ``If-Range``, ``Range``)
becomes a value with more than one member, which is not a valid value and is ignored
(RFC 9110 §13.1.3, §13.1.4, §13.1.5, §14.2).
"""

from __future__ import annotations

import calendar
import datetime
import re
import time
from email.utils import formatdate
from typing import Final

__all__ = [
    "CONDITION_FIELDS",
    "combined_fields",
    "etag_matches",
    "format_http_date",
    "parse_http_date",
    "parse_range",
    "precondition",
    "requested_range",
]

Headers = tuple[tuple[bytes, bytes], ...]

_PRECONDITIONS: Final = frozenset(
    {b"if-match", b"if-unmodified-since", b"if-none-match", b"if-modified-since"}
)
_RANGE: Final = frozenset({b"range", b"if-range"})
CONDITION_FIELDS: Final = _PRECONDITIONS | _RANGE
"""Every field this module reads: a request with none of them is served as it is."""

# RFC 9110 §8.8.3:
#   entity-tag = [ weak ] opaque-tag
#   weak       = %s"W/"
#   opaque-tag = DQUOTE *etagc DQUOTE
#   etagc      = %x21 / %x23-7E / obs-text
# and the list rule of §5.6.1 around it: empty elements and OWS between them.
_LIST_ITEM: Final = re.compile(rb'[ \t]*(?:(W/)?"([\x21\x23-\x7e\x80-\xff]*)")?[ \t]*(?:,|\Z)')

# RFC 9110 §5.6.7:
#   HTTP-date    = IMF-fixdate / obs-date
#   IMF-fixdate  = day-name "," SP date1 SP time-of-day SP GMT   ; Sun, 06 Nov 1994 08:49:37 GMT
#   rfc850-date  = day-name-l "," SP date2 SP time-of-day SP GMT ; Sunday, 06-Nov-94 08:49:37 GMT
#   asctime-date = day-name SP date3 SP time-of-day SP year      ; Sun Nov  6 08:49:37 1994
#   date3        = month SP ( 2DIGIT / ( SP DIGIT ))
# "HTTP-date is case sensitive"; "Recipients of timestamp values are encouraged to be
# robust in parsing timestamps unless otherwise restricted by the field definition",
# but a condition on a date that is not one is ignored (§13.1.3), so no guessing here.
_MONTHS: Final = tuple(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
_MONTH: Final = b"(" + b"|".join(_MONTHS) + b")"
_TIME: Final = rb"(\d\d):(\d\d):(\d\d)"
_IMF_FIXDATE: Final = re.compile(
    rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) " + _MONTH + rb" (\d{4}) " + _TIME + b" GMT"
)
_RFC850_DATE: Final = re.compile(
    rb"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d\d)-"
    + _MONTH
    + rb"-(\d\d) "
    + _TIME
    + b" GMT"
)
_ASCTIME_DATE: Final = re.compile(
    rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) " + _MONTH + rb" ((?:\d| )\d) " + _TIME + rb" (\d{4})"
)


def format_http_date(now: float) -> bytes:
    """``now`` (POSIX time) as an IMF-fixdate, the form of ``Date`` (RFC 9110 §5.6.7)."""
    return formatdate(now, usegmt=True).encode("ascii")


def parse_http_date(value: bytes) -> int | None:
    """The POSIX time of an HTTP-date in any of its three forms (RFC 9110 §5.6.7), or
    ``None`` if ``value`` is not one."""
    if match := _IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
        full_year = int(year)
    elif match := _ASCTIME_DATE.fullmatch(value):
        month, day, hour, minute, second, year = match.groups()
        full_year = int(year)
    elif match := _RFC850_DATE.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
        # "MUST interpret a timestamp that appears to be more than 50 years in the
        # future as representing the most recent year in the past that had the same
        # last two digits."
        this_year = time.gmtime().tm_year
        full_year = this_year - this_year % 100 + int(year)
        if full_year > this_year + 50:
            full_year -= 100
    else:
        return None
    fields = (full_year, _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second))
    try:
        datetime.datetime(*fields)  # a real day and time of day (no 31 Feb, no 25:00)
    except ValueError:
        return None
    return calendar.timegm(fields)


def parse_range(value: bytes, size: int) -> tuple[int, int] | bool | None:
    """``(first, last)`` for one satisfiable range; ``False`` if unsatisfiable;
    ``None`` if the header is to be ignored (malformed, or several ranges)."""
    unit, _, spec = value.partition(b"=")
    if unit.strip().lower() != b"bytes" or b"," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition(b"-")
    if not dash:
        return None
    try:
        if not first_s:  # bytes=-N: the last N bytes
            suffix = int(last_s)
            if suffix < 0 or not last_s.isdigit():
                return None
            if suffix == 0 or size == 0:
                return False
            return max(0, size - suffix), size - 1
        if not first_s.isdigit() or (last_s and not last_s.isdigit()):
            return None
        first = int(first_s)
        last = int(last_s) if last_s else size - 1
    except ValueError:
        return None
    if first >= size:
        return False
    if last < first:
        return None
    return first, min(last, size - 1)


def combined_fields(headers: Headers, names: frozenset[bytes]) -> dict[bytes, bytes]:
    """The value of each field of ``names`` (lower-case) that the request has: its field
    lines combined in order with ", " (RFC 9110 §5.3). One pass over the head."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in names:
            found[name] = found[name] + b", " + value if name in found else value
    return found


def _entity_tags(value: bytes) -> list[tuple[bool, bytes]] | None:
    """``(weak, opaque-tag)`` for each member of an entity-tag list, or ``None`` if
    ``value`` is not one (such a list matches nothing)."""
    tags = []
    pos = 0
    end = len(value)
    while pos < end:
        match = _LIST_ITEM.match(value, pos)
        if match is None or match.end() == pos:
            return None
        weak, tag = match.groups()
        if tag is not None:
            tags.append((weak is not None, b'"' + tag + b'"'))
        pos = match.end()
    return tags


def etag_matches(header: bytes, etag: bytes, *, weak: bool = True) -> bool:
    """Whether an If-None-Match (``weak``) or If-Match (strong) value matches our
    strong ``etag``: ``*``, or a list that holds it (RFC 9110 §8.8.3.2, §13.1.1-2)."""
    if header == etag:
        return True  # the common case: one tag, ours
    if header.strip(b" \t") == b"*":
        return True  # the resource exists
    tags = _entity_tags(header)
    if tags is None:
        return False
    return any(tag == etag and (weak or not is_weak) for is_weak, tag in tags)


def precondition(headers: Headers, mtime: int, etag: bytes) -> int | None:
    """The status a GET or HEAD of a resource with this ``mtime`` and strong ``etag``
    gets from its preconditions: 412, 304, or ``None`` (serve it). Evaluated in the
    order of RFC 9110 §13.2.2; a date that is not a valid HTTP-date (a field sent twice
    is not one) leaves its condition out."""
    fields = combined_fields(headers, _PRECONDITIONS)
    if_match = fields.get(b"if-match")
    if if_match is not None:
        if not etag_matches(if_match, etag, weak=False):
            return 412
    else:
        since = fields.get(b"if-unmodified-since")
        when = None if since is None else parse_http_date(since)
        if when is not None and mtime > when:
            return 412
    if_none_match = fields.get(b"if-none-match")
    if if_none_match is not None:
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
        return 304 if etag_matches(if_none_match, etag) else None
    since = fields.get(b"if-modified-since")
    when = None if since is None else parse_http_date(since)
    if when is not None and mtime <= when:
        return 304
    return None


def requested_range(
    headers: Headers, size: int, mtime: int, etag: bytes
) -> tuple[int, int] | bool | None:
    """What ``Range`` asks of a representation of ``size`` bytes, as ``parse_range``
    says, once ``If-Range`` allows it: ``None`` (send it whole) if there is no Range,
    or an If-Range that is neither exactly our ETag nor our Last-Modified date
    (RFC 9110 §13.1.5: a strong comparison)."""
    fields = combined_fields(headers, _RANGE)
    range_value = fields.get(b"range")
    if range_value is None:
        return None
    if_range = fields.get(b"if-range")
    if if_range is not None and if_range != etag and parse_http_date(if_range) != mtime:
        return None
    return parse_range(range_value, size)
