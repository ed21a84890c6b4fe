"""The ``--hello`` application: a fixed 13-byte body, for benchmarks.

It returns the same immutable ``Reply`` for every request, so the server prepares the
response events once and reuses them; the loop's cost is then the protocol's cost. It
takes no request body (``takes_no_body``): an upload is answered at its head and
discarded, never stored.
"""

from __future__ import annotations

from typing import Final

from .app import HTTPRequest, Reply, takes_no_body

__all__ = ["BODY", "hello_app"]

BODY: Final = b"Hello, world!"

_REPLY: Final = Reply(200, ((b"Content-Type", b"text/plain"),), BODY)


@takes_no_body
def hello_app(request: HTTPRequest) -> Reply:
    """Answer every request with ``Hello, world!``."""
    return _REPLY
