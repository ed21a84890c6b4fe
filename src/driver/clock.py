"""The Date clock: the ``Date`` header value (RFC 9110 §6.6.1), formatted once a second.

Every response carries a ``Date``; formatting it per response would cost a
``time.time()`` and a ``strftime`` each. The loop calls ``on_wake()`` once per round,
after its poll (``interfaces.Clock``); the value changes only when the second does,
so that a prepared reply can be reused while its ``date`` is the same object
(``ServerContext.memo``).
"""

from __future__ import annotations

import time

from .conditions import format_http_date as http_date

__all__ = ["DateClock"]


class DateClock:
    """The current ``Date`` header value, refreshed by the loop (``interfaces.Clock``)."""

    __slots__ = ("_until", "date")

    def __init__(self) -> None:
        self._until = 0.0
        self.date = b""
        self.on_wake()

    def on_wake(self) -> None:
        now = time.time()
        if now >= self._until:
            self._until = float(int(now) + 1)
            self.date = http_date(now)
