"""A plain WSGI application for the server-level WSGI tests (``plain_app:app``).

Every route goes through ``wsgiref.validate.validator`` except ``/sendfile``: the
validator wraps the returned iterable, which would hide the ``wsgi.file_wrapper``
object from the server (so the file would be read, not sent with sendfile).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.validate import validator

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static.txt")
MIB = 1024 * 1024


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Stream:
    """``n`` pieces of ``size`` bytes; says on standard error when it is closed."""

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size, self.sent = n, size, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.n):
            self.sent += 1
            yield b"s" * self.size  # a new object each time, as real data would be

    def close(self) -> None:
        _log(f"stream closed after {self.sent} of {self.n} pieces")


def _validated(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    query = environ["QUERY_STRING"]
    text = [("Content-Type", "text/plain")]
    if path == "/reason":
        start_response("299 Whatever", [*text, ("X-Spaced", "  padded value  ")])
        return [b"custom reason"]
    if path == "/stream":
        # /stream?MIB: that many MiB in 64 KiB pieces, no Content-Length.
        start_response("200 OK", text)
        return _Stream(int(float(query or "1") * 16), 64 * 1024)
    if path == "/hang":
        _log("hang: started")
        time.sleep(float(query or "60"))
        start_response("200 OK", text)
        return [b"woke up"]
    if path == "/echo":
        data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", text)
        return [b"%d" % len(data)]
    if path == "/boom-late":
        start_response("200 OK", text)

        def late() -> Iterator[bytes]:
            yield b"first piece"
            raise RuntimeError("boom after the head")

        return late()
    if path.startswith("/env"):
        keys = (
            "PATH_INFO",
            "QUERY_STRING",
            "SERVER_PROTOCOL",
            "REQUEST_METHOD",
            "wsgi.multithread",
            "wsgi.input_terminated",
        )
        start_response("200 OK", text)
        return ["\n".join(f"{k}={environ[k]}" for k in keys).encode("latin-1")]
    start_response("404 Not Found", text)
    return [b"not found"]


_checked = validator(_validated)


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/sendfile":
        start_response("200 OK", [("Content-Type", "text/plain")])
        file = open(DATA_FILE, "rb")  # noqa: SIM115 - closed by the server through close()
        return environ["wsgi.file_wrapper"](file)  # type: ignore[no-any-return]
    return _checked(environ, start_response)
