"""The two ways a connection goes wrong: the peer broke the protocol, or we did.

Both carry ``status_hint``: the HTTP status a server should answer with. Remote errors
are final: the connection stays in the ``ERROR`` state for good.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class of the core's errors; ``status_hint`` is the status to answer with."""

    def __init__(self, msg: str, status_hint: int = 400) -> None:
        super().__init__(msg)
        self.status_hint = status_hint


class LocalProtocolError(ProtocolError):
    """The caller tried to send something that breaks the protocol. Nothing was sent."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something that breaks the protocol (or exceeds a limit)."""
