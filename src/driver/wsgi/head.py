"""The response head a WSGI application gives ``start_response``, checked and converted
for the ``Exchange``: the status string, the header list (hop-by-hop fields dropped, a
``Connection: close`` kept for the server to honour), the declared Content-Length.

Anything malformed raises ``ValueError``/``TypeError`` in the application's
``start_response`` call, before the head is posted to the loop.
"""

from __future__ import annotations

import re

from sansio import HOP_BY_HOP_FIELDS, field_error, response_has_body

from ..app import Headers
from ..reply_events import asks_to_close

__all__ = ["Head", "parse_head"]


# PEP 3333's hop-by-hop headers: the core's connection-specific names plus the three
# RFC 2616 adds (``sansio.HOP_BY_HOP_FIELDS`` says which). Framing and persistence are
# the server's business (a Connection field that says close is passed on: the server
# honours it).
_HOP_BY_HOP = frozenset(
    {name.decode("ascii") for name in HOP_BY_HOP_FIELDS}
    | {"proxy-authenticate", "proxy-authorization", "trailers"}
)
# Checked here, before the head reaches the ``Exchange``, although the core checks them
# again when it serialises the head: an ``Exchange`` need not be the core's (a test's
# fake, an embedder's) and must not be handed a field that splits the head. The rules
# are the core's (``sansio.field_error``); the status string is PEP 3333's.
_STATUS = re.compile(r"([1-9][0-9][0-9])(?: (.*))?\Z", re.DOTALL)


class Head:
    """A response head as the application gave it, converted for the ``Exchange``."""

    __slots__ = ("content_length", "headers", "reason", "status")

    def __init__(self, status: int, reason: bytes, headers: Headers, length: int | None) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content_length = length

    def with_length(self, length: int) -> Headers:
        """The headers, with a Content-Length of ``length`` unless the application set
        one or the status forbids one (1xx, 204, 304)."""
        if self.content_length is not None or not response_has_body(None, self.status):
            return self.headers
        return (*self.headers, (b"Content-Length", b"%d" % length))


# Conversions of statuses and header fields seen before: most responses repeat them
# (Content-Type, Cache-Control, ...), and a dict lookup is several times cheaper than
# checking and encoding again. Bounded: only short items, and cleared when full.
_STATUSES: dict[str, tuple[int, bytes]] = {}
_FIELDS: dict[tuple[str, str], tuple[tuple[bytes, bytes], int] | None] = {}
_CACHE_LIMIT = 2048
_CACHED_VALUE_SIZE = 200


def _status(status: object) -> tuple[int, bytes]:
    if type(status) is not str:
        raise TypeError(f"status must be a str, got {status!r}")
    cached = _STATUSES.get(status)
    if cached is not None:
        return cached
    match = _STATUS.match(status)
    reason = (match.group(2) or "").strip(" \t") if match is not None else ""
    if match is None or not _latin1(reason) or field_error(b"reason", reason.encode("latin-1")):
        raise ValueError(f"invalid status line {status!r}: expected '200 OK'")
    result = int(match.group(1)), reason.encode("latin-1")
    if len(_STATUSES) >= _CACHE_LIMIT:
        _STATUSES.clear()
    _STATUSES[status] = result
    return result


def _latin1(text: str) -> bool:
    return not text or max(text) <= "\xff"


def _field(item: object) -> tuple[tuple[bytes, bytes], int] | None:
    """One header field converted, with its Content-Length (-1 if it is another
    field), or None for a hop-by-hop field."""
    if type(item) is not tuple or len(item) != 2:
        raise TypeError(f"header {item!r} is not a (name, value) tuple")
    name, value = item
    if type(name) is not str or type(value) is not str:
        raise TypeError(f"header {item!r}: name and value must be str")
    stripped = value.strip(" \t")
    if not name.isascii() or not _latin1(stripped):
        raise ValueError(f"invalid header {name!r}: {value!r} (not Latin-1)")
    error = field_error(name.encode("ascii"), stripped.encode("latin-1"))
    if error is not None:
        raise ValueError(error)
    lower = name.lower()
    result: tuple[tuple[bytes, bytes], int] | None = None
    if lower not in _HOP_BY_HOP:
        length = -1
        if lower == "content-length":
            if not stripped.isdigit() or not stripped.isascii():
                raise ValueError(f"invalid Content-Length {value!r}")
            length = int(stripped)
        result = (lower.encode("ascii"), stripped.encode("latin-1")), length
    elif lower == "connection" and asks_to_close(value.encode("latin-1")):
        result = (b"connection", b"close"), -1
    if len(value) <= _CACHED_VALUE_SIZE:
        if len(_FIELDS) >= _CACHE_LIMIT:
            _FIELDS.clear()
        _FIELDS[item] = result
    return result


def parse_head(status: object, headers: object) -> Head:
    """Check and convert ``start_response``'s arguments (ValueError/TypeError if bad).

    Values are stripped of surrounding spaces and tabs, as a client's parser would (they
    are not part of the value, RFC 9110 §5.5); hop-by-hop fields are dropped."""
    code, reason = _status(status)
    if type(headers) is not list:
        raise TypeError(f"headers must be a list of (name, value) tuples, got {headers!r}")
    converted: list[tuple[bytes, bytes]] = []
    length: int | None = None
    fields = _FIELDS
    for item in headers:
        try:
            known = fields[item]
        except (KeyError, TypeError):  # new, or not a (hashable) tuple at all
            known = _field(item)
        if known is not None:
            converted.append(known[0])
            if known[1] >= 0:
                length = known[1]
    return Head(code, reason, tuple(converted), length)
