"""The WSGI application of the stress scenarios: ``--wsgi stress_wsgi_app:app``.

``/upload`` reads ``wsgi.input`` in 64 KiB pieces and throws them away, then answers
with the number of bytes read (a chunked body has no ``CONTENT_LENGTH``: it is read
to its end, as ``wsgi.input_terminated`` allows). Anything else: ``ok``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start_response: Callable[..., object]) -> Iterable[bytes]:
    if environ["PATH_INFO"] != "/upload":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    left = int(length) if length else None
    seen = 0
    while left is None or left > 0:
        piece = stream.read(65536 if left is None else min(65536, left))
        if not piece:
            break
        seen += len(piece)
        if left is not None:
            left -= len(piece)
    body = b"%d" % seen
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
