"""driver: an epoll HTTP server around the ``sansio`` core.

``python -m driver`` serves a directory (``--help`` lists every option). As a library::

    import driver

    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, ((b"content-type", b"text/plain"),), b"hello\\n")

    driver.serve(app, driver.Config(host="127.0.0.1", port=8080))

Modules: ``app`` (the application interface), ``config``, ``budget`` (every
per-connection bound, from one number), ``gather``, ``spool`` and ``spill`` (what a
connection holds, and where it goes when it does not fit), ``interfaces`` (the typed
seams between the layers), ``loop`` (epoll, timers, ready lists), ``transport`` (one
socket), ``listeners`` (TCP, Unix, inherited and systemd sockets), ``tls`` (TLS over
``ssl.MemoryBIO``), ``clock`` (the ``Date`` header), ``protocol`` (one connection's
HTTP: the event pump, phases, timeouts), ``exchange`` (one request and its response),
``context`` (what the connections of a server share), ``reply_events`` (a ``Reply``
into the core's events), ``server_replies`` (the server's own errors and ``100
Continue``), ``server`` (``Server``, ``serve`` and workers), ``static`` and
``conditions`` (files, HTTP-dates, ETags, ranges), ``hello``, ``wsgi`` (a package:
PEP 3333), ``app_loader`` (``--wsgi module:app``), ``log``, ``cli``.
"""

from .app import (
    App,
    Exchange,
    FileBody,
    Headers,
    HTTPRequest,
    Reply,
    StreamingApp,
    is_streaming,
    takes_no_body,
)
from .config import Config
from .loop import Loop
from .server import Server, make_listener, serve
from .static import StaticFiles
from .switch import SwitchedProtocol
from .wsgi import WSGIAdapter, serve_wsgi

__all__ = [
    "App",
    "Config",
    "Exchange",
    "FileBody",
    "HTTPRequest",
    "Headers",
    "Loop",
    "Reply",
    "Server",
    "StaticFiles",
    "StreamingApp",
    "SwitchedProtocol",
    "WSGIAdapter",
    "is_streaming",
    "make_listener",
    "serve",
    "serve_wsgi",
    "takes_no_body",
]
