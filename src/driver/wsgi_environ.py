"""The PEP 3333 ``environ`` for one request.

Every key PEP 3333 requires, built from the request head as the core parsed it:

- ``PATH_INFO`` is the path percent-decoded to bytes and then read as latin-1 (PEP 3333's
  "native strings" rule: each byte becomes the code point of the same value, so a
  framework can re-encode to bytes and decode UTF-8 itself). An absolute-form target
  (``GET http://host/path``) contributes only its path. ``SCRIPT_NAME`` is ``""``.
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
from typing import Any

from .app import HTTPRequest

__all__ = ["Environ", "build_environ"]

Environ = dict[str, Any]

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
    if path.startswith((b"http://", b"https://")):
        slash = path.find(b"/", path.find(b"//") + 2)
        path = path[slash:] if slash != -1 else b"/"
    if b"%" in path:
        path = urllib.parse.unquote_to_bytes(path)
    return path.decode("latin-1")


def build_environ(
    request: HTTPRequest,
    wsgi_input: object,
    *,
    server_name: str,
    server_port: str,
    multithread: bool,
    multiprocess: bool,
    url_scheme: str = "http",
) -> Environ:
    """The environ for ``request``, reading its body from ``wsgi_input``."""
    path, _, query = request.target.partition(b"?")
    environ: Environ = {
        "REQUEST_METHOD": request.method.decode("latin-1"),
        "SCRIPT_NAME": "",
        "PATH_INFO": _path_info(path),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("latin-1"),
        "REMOTE_ADDR": request.client[0],
        "REMOTE_PORT": str(request.client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url_scheme,
        "wsgi.input": wsgi_input,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
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
    return environ
