"""The ``--hello`` application: a fixed 13-byte body, for benchmarks.

It returns the same immutable ``Reply`` for every request, so the server prepares the
response events once and reuses them; the loop's cost is then the protocol's cost.
"""

from __future__ import annotations

from typing import Final

from .app import HTTPRequest, Reply

__all__ = ["BODY", "hello_app"]

BODY: Final = b"Hello, world!"

_REPLY: Final = Reply(200, ((b"content-type", b"text/plain"),), BODY)


def hello_app(request: HTTPRequest) -> Reply:
    """Answer every request with ``Hello, world!``."""
    return _REPLY
