"""Conditional and partial requests (RFC 9110 §13, §14): HTTP-dates, entity-tags, ranges.

Pure functions over header values, used by ``driver.static``.
"""

from __future__ import annotations

import calendar
import datetime
import re
import time
from typing import Final

__all__ = ["etag_matches", "http_date", "parse_range"]

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


def http_date(value: bytes) -> int | None:
    """The POSIX time of an HTTP-date, or ``None`` if ``value`` is not one."""
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


def etag_matches(header: bytes, etag: bytes) -> bool:
    """If-None-Match: ``*`` or a list of entity-tags, compared weakly (RFC 9110 §13.1.2)."""
    if header.strip() == b"*":
        return True
    for candidate in header.split(b","):
        candidate = candidate.strip()
        if candidate.startswith(b"W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False
