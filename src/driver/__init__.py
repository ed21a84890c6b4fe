"""driver: an epoll HTTP server around the ``sansio`` core.

``python -m driver`` serves a directory (``--help`` lists every option). As a library::

    import driver

    def app(request: driver.HTTPRequest) -> driver.Reply:
        return driver.Reply(200, ((b"content-type", b"text/plain"),), b"hello\\n")

    driver.serve(app, driver.Config(host="127.0.0.1", port=8080))

Modules: ``app`` (the application interface), ``config``, ``loop`` (the epoll loop and
timers), ``transport`` (one connection), ``server`` (``serve`` and workers), ``static``,
``hello``, ``wsgi``, ``log``, ``responses``, ``cli``.
"""

from .app import App, FileBody, Headers, HTTPRequest, Reply
from .config import Config
from .loop import Server, make_listener
from .server import serve
from .static import StaticFiles
from .wsgi import WSGIAdapter

__all__ = [
    "App",
    "Config",
    "FileBody",
    "HTTPRequest",
    "Headers",
    "Reply",
    "Server",
    "StaticFiles",
    "WSGIAdapter",
    "make_listener",
    "serve",
]
