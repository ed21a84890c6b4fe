"""h11's small shared pieces: its sentinel type, its error classes and ``bytesify``.

h11's sentinels are classes whose type is themselves (``type(h11.PAUSED) is
h11.PAUSED``), and its users rely on that: uvicorn tests ``type(event) is
h11.NEED_DATA``, httpcore ``isinstance(event, h11.PAUSED)``. So the facade's are built
the same way, not borrowed from the core.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError", "Sentinel", "bytesify"]


class Sentinel(type):
    """The metaclass of h11's constants: each is a class that is an instance of itself."""

    def __new__(
        cls: type[Sentinel], name: str, bases: tuple[type, ...], namespace: dict[str, Any]
    ) -> Sentinel:
        assert bases == (Sentinel,)
        value = super().__new__(cls, name, bases, namespace)
        value.__class__ = value  # type: ignore[assignment]
        return value

    def __repr__(self) -> str:
        return self.__name__


class ProtocolError(Exception):
    """h11's base error: ``error_status_hint`` is the status a server might answer with.

    Abstract, as in h11: raise ``LocalProtocolError`` or ``RemoteProtocolError``.
    """

    def __init__(self, msg: str, error_status_hint: int = 400) -> None:
        if type(self) is ProtocolError:
            raise TypeError("tried to directly instantiate ProtocolError")
        Exception.__init__(self, msg)
        self.error_status_hint = error_status_hint


class LocalProtocolError(ProtocolError):
    """We tried to send something HTTP/1.1 does not allow; nothing was sent."""

    def _reraise_as_remote_protocol_error(self) -> NoReturn:
        # h11's own helper, kept because code written against h11 may call it.
        self.__class__ = RemoteProtocolError  # type: ignore[assignment]
        raise self


class RemoteProtocolError(ProtocolError):
    """The peer sent something HTTP/1.1 does not allow (or beyond a limit)."""


def bytesify(value: object) -> bytes:
    """What h11 accepts for a bytes field: bytes-like objects, and ``str`` of ASCII."""
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode("ascii")
    if isinstance(value, int):
        raise TypeError("expected bytes-like object, not int")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"expected bytes-like object, not {type(value).__name__}")
