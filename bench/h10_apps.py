"""Native h10 applications for ``serve.py``'s streaming and upload workloads.

Usage: ``python bench/h10_apps.py stream|upload PORT``

- ``stream``: every request gets ``STREAM_SIZE`` bytes generated in 64 KiB pieces by an
  iterable (no Content-Length: chunked to HTTP/1.1 clients), pulled by the server only
  while the connection's output is below its high-water mark.
- ``upload``: a streaming application that reads the request body as it arrives and
  discards it, answering with the number of bytes it saw.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import driver

STREAM_SIZE = 1 << 20
PIECE = b"x" * (64 * 1024)


def _pieces() -> Iterator[bytes]:
    for _ in range(STREAM_SIZE // len(PIECE)):
        yield PIECE


def stream(request: driver.HTTPRequest) -> driver.Reply:
    return driver.Reply(200, ((b"content-type", b"application/octet-stream"),), _pieces())


class Upload:
    """Counts and drops the body as it arrives; never holds more than one piece."""

    def handle_exchange(self, exchange: driver.Exchange) -> None:
        seen = 0

        def on_data(data: bytes) -> None:
            nonlocal seen
            seen += len(data)

        def on_end() -> None:
            exchange.respond(driver.Reply(200, ((b"content-type", b"text/plain"),), b"%d" % seen))

        exchange.read_body(on_data, on_end)


def main(argv: list[str]) -> int:
    kind, port = argv[1], int(argv[2])
    app: driver.App | Upload = stream if kind == "stream" else Upload()
    driver.serve(app, driver.Config(host="127.0.0.1", port=port, access_log=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
