"""Turning what an application answers into the core's ``Response`` event.

``response_headers`` checks the status and the header pairs and drops what the server
decides (``Connection``, ``Keep-Alive``, ``Transfer-Encoding``; ``Content-Length``
where a status forbids it), adds ``Date`` unless the app set one, and says which
``Content-Length`` the app declared and whether the app asked to close the connection
(``Connection: close``, which the server honours, as gunicorn does: the core then
writes ``Connection: close`` itself and the connection ends after the response).
``prepare`` does that for a whole ``Reply`` and adds ``Content-Length`` for a body of
known length. Anything malformed raises
``TypeError``/``ValueError`` here, before a byte is sent, so that the caller can answer
500 instead; a header value the core refuses (CR, LF, NUL) raises
``LocalProtocolError`` later, from ``conn.send``, still before the head leaves.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from typing import Final

from sansio import Data, Response, response_has_body

from .app import FileBody, Reply

__all__ = ["Prepared", "asks_to_close", "close_body", "prepare", "response_headers"]

# The fields of a reply that the server writes itself: framing and persistence. Not all
# of ``sansio.HOP_BY_HOP_FIELDS``: a reply may say ``Upgrade`` (a 426 must, RFC 9110
# §15.5.22) and the core sends it as it is.
_SERVER_WRITES: Final = frozenset({b"connection", b"keep-alive", b"transfer-encoding"})


class Prepared:
    """A reply turned into the events the core serialises, kept by the protocol for
    replies that an application returns again and again (the hello handler)."""

    __slots__ = (
        "close",
        "data",
        "date",
        "file",
        "items",
        "length",
        "mismatch",
        "no_body",
        "response",
    )

    def __init__(
        self,
        response: Response,
        date: bytes,
        data: Data | None,
        file: FileBody | None,
        items: Iterable[bytes] | None,
        length: int,
        actual: int,
        close: bool,
    ) -> None:
        self.response = response
        self.close = close  # the app said Connection: close
        self.date = date
        self.data = data
        self.file = file
        self.items = items
        self.length = length
        status = response.status_code
        self.no_body = not response_has_body(None, status)
        self.mismatch = length != actual and items is None


def response_headers(
    status: object, headers: Iterable[tuple[bytes, bytes]], date: bytes
) -> tuple[list[tuple[bytes, bytes]], int, bool]:
    """The checked header list (with ``Date``), the declared Content-Length (-1: none)
    and whether a ``Connection`` field asks to close."""
    if type(status) is not int or not 100 <= status <= 999:
        raise ValueError(f"the status must be an int from 100 to 999, not {status!r}")
    # RFC 9110 §8.6: a server MUST NOT send Content-Length in a 1xx or 204 response.
    # Frameworks often add "Content-Length: 0" anyway; drop it rather than fail. A 304
    # may keep the length of the representation it stands for.
    no_length = status == 204 or status < 200
    out = []
    length = -1
    has_date = False
    close = False
    for field in headers:
        try:
            name, value = field
        except (TypeError, ValueError):
            raise TypeError(f"headers must be (name, value) pairs, got {field!r}") from None
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise TypeError(f"header names and values must be bytes, got {field!r}")
        lower = name.lower()  # field names are case-insensitive (RFC 9110 §5.1)
        if lower in _SERVER_WRITES:
            if lower == b"connection" and not close:
                close = asks_to_close(value)
            continue
        if lower == b"content-length":
            if no_length:
                continue
            if not value.isdigit():
                raise ValueError(f"invalid Content-Length in the reply: {value!r}")
            length = int(value)
        elif lower == b"date":
            has_date = True
        out.append((name, value))
    if not has_date:
        out.append((b"Date", date))
    return out, length, close


def asks_to_close(value: bytes) -> bool:
    """Whether a ``Connection`` field value holds the ``close`` option (RFC 9110
    §7.6.1: a comma-separated list of case-insensitive tokens)."""
    return any(option.strip() == b"close" for option in value.lower().split(b","))


def prepare(reply: Reply, version: bytes, date: bytes) -> Prepared:
    """The ``Response`` (with ``Content-Length`` when known) and body for ``reply``.

    A malformed reply raises ``TypeError`` or ``ValueError``; the descriptor of a
    ``FileBody`` and an iterable's ``close()`` are then taken care of, since nobody
    else will.
    """
    try:
        return _prepare(reply, version, date)
    except BaseException:
        close_body(getattr(reply, "body", None))
        raise


def close_body(body: object) -> None:
    """Release a body that will not be sent: close a file's fd, an iterable's close()."""
    if isinstance(body, FileBody):
        if type(body.fd) is int:
            with contextlib.suppress(OSError):
                os.close(body.fd)
    elif not isinstance(body, bytes | bytearray | memoryview | str):
        close = getattr(body, "close", None)
        if callable(close):
            close()


def _prepare(reply: Reply, version: bytes, date: bytes) -> Prepared:
    if not isinstance(reply, Reply):
        raise TypeError(f"an application must return a Reply, not {type(reply).__name__}")
    status = reply.status
    body = reply.body
    items: Iterable[bytes] | None = None
    if isinstance(body, bytes):
        actual = len(body)
    elif isinstance(body, FileBody):
        if not (
            type(body.fd) is int
            and type(body.offset) is int
            and type(body.count) is int
            and body.offset >= 0
            and body.count >= 0
        ):
            raise ValueError(f"FileBody needs int fd, offset >= 0 and count >= 0: {body!r}")
        actual = body.count
    elif isinstance(body, bytearray | memoryview):
        body = bytes(body)  # the core sends bytes only; len() of a memoryview counts items
        actual = len(body)
    elif isinstance(body, str) or not isinstance(body, Iterable):
        raise TypeError(
            "Reply body must be bytes, bytearray, memoryview, FileBody or an iterable of "
            f"bytes, not {type(body).__name__}"
        )
    else:
        items = body
        actual = -1
    headers, declared, close = response_headers(status, reply.headers, date)
    reason = reply.reason
    if not isinstance(reason, bytes):
        raise TypeError(f"Reply reason must be bytes, not {type(reason).__name__}")
    length = declared if declared >= 0 else actual
    if declared < 0 and items is None and response_has_body(None, status):
        headers.append((b"Content-Length", b"%d" % actual))
    response = Response(status, tuple(headers), version, reason)
    if items is not None:
        return Prepared(response, date, None, None, items, length, actual, close)
    if isinstance(body, FileBody):
        return Prepared(response, date, None, body, None, length, actual, close)
    assert isinstance(body, bytes)
    data = Data(body) if body else None
    return Prepared(response, date, data, None, None, length, actual, close)
