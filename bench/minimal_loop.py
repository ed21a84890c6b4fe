"""The floor: a bare epoll loop that answers each ``\\r\\n\\r\\n`` with a fixed response.

It parses nothing. It counts blank lines in what it receives and writes one canned
response per request; a request without ``HTTP/1.1`` or ``keep-alive`` in it gets its
response and a close, so that ``ab`` (HTTP/1.0, one connection per request) works.
Partial writes are not handled (the responses are tiny). Used by ``bench/serve.py`` as
the ceiling any Python server on one core can reach.

Usage: ``python bench/minimal_loop.py PORT``
"""

from __future__ import annotations

import select
import socket
import sys

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    b"Connection: keep-alive\r\n\r\nHello, world!"
)
RESPONSE_CLOSE = (
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    b"Connection: close\r\n\r\nHello, world!"
)


def main(port: int) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4096)
    listener.setblocking(False)
    epoll = select.epoll()
    lfd = listener.fileno()
    epoll.register(lfd, select.EPOLLIN)
    socks: dict[int, socket.socket] = {}
    print(f"minimal loop on port {port}", file=sys.stderr, flush=True)
    while True:
        for fd, _mask in epoll.poll():
            if fd == lfd:
                while True:
                    try:
                        sock, _ = listener.accept()
                    except BlockingIOError:
                        break
                    sock.setblocking(False)
                    socks[sock.fileno()] = sock
                    epoll.register(sock.fileno(), select.EPOLLIN)
                continue
            sock = socks[fd]
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                del socks[fd]
                sock.close()
                continue
            keep = b"HTTP/1.1" in data or b"eep-alive" in data
            try:
                sock.send(RESPONSE * data.count(b"\r\n\r\n") if keep else RESPONSE_CLOSE)
            except OSError:
                keep = False
            if not keep:
                del socks[fd]
                sock.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))
