"""Config: every knob of the server in one frozen object, with nginx-like defaults.

The command line builds one of these; library users build it directly and pass it to
``driver.serve``. Validation happens here, once, so that the loop never has to check.
"""

from __future__ import annotations

import os
import resource
import socket
from dataclasses import dataclass, field, fields

import sansio

from .budget import DEFAULT_BUDGET, Budget, spill_above
from .forwarded import DEFAULT_ALLOW_IPS, DEFAULT_PROXY_HEADERS, TrustedProxies
from .origin import check_root_path

__all__ = ["DEFAULT_THREADS", "MAX_THREADS", "Config", "cpu_count", "default_backlog"]

DEFAULT_THREADS = 4
"""``Config.threads`` when not given. Measured with ``bench/wsgi_bench.py``'s
applications (one CPU, wrk -c50, three alternating runs): WSGI hello 18.2-18.5k req/s
with 4 threads against 16.7-18.2k with 8 (Flask JSON 7.3-7.6k against 6.8-7.6k), and
lower still with 16: threads beyond the CPUs' work only add switching under the GIL.
4 is also waitress's default, and leaves three threads free while one request blocks."""
MAX_THREADS = 1024


_TEXT_FIELDS = frozenset(
    {
        "host",
        "access_log_path",
        "uds",
        "certfile",
        "keyfile",
        "key_password",
        "forwarded_allow_ips",
        "proxy_headers",
        "root_path",
    }
)


def _somaxconn() -> int:
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return socket.SOMAXCONN


def default_backlog() -> int:
    """4096, or less if the kernel caps listen backlogs lower (``net.core.somaxconn``)."""
    return min(4096, _somaxconn())


