"""``Server`` (an HTTP server made of a loop) and ``serve``: listen, print the banner,
run one loop per worker process.

``Server`` composes: a ``Loop`` (epoll, accept, timers), a ``DateClock`` the loop
refreshes after each poll, the access log's flush as a task the loop runs every round,
and the protocol factory (HTTP, under a ``TLSLayer`` when a certificate is given).

Listeners come from ``driver.listeners``: systemd's (``LISTEN_FDS`` for this process,
used whenever set), an inherited descriptor (``Config.fd``), a Unix socket path
(``Config.uds``), or else TCP on ``host:port``. With ``workers > 1`` every worker gets
its own TCP sockets bound to the same port with ``SO_REUSEPORT``, so the kernel spreads
new connections across the processes (and so across cores) with no shared accept
queue to fight over; the other kinds are one socket made before forking and shared by
every worker (``EPOLLEXCLUSIVE`` wakes one of them per connection). The parent only
supervises: it forwards SIGTERM/SIGINT, restarts a worker that dies, and exits 0 once
every worker has finished its graceful shutdown (then removes the Unix socket file).
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
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

import sansio

from .app import App, StreamingApp
from .clock import DateClock
from .config import Config
from .context import ServerContext
from .interfaces import ProtocolFactory
from .listeners import (
    Listener,
    ListenerError,
    from_socket,
    inherited_listener,
    systemd_listeners,
    tcp_listeners,
    unix_listener,
)
from .log import AccessLog
from .loop import Loop
from .origin import Origins
from .protocol import HTTPProtocol

if TYPE_CHECKING:
    # Imported when TLS is asked for only: ssl and OpenSSL cost a plain server 4 MiB.
    import ssl

__all__ = ["Server", "make_listener", "make_listeners", "serve", "tls_context"]

log = logging.getLogger("driver")

AnyApp = App | StreamingApp


class Server:
    """One process's HTTP server: a loop whose connections speak HTTP to ``app`` (a
    simple or streaming app). ``listeners``: a socket, a ``Listener`` or a list of
    them; by default made from ``config`` (``make_listeners``). ``tls``: the server
    context, made from ``config.certfile`` if not given."""

    def __init__(
        self,
        app: AnyApp,
        config: Config,
        listeners: socket.socket | Listener | Sequence[Listener] | None = None,
        access_log: AccessLog | None = None,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.access_log = access_log
        if listeners is None:
            listeners = make_listeners(config)
        elif isinstance(listeners, socket.socket):
            listeners = [from_socket(listeners)]
        elif isinstance(listeners, Listener):
            listeners = [listeners]
        self.listeners = list(listeners)
        if tls is None and config.tls:
            tls = tls_context(config)
        self.clock = DateClock()
        self.loop = Loop(config, self.listeners, clock=self.clock)
        self.context = ServerContext(
            app,
            self.loop,
            limits=sansio.Limits(max_body_size=config.max_body_size or None),
            header_timeout=config.header_timeout,
            body_timeout=config.body_timeout,
            keepalive_timeout=config.keepalive_timeout,
            access_log=access_log,
            budget=config.budget,
            clock=self.clock,
            scheme="http" if tls is None else "https",
            origins=Origins.from_config(config),
            root_path=config.root_path,
        )
        factory: ProtocolFactory = functools.partial(HTTPProtocol, self.context)
        if tls is not None:
            from .tls import tls_factory

            factory = tls_factory(self.loop, tls, factory, config.handshake_timeout)
        self.loop.set_protocol_factory(factory)
        if access_log is not None:
            self.loop.every_round(access_log.flush)

    @property
    def listener(self) -> socket.socket:
        """The first listening socket (``getsockname()`` gives the port picked by 0)."""
        return self.listeners[0].socket

    def run(self, *, install_signals: bool = True) -> None:
        """Serve until stopped; return once every connection is closed."""
        self.loop.run(install_signals=install_signals)

    def stop(self) -> None:
        """Begin a graceful shutdown (loop thread)."""
        self.loop.stop()

    def stop_threadsafe(self) -> None:
        """Begin a graceful shutdown, from any thread or a signal handler."""
        self.loop.stop_threadsafe()


def tls_context(config: Config) -> ssl.SSLContext:
    """The server's TLS context from ``config.certfile``/``keyfile``; ``ValueError``
    (one line, naming the file) if they cannot be loaded."""
    from .tls import server_context

    assert config.certfile is not None
    return server_context(config.certfile, config.keyfile, config.key_password)


def make_listeners(config: Config, *, reuse_port: bool = False) -> list[Listener]:
    """The sockets ``config`` asks for: systemd's if ``LISTEN_FDS`` is set for this
    process, else ``config.fd``, else ``config.uds``, else TCP on ``host:port``.
    ``ListenerError`` (one line) if they cannot be had."""
    activated = systemd_listeners()
    if activated:
        if config.uds is not None or config.fd is not None:
            for listener in activated:
                listener.close()
            raise ListenerError(
                "systemd passed listening sockets (LISTEN_FDS); --uds and --fd do not apply"
            )
        return activated
    if config.fd is not None:
        return [inherited_listener(config.fd)]
    if config.uds is not None:
        return [unix_listener(config.uds, mode=config.uds_mode, backlog=config.backlog)]
    return tcp_listeners(config.host, config.port, backlog=config.backlog, reuse_port=reuse_port)


def make_listener(config: Config, *, reuse_port: bool = False) -> socket.socket:
    """A bound, listening, non-blocking TCP socket for ``config.host:config.port``
    (the first, if the host has several addresses)."""
    made = tcp_listeners(config.host, config.port, backlog=config.backlog, reuse_port=reuse_port)
    for extra in made[1:]:
        extra.close()
    return made[0].socket


def _banner(listeners: Sequence[Listener], what: str, workers: int, scheme: str) -> None:
    extra = f", {workers} workers" if workers > 1 else ""
    for listener in listeners:
        url = listener.url(scheme)
        shown = f" ({url})" if url else ""
        print(
            f"Serving {what} on {listener.label}{shown}{extra} ...",
            file=sys.stderr,
            flush=True,
        )


def _run_worker(
    app: AnyApp, config: Config, listeners: list[Listener], tls: ssl.SSLContext | None
) -> None:
    access_log = AccessLog(config.access_log_path) if config.access_log else None
    try:
        Server(app, config, listeners, access_log, tls=tls).run()
    finally:
        if access_log is not None:
            access_log.close()


def serve(app: AnyApp, config: Config | None = None, *, what: str = "HTTP") -> None:
    """Serve ``app`` (a simple or a streaming app) until SIGTERM or SIGINT, then shut
    down gracefully and return. A listener that cannot be had raises
    ``ListenerError``, a certificate that cannot be loaded ``ValueError``."""
    config = config or Config()
    tls = tls_context(config) if config.tls else None
    scheme = "http" if tls is None else "https"
    if config.workers == 1:
        listeners = make_listeners(config)
        _banner(listeners, what, 1, scheme)
        _run_worker(app, config, listeners, tls)
        return
    first = make_listeners(config, reuse_port=True)
    if first[0].shared:
        per_worker = [first] * config.workers  # one socket, accepted by every worker
    else:
        config = dataclasses.replace(config, port=first[0].socket.getsockname()[1])
        per_worker = [first] + [
            make_listeners(config, reuse_port=True) for _ in range(config.workers - 1)
        ]
    _banner(first, what, config.workers, scheme)
    _supervise(app, config, per_worker, tls)


def _spawn(
    app: AnyApp,
    config: Config,
    per_worker: list[list[Listener]],
    index: int,
    tls: ssl.SSLContext | None,
) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        mine = per_worker[index]
        for others in per_worker:
            if others is not mine:
                for other in others:
                    other.close()
        _run_worker(app, config, mine, tls)
    except BaseException:
        log.exception("worker %d failed", index)
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


def _supervise(
    app: AnyApp,
    config: Config,
    per_worker: list[list[Listener]],
    tls: ssl.SSLContext | None,
) -> None:
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    # Shared sockets stay open in the parent, for a worker that is restarted.
    shared = per_worker[0] if per_worker[0][0].shared else []
    workers: dict[int, int] = {}
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(len(per_worker)):
            workers[_spawn(app, config, per_worker, index, tls)] = index
        if not shared:
            for listeners in per_worker:
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
                log.error("worker %d (pid %d) exited with %d; restarting", index, pid, code)
                time.sleep(0.1)
                # A TCP worker's sockets are closed in the parent: new ones join the group.
                fresh = shared or make_listeners(config, reuse_port=True)
                workers[_spawn(app, config, [fresh], 0, tls)] = index
                if not shared:
                    for listener in fresh:
                        listener.close()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for listener in shared:
            listener.close()  # the Unix socket file goes with it (this process bound it)
