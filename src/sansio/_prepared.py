"""A response validated once and sent whole in one call: ``PreparedResponse``.

A server that sends the same response many times (a static file's head and body, a
canned error page) pays for the validation of its head, and for three ``send`` calls,
on every request. A ``PreparedResponse`` is checked once, when it is built, by the same
writer that ``send(Response)`` uses (``_writers.write_response``), so it can never hold
anything ``send`` would refuse; ``Connection.send_prepared`` then only adds what
depends on the connection (the Connection field) and moves the state through the
table. bench/micro.py, "a prepared response": a whole kept-alive cycle (the request
read, a 13-byte response sent, ``start_next_cycle``) takes 8.3 us with it and 10.3 us
with three sends (the head cache warm), 1.24x, on a loaded machine.
"""

from __future__ import annotations

from ._errors import LocalProtocolError
from ._events import Response
from ._framing import response_has_body
from ._writers import CLOSE, KEEP_ALIVE, LengthWriter, status_line, write_response

__all__ = ["PreparedResponse"]


class PreparedResponse:
    """``response`` and its whole ``body``, checked once, to send with
    ``Connection.send_prepared``.

    The body's length is the response's Content-Length: added if the headers have none,
    refused if they give another one (a ``LocalProtocolError``, as ``send`` raises).
    Transfer-Encoding is refused too: a prepared body is known whole. A status that has
    no body (1xx is not a ``Response``; 204, 304) takes an empty ``body`` and no
    Content-Length of ours. A Connection field is checked and dropped, as ``send``
    does; if it says ``close``, sending this response ends keep-alive.
    """

    __slots__ = ("body", "fields", "persistent", "response", "status_line")

    def __init__(self, response: Response, body: bytes = b"") -> None:
        if type(response) is not Response:
            raise TypeError(f"response must be a sansio.Response, not {type(response).__name__}")
        if type(body) is not bytes:
            raise TypeError(f"body must be bytes, not {type(body).__name__}")
        headers = response.headers
        names = [name.lower() for name, _ in headers]
        if b"transfer-encoding" in names:
            raise LocalProtocolError("a prepared response has a whole body: no Transfer-Encoding")
        if response_has_body(None, response.status_code):
            if b"content-length" not in names:
                headers += ((b"Content-Length", b"%d" % len(body)),)
        elif body:
            raise LocalProtocolError(f"a {response.status_code} response has no body")
        checked = Response(response.status_code, headers, response.http_version, response.reason)
        # The writer's own checks, as for a GET from a 1.1 peer that keeps the connection.
        head, writer, persistent = write_response(checked, b"GET", b"1.1", True)
        assert type(writer) is LengthWriter  # a Content-Length body, or none
        if writer.remaining != len(body):
            raise LocalProtocolError(
                f"body of {len(body)} bytes, but Content-Length is {writer.remaining}"
            )
        line = status_line(response.http_version, response.status_code, response.reason)
        ours = KEEP_ALIVE if persistent else CLOSE
        self.response = checked
        """The response as it is sent: with the Content-Length added, if it had none."""
        self.body = body
        self.status_line = line
        self.fields = head[len(line) : -len(ours)]
        """The checked field lines, without our Connection field or the empty line."""
        self.persistent = persistent
        """False if the response's own Connection field says ``close``."""

    def __repr__(self) -> str:
        return f"<sansio.PreparedResponse {self.response!r} body={len(self.body)} bytes>"
