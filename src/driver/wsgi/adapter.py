"""PEP 3333 (WSGI) applications on the driver: ``python -m driver --wsgi module:app``.

``WSGIAdapter`` is a streaming application (``handle_exchange``): for each request it
builds the ``environ`` and runs the WSGI application on a bounded pool of threads
(``threads``), so an application that blocks (a database, a sleep, a slow upload)
holds one thread, never the loop. The request body streams into ``wsgi.input`` as it
arrives and the response streams out as the application produces it, both bounded
(see ``input`` and ``threaded``). With ``threads=0`` the application runs
on the loop thread instead (``inline``): faster, for applications that never
block.

Choices worth knowing:

- ``threads`` defaults to ``config.DEFAULT_THREADS`` (4, measured: see there); a pool
  thread starts only when every running one is busy.
- A chunked request body has no length up front, so the environ has no
  ``CONTENT_LENGTH`` and ``wsgi.input_terminated`` tells the application to read to
  the end (Werkzeug/Flask do). Django reads ``CONTENT_LENGTH`` bytes only, so it sees
  such a body as empty, as under gunicorn.
- ``SERVER_NAME``/``SERVER_PORT`` are the configured address (``--port 0`` gives
  ``"0"``); frameworks build URLs from ``HTTP_HOST`` first.

Example::

    import driver

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello\\n"]

    driver.serve_wsgi(app, driver.Config(port=8080))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..app import Exchange, HTTPRequest
from ..config import DEFAULT_THREADS, Config
from .call import FileWrapper, WSGIApp
from .environ import Environ, EnvironBuilder
from .inline import InlineCall
from .input import ClientDisconnected
from .steps import StepQueue
from .threaded import ThreadedCall
from .threadpool import ThreadPool

__all__ = [
    "DEFAULT_THREADS",
    "ClientDisconnected",
    "FileWrapper",
    "WSGIAdapter",
    "WSGIApp",
    "serve_wsgi",
]


class WSGIAdapter:
    """A WSGI application as a driver streaming application."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        threads: int = DEFAULT_THREADS,
        host: str = "localhost",
        port: int = 8000,
        multiprocess: bool = False,
        url_scheme: str = "http",
    ) -> None:
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        self.app = app
        self.threads = threads
        options: dict[str, Any] = {
            "server_name": host,
            "server_port": str(port),
            "multiprocess": multiprocess,
            "url_scheme": url_scheme,
            "extra": {"wsgi.file_wrapper": FileWrapper},
        }
        self._threaded_environ = EnvironBuilder(multithread=True, **options)
        self._inline_environ = EnvironBuilder(multithread=False, **options)
        # Made on first use, so that a forked worker process gets its own.
        self._pool: ThreadPool | None = None
        self._outbox: StepQueue | None = None  # the threaded calls' steps
        self._steps: StepQueue | None = None  # the inline calls' steps
        self._batch: list[Callable[[], None]] = []

    def environ(
        self, request: HTTPRequest, wsgi_input: object, multithread: bool = True
    ) -> Environ:
        """The PEP 3333 environ for ``request``."""
        return (self._threaded_environ if multithread else self._inline_environ)(
            request, wsgi_input
        )

    def handle_exchange(self, exchange: Exchange) -> None:
        """Start the WSGI call for one request (loop thread)."""
        if not self.threads:
            steps = self._steps
            if steps is None or steps.loop is not exchange.loop:
                steps = self._steps = StepQueue(exchange.loop, threadsafe=False)
            InlineCall(self.app, exchange, self._inline_environ, steps).attach()
            return
        outbox = self._outbox
        if outbox is None or outbox.loop is not exchange.loop:
            outbox = self._outbox = StepQueue(exchange.loop, threadsafe=True)
        pool = self._pool
        if pool is None:
            pool = self._pool = ThreadPool(self.threads, "wsgi")
        call = ThreadedCall(self.app, exchange, outbox, self._threaded_environ)
        call.attach()
        # Calls are handed to the pool once the loop has parsed every request this
        # round brought, not one by one: a woken worker would fight the loop for the
        # GIL while it parses the rest. Measured (bench/wsgi_bench.py apps, one CPU):
        # 35 instead of 43 us of CPU per WSGI hello, 112 instead of 116 per Flask call.
        batch = self._batch
        batch.append(call.run)
        if len(batch) == 1:
            exchange.loop.call_soon(self._submit_batch)

    def _submit_batch(self) -> None:
        batch, self._batch = self._batch, []
        pool = self._pool
        assert pool is not None
        for job in batch:
            pool.submit(job)

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop the thread pool, waiting up to ``timeout`` seconds for calls in
        progress; returns whether every thread finished (the rest are daemons)."""
        pool, self._pool = self._pool, None
        return pool is None or pool.shutdown(timeout)


def serve_wsgi(
    app: WSGIApp,
    config: Config | None = None,
    *,
    threads: int | None = None,
    what: str | None = None,
) -> None:
    """Serve the WSGI application ``app`` until SIGTERM or SIGINT, then shut down
    gracefully (see ``driver.serve``). ``threads`` overrides ``config.threads``."""
    from ..server import serve

    config = config or Config()
    adapter = WSGIAdapter(
        app,
        threads=config.threads if threads is None else threads,
        host=config.host,
        port=config.port,
        multiprocess=config.workers > 1,
    )
    try:
        serve(adapter, config, what=what or f"WSGI app {getattr(app, '__name__', app)!r}")
    finally:
        # The grace period is over: calls still running get a moment to see that
        # their connections closed and to call close(); stuck ones are abandoned.
        adapter.shutdown(min(1.0, config.grace_period))
