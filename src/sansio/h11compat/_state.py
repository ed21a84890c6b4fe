"""h11's role and state constants, and how the core's states read as them.

The states have h11's names and reprs. ``FROM_CORE`` maps each core state (and role)
to its h11 twin; the connection applies h11's few extra rules on top (see
``_connection``), so no state machine is kept twice.
"""

from __future__ import annotations

import sansio

from ._util import Sentinel

__all__ = [
    "CLIENT",
    "CLOSED",
    "DONE",
    "ERROR",
    "IDLE",
    "MIGHT_SWITCH_PROTOCOL",
    "MUST_CLOSE",
    "SEND_BODY",
    "SEND_RESPONSE",
    "SERVER",
    "SWITCHED_PROTOCOL",
]


class CLIENT(Sentinel, metaclass=Sentinel):
    pass


class SERVER(Sentinel, metaclass=Sentinel):
    pass


class IDLE(Sentinel, metaclass=Sentinel):
    pass


class SEND_RESPONSE(Sentinel, metaclass=Sentinel):
    pass


class SEND_BODY(Sentinel, metaclass=Sentinel):
    pass


class DONE(Sentinel, metaclass=Sentinel):
    pass


class MUST_CLOSE(Sentinel, metaclass=Sentinel):
    pass


class CLOSED(Sentinel, metaclass=Sentinel):
    pass


class ERROR(Sentinel, metaclass=Sentinel):
    pass


class MIGHT_SWITCH_PROTOCOL(Sentinel, metaclass=Sentinel):
    pass


class SWITCHED_PROTOCOL(Sentinel, metaclass=Sentinel):
    pass


FROM_CORE: dict[object, type[Sentinel]] = {
    sansio.CLIENT: CLIENT,
    sansio.SERVER: SERVER,
    sansio.IDLE: IDLE,
    sansio.SEND_RESPONSE: SEND_RESPONSE,
    sansio.SEND_BODY: SEND_BODY,
    sansio.DONE: DONE,
    sansio.MUST_CLOSE: MUST_CLOSE,
    sansio.CLOSED: CLOSED,
    sansio.ERROR: ERROR,
    sansio.MIGHT_SWITCH_PROTOCOL: MIGHT_SWITCH_PROTOCOL,
    sansio.SWITCHED_PROTOCOL: SWITCHED_PROTOCOL,
}
"""Each core role and state, as h11 names it."""

TO_CORE_ROLE: dict[type[Sentinel], sansio.Role] = {CLIENT: sansio.CLIENT, SERVER: sansio.SERVER}
