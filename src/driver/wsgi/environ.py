"""The PEP 3333 ``environ`` for one request.

Every key PEP 3333 requires, built from the request head as the core parsed it:

- ``PATH_INFO`` is the path percent-decoded to bytes and then read as latin-1 (PEP 3333's
  "native strings" rule: each byte becomes the code point of the same value, so a
  framework can re-encode to bytes and decode UTF-8 itself). The path and the query
  come from ``sansio.target_path``, whatever the target's form: an absolute-form target
  (``GET HTTP://host/path?q``) contributes only its path and query, a fragment nothing.
  ``SCRIPT_NAME`` is ``""``, or ``--root-path`` for a request under it, which
  ``PATH_INFO`` then starts after.
- ``REMOTE_ADDR``/``REMOTE_PORT`` and ``wsgi.url_scheme`` are the request's client and
  scheme (trusted proxies' word, ``driver.origin``); behind them, and over a Unix
  socket, ``SERVER_NAME``/``SERVER_PORT`` come from the host the client asked for.
- ``QUERY_STRING`` stays percent-encoded, as sent.
- ``CONTENT_LENGTH`` is the request's Content-Length (the core has checked it, and
  collapsed repeated equal values such as ``3, 3``); a chunked body has none, and
  ``wsgi.input_terminated`` tells the application to read to the end instead.
- ``HTTP_*`` for every other field, repeated fields joined with ``,`` (RFC 9110 §5.3).
  Fields whose names contain ``_`` are left out: ``X_Forwarded_For`` would become
  ``HTTP_X_FORWARDED_FOR``, the same key as ``X-Forwarded-For``, and a client could
  spoof what a proxy in front of us set (nginx and gunicorn drop them too).
"""

from __future__ import annotations

import sys
import urllib.parse
from collections.abc import Callable
from typing import Any

from sansio import target_path

from ..app import HTTPRequest
from ..forwarded import UNIX_PEER

__all__ = ["Environ", "EnvironBuilder", "EnvironFactory"]

Environ = dict[str, Any]
EnvironFactory = Callable[[HTTPRequest, object], Environ]
"""What a call builds its environ with (an ``EnvironBuilder``): request, wsgi.input."""

# Header names are lower-case bytes in the core's events; their environ keys are
# computed once per distinct name.
_KEYS: dict[bytes, str] = {}
_MAX_CACHED_KEYS = 1024


def _key(name: bytes) -> str:
    key = _KEYS.get(name)
    if key is None:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        if len(_KEYS) < _MAX_CACHED_KEYS:  # names are client-chosen: bound the cache
            _KEYS[name] = key
    return key


def _path_info(path: bytes) -> str:
    if b"%" in path:
        path = urllib.parse.unquote_to_bytes(path)
    return path.decode("latin-1")


_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
_PROTOCOLS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}


class EnvironBuilder:
    """Builds environs for one server: the keys that never change are set once, in a
    template that each request copies."""

    __slots__ = ("_template",)

    def __init__(
        self,
        *,
        server_name: str,
        server_port: str,
        multithread: bool,
        multiprocess: bool,
        url_scheme: str = "http",
        extra: Environ | None = None,
    ) -> None:
        self._template: Environ = {
            "SCRIPT_NAME": "",
            "SERVER_NAME": server_name,
            "SERVER_PORT": server_port,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url_scheme,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": multithread,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            **(extra or {}),
        }

    def __call__(self, request: HTTPRequest, wsgi_input: object) -> Environ:
        """The environ for ``request``, reading its body from ``wsgi_input``."""
        environ = self._template.copy()
        path, query = target_path(request.target)
        method = request.method
        environ["REQUEST_METHOD"] = _METHODS.get(method) or method.decode("latin-1")
        root = request.root_path
        if root:  # the request is under --root-path (driver.origin.mounted)
            environ["SCRIPT_NAME"] = root
            environ["PATH_INFO"] = _path_info(path)[len(root) :]
        else:
            environ["PATH_INFO"] = _path_info(path)
        environ["QUERY_STRING"] = query.decode("latin-1")
        version = request.http_version
        environ["SERVER_PROTOCOL"] = _PROTOCOLS.get(version) or "HTTP/" + version.decode("latin-1")
        host, port = request.client[:2]
        environ["REMOTE_ADDR"] = host
        environ["REMOTE_PORT"] = str(port)
        if request.scheme == "https":  # over TLS (the adapter's url_scheme otherwise)
            environ["wsgi.url_scheme"] = "https"
        environ["wsgi.input"] = wsgi_input
        for name, value in request.headers:
            if b"_" in name:
                continue
            key = _key(name)
            text = value.decode("latin-1")
            if key == "CONTENT_LENGTH":
                # The core accepted it, so every listed value is the same number.
                environ[key] = text.partition(",")[0].strip()
            elif key in environ:
                environ[key] = f"{environ[key]},{text}"
            else:
                environ[key] = text
        if request.peer is not None or host == UNIX_PEER:
            _server_from_host(environ, request)
        return environ


def _server_from_host(environ: Environ, request: HTTPRequest) -> None:
    """``SERVER_NAME``/``SERVER_PORT`` (and ``HTTP_HOST``) from the host the client
    asked for, as PEP 3333's URL reconstruction reads them: the forwarded host, else
    the ``Host`` header; the port from it, else the forwarded port, else the scheme's.
    Done for a request that came through trusted proxies, or over a Unix socket, where
    the configured TCP name means nothing; without any host the listener's stands."""
    if request.host is not None:
        environ["HTTP_HOST"] = request.host
    authority = environ.get("HTTP_HOST")
    port: str | None = None
    if authority:
        name, colon, port_text = authority.rpartition(":")
        if not colon or name.endswith(":") or not port_text.isdigit():
            name, port_text = authority, ""  # no port (or an IPv6 literal's colons)
        environ["SERVER_NAME"] = name
        port = port_text or None
    if port is None and request.server_port is not None:
        port = str(request.server_port)
    if port is None and authority:
        port = "443" if environ["wsgi.url_scheme"] == "https" else "80"
    if port is not None:
        environ["SERVER_PORT"] = port
