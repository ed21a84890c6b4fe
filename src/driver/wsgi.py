"""PEP 3333 (WSGI) applications on the driver: ``python -m driver --wsgi module:app``.

The adapter builds the ``environ`` from a complete request (the body is already read,
so ``wsgi.input`` is an in-memory stream), calls the application on the loop's
thread, and gathers the body it returns into one reply. Hop-by-hop headers an app
sets (``Connection``, ``Transfer-Encoding``, ``Keep-Alive``) are dropped: framing and
persistence are the server's business. Request fields whose names contain ``_`` are
left out of the environ (they would collide with their ``-`` twins), and
``CONTENT_LENGTH`` is the length of the body as framed. Because the loop waits for the
app, WSGI apps should be quick; run several ``--workers`` for apps that block.
"""

from __future__ import annotations

import importlib
import io
import sys
import urllib.parse
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from .app import App, HTTPRequest, Reply

__all__ = ["WSGIAdapter", "load_app"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding"})


def load_app(spec: str) -> WSGIApp:
    """Import ``module:attribute`` (``module`` alone means ``module:application``)."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    target: Any = module
    for part in (attribute or "application").split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{spec} is not callable")
    return target  # type: ignore[no-any-return]


class WSGIAdapter:
    """Turns a WSGI application into a driver application."""

    def __init__(
        self, app: WSGIApp, *, host: str = "localhost", port: int = 8000, multiprocess: bool = False
    ) -> None:
        self.app = app
        self.server_name = host
        self.server_port = str(port)
        self.multiprocess = multiprocess

    def environ(self, request: HTTPRequest) -> dict[str, Any]:
        """The PEP 3333 environ for ``request``."""
        path, _, query = request.target.partition(b"?")
        if path.startswith((b"http://", b"https://")):
            slash = path.find(b"/", path.find(b"//") + 2)
            path = path[slash:] if slash != -1 else b"/"
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method.decode("latin-1"),
            "SCRIPT_NAME": "",
            # PEP 3333: native strings holding the decoded bytes as latin-1.
            "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": self.server_name,
            "SERVER_PORT": self.server_port,
            "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("latin-1"),
            "REMOTE_ADDR": request.client[0],
            "REMOTE_PORT": str(request.client[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": self.multiprocess,
            "wsgi.run_once": False,
        }
        has_length = False
        for name, value in request.headers:
            if b"_" in name:
                # "X_Forwarded_For" would become HTTP_X_FORWARDED_FOR, the same key as
                # "X-Forwarded-For": a client could spoof what a proxy in front of us
                # set. Such fields are dropped, as nginx and gunicorn drop them.
                continue
            key = name.decode("latin-1").upper().replace("-", "_")
            if key == "CONTENT_LENGTH":
                has_length = True
                continue
            text = value.decode("latin-1")
            if key == "CONTENT_TYPE":
                environ[key] = text
                continue
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{text}" if key in environ else text
        if has_length or request.body:
            # The length of the body the core framed, whatever the fields said (a
            # chunked body has no Content-Length field at all).
            environ["CONTENT_LENGTH"] = str(len(request.body))
        return environ

    def __call__(self, request: HTTPRequest) -> Reply:
        state: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            if exc_info is not None:
                try:
                    if "status" in state and state.get("sent"):
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif "status" in state:
                raise AssertionError("start_response called twice without exc_info")
            state["status"] = status
            state["headers"] = headers
            return written.append

        result = self.app(self.environ(request), start_response)
        try:
            for chunk in result:
                if chunk:
                    state["sent"] = True
                    written.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if "status" not in state:
            raise RuntimeError("the WSGI application did not call start_response")
        status = int(state["status"].split(" ", 1)[0])
        headers = tuple(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in state["headers"]
            if name.lower() not in _HOP_BY_HOP
        )
        return Reply(status, headers, b"".join(written))


def wsgi_app(spec: str, **options: Any) -> App:
    """The driver application for the WSGI app named by ``module:attribute``."""
    return WSGIAdapter(load_app(spec), **options)