def _default_max_connections() -> int:
    # Each connection is one descriptor, plus one for a file being sent; keep a margin
    # for the listener, epoll, logs and the wakeup pipe.
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(1, min(10_000, (soft - 32) // 2))


@dataclass(frozen=True, slots=True)
class Config:
    """How the server listens, times out and treats its connections."""

    host: str = "0.0.0.0"
    """Address to bind. ``0.0.0.0`` serves every interface, as ``python -m http.server``."""

    port: int = 8000
    """TCP port; 0 picks a free one (the chosen port is printed in the banner)."""

    backlog: int = 0
    """Listen backlog; 0 means ``default_backlog()`` (4096 capped by somaxconn), well
    above the kernel's historical 128 so that bursts of connects are not dropped."""

    workers: int = 1
    """Processes, each with its own epoll loop and its own ``SO_REUSEPORT`` listener, so
    that the kernel spreads connections across cores."""

    edge_triggered: bool = False
    """Register sockets with ``EPOLLET`` and drain each to ``EAGAIN`` on every wake-up."""

    nodelay: bool = True
    """Set ``TCP_NODELAY`` on accepted sockets (on by default, as nginx's
    ``tcp_nodelay on``). Without it, a response that leaves in two writes (a head, then
    a ``sendfile`` body, or a streamed body) waits for the client's delayed ACK
    (about 40 ms) before its second segment."""

    cork: bool = False
    """Set ``TCP_CORK`` around each response's writes so that a head and a ``sendfile``
    body share packets."""

    max_connections: int = 0
    """Connections served at once; 0 means 10 000 or what ``RLIMIT_NOFILE`` allows. At
    the cap a new client takes the place of the kept-alive
    connection idle longest, which is closed (nginx does the same); with none idle,
    the listener stops and the kernel backlog holds new connects until one closes or
    becomes idle."""

    header_timeout: float = 60.0
    """Seconds a client has to send a whole request head: an absolute deadline from
    accept, or from the first byte of a later request, never extended by each byte
    (a slow-drip client gets 408). nginx's ``client_header_timeout`` is 60 s."""

    body_timeout: float = 60.0
    """Seconds allowed between two reads of a request body, and between two writes of
    a response that the client does not drain. nginx's ``client_body_timeout`` and
    ``send_timeout`` are both 60 s."""

    keepalive_timeout: float = 75.0
    """Seconds an idle kept-alive connection waits for its next request before it is
    closed. nginx's ``keepalive_timeout`` is 75 s."""

    grace_period: float = 10.0
    """Seconds that in-flight requests get to finish after SIGTERM or SIGINT."""

    max_body_size: int = 16 * 1024 * 1024
    """Largest request body accepted, in bytes (413 beyond, at the head when the
    Content-Length says so; 0: no limit). It bounds time and disk, not memory: a simple
    app's body is held in memory up to the budget's body share and in a temporary file
    beyond it; a streaming app gets the body as it arrives; an app that takes no body
    (``driver.app.takes_body``) never has it stored."""

    high_water: int = 0
    """Bytes of queued output (payload plus each item's Python objects) above which the
    producer is paused (an iterable body is no longer pulled, a streaming app's
    ``pause_writing`` is called) and the connection stops reading and starting new
    (pipelined) requests until the client drains it. 0 means the budget's output share
    (half of what ``connection_budget`` leaves beyond the receive share: 64 KiB)."""

    low_water: int = 0
    """Bytes of queued output at or below which a paused producer resumes; 0 means a
    quarter of ``high_water`` (asyncio's ratio)."""

    connection_budget: int = DEFAULT_BUDGET
    """Bytes one connection may make the server hold, every buffer included: a recv and
    a request head (``recv_size`` plus the core's 64 KiB head limit), the output queue
    (``high_water``), small items gathered into one write, a request body in memory
    (beyond it: a temporary file, or paused reading), an error reply. Every bound
    derives from this one number (``driver.budget``), so the worst case for the
    process is ``max_connections x connection_budget``: 10,000 x 256 KiB = 2.5 GiB at
    the defaults, reached only if every connection is full at once. What does not fit
    waits (backpressure), spills to a temporary file, or is refused."""

    recv_size: int = 64 * 1024
    """Bytes asked of each ``recv``. CPython allocates this much for every call before
    shrinking it, and above 128 KiB glibc's malloc switches to ``mmap``: a larger value
    costs a map, a page fault and an unmap per ``recv``."""

    access_log: bool = True
    """Write a Common Log Format line per response."""

    access_log_path: str | None = None
    """File for the access log; ``None`` means standard error."""

    threads: int = DEFAULT_THREADS
    """Threads that run a WSGI application (``--threads``), so that one that blocks
    holds a thread, never the loop; 0 runs it on the loop thread (fastest, for
    applications that never block). Threads start only when every running one is
    busy. The default is measured in ``bench/wsgi_bench.py`` (see ``driver.wsgi``)."""

    uds: str | None = None
    """Listen on this Unix socket path instead of TCP (``--uds``): a stale socket file
    left by a dead server is replaced, anything else there is refused
    (``driver.listeners.unix_listener``)."""

    uds_mode: int = 0o660
    """The socket file's exact mode (``--uds-mode``): owner and group may connect
    (``driver.listeners.DEFAULT_UDS_MODE`` says why)."""

    fd: int | None = None
    """Listen on this inherited, already listening socket instead (``--fd``). systemd's
    ``LISTEN_FDS``/``LISTEN_PID``, when set for this process, are used without it."""

    certfile: str | None = None
    """PEM certificate chain: serve HTTPS (TLS 1.2 and later, ``driver.tls``)."""

    keyfile: str | None = None
    """PEM private key, if it is not in ``certfile``."""

    key_password: str | None = field(default=None, repr=False)
    """Password of an encrypted ``keyfile`` (``--tls-password-file``)."""

    handshake_timeout: float = 10.0
    """Seconds a client has to complete the TLS handshake: absolute from accept, a
    byte a second does not extend it (the HTTP header timeout starts after it)."""

    forwarded_allow_ips: str = DEFAULT_ALLOW_IPS
    """Peers trusted to say who their client is (``--forwarded-allow-ips``):
    comma-separated addresses, CIDR networks, ``unix:`` (Unix-socket peers) or ``*``;
    empty trusts nobody. The default, loopback and Unix-socket peers, is a proxy on
    the same machine (``driver.forwarded.DEFAULT_ALLOW_IPS`` compares the peers')."""

    proxy_headers: str = DEFAULT_PROXY_HEADERS
    """The headers those proxies set and h10 reads (``--proxy-headers``), comma
    separated: ``x-forwarded-for``, ``-proto``, ``-host``, ``-port``, or ``forwarded``
    alone; empty turns proxy headers off (``--no-proxy-headers``)."""

    root_path: str = ""
    """The URL prefix the application is mounted under (``--root-path``): the WSGI
    ``SCRIPT_NAME`` and ``HTTPRequest.root_path`` of a request below it."""

    @property
    def tls(self) -> bool:
        """Whether connections speak TLS (a ``certfile`` is given)."""
        return self.certfile is not None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _TEXT_FIELDS or isinstance(value, bool) or value is None:
                continue
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"Config.{f.name} must be a number >= 0, got {value!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"Config.port must be in 0..65535, got {self.port}")
        if self.workers < 1:
            raise ValueError("Config.workers must be at least 1")
        for name in ("header_timeout", "body_timeout", "keepalive_timeout", "recv_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Config.{name} must be > 0")
        if self.backlog == 0:
            object.__setattr__(self, "backlog", default_backlog())
        else:
            object.__setattr__(self, "backlog", min(self.backlog, _somaxconn()))
        budget = self.budget  # raises if the budget cannot hold its receive share
        if self.high_water == 0:
            object.__setattr__(self, "high_water", budget.high_water)
        elif self.high_water > budget.total - budget.receive:
            raise ValueError(
                f"Config.high_water ({self.high_water}) does not fit in the connection "
                f"budget: at most {budget.total - budget.receive} bytes with "
                f"connection_budget={budget.total}"
            )
        if self.low_water == 0:
            object.__setattr__(self, "low_water", self.high_water // 4)
        if self.low_water > self.high_water:
            raise ValueError("Config.low_water must not exceed Config.high_water")
        if self.max_connections == 0:
            object.__setattr__(self, "max_connections", _default_max_connections())
        if self.keyfile is not None and self.certfile is None:
            raise ValueError("Config.keyfile needs Config.certfile")
        if sum(x is not None for x in (self.uds, self.fd)) > 1:
            raise ValueError("Config.uds and Config.fd are two listeners: give one")
        if self.uds_mode > 0o777:
            raise ValueError(f"Config.uds_mode must be at most 0o777, got {self.uds_mode:o}")
        if self.handshake_timeout <= 0:
            raise ValueError("Config.handshake_timeout must be > 0")
        TrustedProxies.parse(self.forwarded_allow_ips, self.proxy_headers)  # ValueError
        check_root_path(self.root_path)
        if self.threads > MAX_THREADS:
            raise ValueError(f"Config.threads must be at most {MAX_THREADS}, got {self.threads}")

    @property
    def budget(self) -> Budget:
        """The shares of ``connection_budget`` (``driver.budget``)."""
        return Budget(
            self.connection_budget,
            recv_size=self.recv_size,
            head_size=sansio.Limits().max_head_size,
        )


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - Linux has it
        return max(1, os.cpu_count() or 1)


class TransportConfig:
    """The transport's knobs, read once from ``Config`` by the loop."""

    __slots__ = (
        "cork",
        "edge_triggered",
        "high_water",
        "low_water",
        "recv_size",
        "spill_above",
        "write_timeout",
    )

    def __init__(
        self,
        *,
        recv_size: int,
        high_water: int,
        low_water: int,
        write_timeout: float,
        edge_triggered: bool,
        cork: bool,
    ) -> None:
        self.recv_size = recv_size
        self.high_water = high_water
        self.low_water = low_water
        # Output held in memory beyond this spills to a temporary file (driver.budget).
        self.spill_above = spill_above(high_water)
        self.write_timeout = write_timeout
        self.edge_triggered = edge_triggered
        self.cork = cork

    def without_cork(self) -> TransportConfig:
        """The same knobs without ``TCP_CORK`` (for Unix sockets, which refuse it)."""
        if not self.cork:
            return self
        return TransportConfig(
            recv_size=self.recv_size,
            high_water=self.high_water,
            low_water=self.low_water,
            write_timeout=self.write_timeout,
            edge_triggered=self.edge_triggered,
            cork=False,
        )
