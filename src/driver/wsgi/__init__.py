"""PEP 3333 (WSGI) applications on the driver (``python -m driver --wsgi module:app``).

The package, layer by layer:

- ``adapter``: ``WSGIAdapter`` (a streaming application: one call per request) and
  ``serve_wsgi``;
- ``environ`` (the PEP 3333 environ) and ``input`` (``wsgi.input``, bounded);
- ``call``: ``start_response``, ``write`` and the loop-side steps that turn a call
  into ``Exchange`` calls; ``head``: the checks of ``start_response``'s arguments;
- ``threaded`` (a call on a pool thread) and ``inline`` (on the loop thread), which
  hand their steps to the loop through one ``StepQueue`` (``steps``);
- ``threadpool``: the bounded pool of threads the threaded calls run on.

``load_app`` and ``AppLoadError`` (naming an application on the command line) live in
``driver.app_loader``, next to the CLI; they are re-exported here as they always were.
"""

from ..app_loader import AppLoadError, load_app
from .adapter import DEFAULT_THREADS, WSGIAdapter, serve_wsgi
from .call import FileWrapper, WSGIApp
from .input import ClientDisconnected

__all__ = [
    "DEFAULT_THREADS",
    "AppLoadError",
    "ClientDisconnected",
    "FileWrapper",
    "WSGIAdapter",
    "WSGIApp",
    "load_app",
    "serve_wsgi",
]
