"""``sansio.h11compat``: h11's API on the h10 core, for code written for h11.

Every name in ``h11.__all__`` (h11 0.16), with h11's signatures and the behaviour its
users rely on, translated to and from one ``sansio.Connection``: no second parser.
The README's "Using h10 where h11 is used" lists what still differs, and why::

    import sansio.h11compat as h11             # in code of your own, or:
    sansio.h11compat.install()                 # before uvicorn/httpx import h11

``install()`` makes later ``import h11`` (and ``h11._connection`` ...) give this
package. ``python -m sansio.h11compat MODULE ARGS...`` runs a module (``uvicorn``)
that way.
"""

from __future__ import annotations

from ._connection import NEED_DATA, PAUSED, Connection
from ._events import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    Request,
    Response,
)
from ._install import install, installed
from ._state import (
    CLIENT,
    CLOSED,
    DONE,
    ERROR,
    IDLE,
    MIGHT_SWITCH_PROTOCOL,
    MUST_CLOSE,
    SEND_BODY,
    SEND_RESPONSE,
    SERVER,
    SWITCHED_PROTOCOL,
)
from ._util import LocalProtocolError, ProtocolError, RemoteProtocolError
from ._version import __version__

PRODUCT_ID = "h10-h11compat/" + __version__
"""For a ``User-Agent`` or ``Server`` field, as h11's ``PRODUCT_ID``."""

__all__ = (  # h11's names, then install and installed
    "CLIENT",
    "CLOSED",
    "DONE",
    "ERROR",
    "IDLE",
    "MIGHT_SWITCH_PROTOCOL",
    "MUST_CLOSE",
    "NEED_DATA",
    "PAUSED",
    "PRODUCT_ID",
    "SEND_BODY",
    "SEND_RESPONSE",
    "SERVER",
    "SWITCHED_PROTOCOL",
    "Connection",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "InformationalResponse",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "Request",
    "Response",
    "install",
    "installed",
)
