"""ServerContext: what every connection of one HTTP server shares."""

from __future__ import annotations

import sansio

from .app import App, Reply, StreamingApp, app_takes_body
from .budget import Budget
from .clock import DateClock
from .interfaces import EventLoop
from .log import AccessLog
from .origin import Origins
from .reply_events import Prepared

__all__ = ["ServerContext"]


class ServerContext:
    """What every connection of one server shares."""

    __slots__ = (
        "access_log",
        "app",
        "body_timeout",
        "budget",
        "clock",
        "header_timeout",
        "keepalive_timeout",
        "limits",
        "loop",
        "memo",
        "origins",
        "root_path",
        "scheme",
        "streaming",
        "takes_body",
    )

    def __init__(
        self,
        app: App | StreamingApp,
        loop: EventLoop,
        *,
        limits: sansio.Limits,
        header_timeout: float,
        body_timeout: float,
        keepalive_timeout: float,
        access_log: AccessLog | None,
        budget: Budget,
        clock: DateClock | None = None,
        scheme: str = "http",
        origins: Origins | None = None,
        root_path: str = "",
    ) -> None:
        self.app = app
        self.streaming = hasattr(app, "handle_exchange")
        self.takes_body = app_takes_body(app)
        self.budget = budget
        self.loop = loop
        self.limits = limits
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.keepalive_timeout = keepalive_timeout
        self.access_log = access_log
        self.clock = clock or DateClock()
        """The ``Date`` header's clock; the loop refreshes it once per round."""
        self.scheme = scheme
        """``http``, or ``https`` over TLS: each request's ``HTTPRequest.scheme``."""
        self.origins = origins
        """The trusted proxies (``driver.origin``), or ``None``: proxy headers are off."""
        self.root_path = root_path
        """``--root-path`` (``""``: none), checked by ``driver.origin.check_root_path``."""
        # The last reply prepared per HTTP version, reused when an app returns the
        # same immutable Reply again (hello) within the same second (the Date).
        self.memo: dict[bytes, tuple[Reply, Prepared]] = {}

    @property
    def date(self) -> bytes:
        """The ``Date`` header value, formatted once per second (``DateClock``)."""
        return self.clock.date
