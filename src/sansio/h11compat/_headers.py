"""h11's ``Headers``: a sequence of ``(lower-cased name, value)`` pairs with
``raw_items()`` giving the names as they were received or given.

A parsed message's headers wrap the core's tuple as it is (names already lower-cased,
values stripped) with the raw names the core kept beside it: no copy and no second
pass until someone asks for ``raw_items()``. Headers built by user code are converted
once, h11's way (``str`` accepted, names lower-cased, the given case kept for the
wire); their grammar is the core's to check when the event is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from ._util import bytesify

__all__ = ["Headers", "normalize_and_validate"]

Pairs = tuple[tuple[bytes, bytes], ...]


class Headers(Sequence[tuple[bytes, bytes]]):
    """Header fields as h11 gives them: iterate for ``(name, value)`` with the name
    lower-cased; ``raw_items()`` for the names in their original case."""

    __slots__ = ("_items", "_raw_names")

    def __init__(self, items: Pairs, raw_names: tuple[bytes, ...] | None = None) -> None:
        self._items = items
        self._raw_names = raw_names

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(self._items)

    @overload
    def __getitem__(self, index: int) -> tuple[bytes, bytes]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[bytes, bytes]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return self._items[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._items == other._items
        if not isinstance(other, Iterable):
            return NotImplemented
        return list(self._items) == list(other)

    __hash__ = None  # type: ignore[assignment]  # as h11's: compares equal to lists

    def __repr__(self) -> str:
        return f"<Headers({list(self._items)!r})>"

    def raw_items(self) -> list[tuple[bytes, bytes]]:
        """The fields with their names as received (or as given, for built events)."""
        raw = self._raw_names
        if raw is None:
            return list(self._items)
        return [(name, value) for name, (_, value) in zip(raw, self._items)]

    def wire(self) -> Pairs:
        """The fields as the core should write them: original-case names."""
        raw = self._raw_names
        if raw is None:
            return self._items
        return tuple((name, value) for name, (_, value) in zip(raw, self._items))


EMPTY = Headers(())


def normalize_and_validate(headers: object, _parsed: bool = False) -> Headers:
    """h11's conversion of user headers: each name and value through ``bytesify``,
    names lower-cased with the given case kept for the wire.

    h11 also checks the grammar here; the facade leaves that to the core, which checks
    every field when the event is sent (``LocalProtocolError``, nothing written).
    """
    if isinstance(headers, Headers):
        return headers
    if isinstance(headers, str | bytes | bytearray | memoryview) or not isinstance(
        headers, Iterable
    ):
        raise TypeError(f"headers must be (name, value) pairs, not {type(headers).__name__}")
    items = []
    raw_names = []
    differs = False
    for pair in headers:
        name, value = pair
        raw = bytesify(name)
        lower = raw.lower()
        differs = differs or lower != raw
        items.append((lower, bytesify(value)))
        raw_names.append(raw)
    return Headers(tuple(items), tuple(raw_names) if differs else None)
