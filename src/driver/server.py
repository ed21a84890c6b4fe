"""``Server`` (the HTTP loop) and ``serve``: listen, print the banner, run one loop
per worker process.

With ``workers > 1`` every worker gets its own listening socket bound to the same port
with ``SO_REUSEPORT``, so the kernel spreads new connections across the processes
(and so across cores) with no shared accept queue to fight over. The parent only
supervises: it forwards SIGTERM/SIGINT, restarts a worker that dies, and exits 0 once
every worker has finished its graceful shutdown.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import signal
import socket
import sys
import time
from types import FrameType

import sansio

from .app import App, StreamingApp
from .conditions import format_http_date as http_date
from .config import Config
from .context import ServerContext
from .log import AccessLog
from .loop import Loop, make_listener
from .protocol import HTTPProtocol

__all__ = ["Server", "serve"]

log = logging.getLogger("driver")

AnyApp = App | StreamingApp


class Server(Loop):
    """A loop whose connections speak HTTP to ``app`` (a simple or streaming app)."""

    def __init__(
        self,
        app: AnyApp,
        config: Config,
        listener: socket.socket,
        access_log: AccessLog | None = None,
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.context = ServerContext(
            app,
            self,
            limits=sansio.Limits(max_body_size=config.max_body_size or None),
            header_timeout=config.header_timeout,
            body_timeout=config.body_timeout,
            keepalive_timeout=config.keepalive_timeout,
            access_log=access_log,
            budget=config.budget,
        )
        context = self.context
        self._date_until = 0.0
        super().__init__(config, listener, functools.partial(HTTPProtocol, context))

    def on_wake(self) -> None:
        # The Date header (RFC 9110 §6.6.1) is formatted once per second, not per response.
        now = time.time()
        if now >= self._date_until:
            self._date_until = float(int(now) + 1)
            self.context.date = http_date(now)

    def tick(self) -> None:
        if self.access_log is not None:
            self.access_log.flush()


def _banner(listener: socket.socket, what: str, workers: int) -> None:
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    extra = f", {workers} workers" if workers > 1 else ""
    print(
        f"Serving {what} on {host} port {port} (http://{shown}:{port}/){extra} ...",
        file=sys.stderr,
        flush=True,
    )


def _run_worker(app: AnyApp, config: Config, listener: socket.socket) -> None:
    access_log = AccessLog(config.access_log_path) if config.access_log else None
    try:
        Server(app, config, listener, access_log).run()
    finally:
        if access_log is not None:
            access_log.close()


def serve(app: AnyApp, config: Config | None = None, *, what: str = "HTTP") -> None:
    """Serve ``app`` (a simple or a streaming app) until SIGTERM or SIGINT, then shut
    down gracefully and return."""
    config = config or Config()
    if config.workers == 1:
        listener = make_listener(config)
        _banner(listener, what, 1)
        _run_worker(app, config, listener)
        return
    first = make_listener(config, reuse_port=True)
    config = dataclasses.replace(config, port=first.getsockname()[1])
    listeners = [first] + [
        make_listener(config, reuse_port=True) for _ in range(config.workers - 1)
    ]
    _banner(first, what, config.workers)
    _supervise(app, config, listeners)


def _spawn(app: AnyApp, config: Config, listeners: list[socket.socket], index: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        for i, other in enumerate(listeners):
            if i != index:
                other.close()
        _run_worker(app, config, listeners[index])
    except BaseException:
        log.exception("worker %d failed", index)
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


def _supervise(app: AnyApp, config: Config, listeners: list[socket.socket]) -> None:
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    workers: dict[int, int] = {}
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(len(listeners)):
            workers[_spawn(app, config, listeners, index)] = index
        for listener in listeners:
            listener.close()
        while workers:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            index = workers.pop(pid, -1)
            if index < 0:
                continue
            code = os.waitstatus_to_exitcode(status)
            if not stopping and code != 0:
                # A listener is closed in the parent now; a new one joins the group.
                log.error("worker %d (pid %d) exited with %d; restarting", index, pid, code)
                time.sleep(0.1)
                fresh = [make_listener(config, reuse_port=True)]
                workers[_spawn(app, config, fresh, 0)] = index
                fresh[0].close()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
