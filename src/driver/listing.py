"""Directory listings, produced a batch of entries at a time (``driver.static`` asks).

A listing is read with ``os.scandir`` on a directory descriptor the static app has
already opened and checked (``fstat`` says it is a directory, whatever was at that path
a moment before), ``LISTING_BATCH`` entries at a time:

- a directory that fits in one batch is what most people list: it is sorted as
  ``python -m http.server`` sorts it (case-insensitively) and answered as one bytes
  body with a Content-Length;
- a larger one streams in directory order, an iterable body that the server pulls a
  batch at a time, only while the connection's output is below its high-water mark
  (see ``driver.exchange``). Sorting it would need every name in memory before the
  first byte goes out (8 MB for 100,000 names, per client), which is what a listing
  must not cost; the page says it is not sorted.

At most ``max_entries`` entries are listed; the page says so when it stops there. Names
are bytes on disk: a name that is not UTF-8 (``b"caf\\xe9.txt"``) is linked by its
bytes percent-encoded (``caf%E9.txt``, which the static app maps back to the same
bytes) and shown with its odd bytes escaped (``caf\\xe9.txt``), so that the page is
valid UTF-8 as it says it is.
"""

from __future__ import annotations

import html
import itertools
import os
import urllib.parse
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from os import _ScandirIterator

__all__ = ["LISTING_BATCH", "MAX_LISTING_ENTRIES", "Listing", "displayable", "list_directory"]

LISTING_BATCH: Final = 256
"""Entries read and formatted per pull: about 14 KB of HTML and 1 ms of the loop.
With 4 clients listing 100,000 entries at full speed the loop's longest round took
9 ms of CPU (p99 4.8 ms) at 256, 8.9 ms (p99 4.2 ms) at 128: the smaller batch buys
little, the larger one sorts more of the directories people list."""

MAX_LISTING_ENTRIES: Final = 10_000
"""The default bound on the entries of one listing: a page of about 1 MB, which a
browser still shows; past it the page says it stops there."""

_HEADERS: Final = ((b"Content-Type", b"text/html; charset=utf-8"),)


def displayable(name: str) -> str:
    """``name`` (a file system name, decoded with ``os.fsdecode``) as text that a UTF-8
    page can hold: bytes that are not UTF-8 shown as ``\\xNN``."""
    if name.isascii():
        return name
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _item(entry: os.DirEntry[str]) -> str:
    """The ``<li>`` line of one entry, marked as ``http.server`` marks them: a
    directory ``name/``, a symbolic link ``name@``."""
    name = entry.name
    try:
        is_dir = entry.is_dir()
        is_link = entry.is_symlink()
    except OSError:  # gone since it was read, or a link that leads nowhere
        is_dir = is_link = False
    link = name + "/" if is_dir else name
    shown = name + "@" if is_link else link
    href = urllib.parse.quote(link if link.isascii() else os.fsencode(link))
    return f'<li><a href="{href}">{html.escape(displayable(shown), quote=False)}</a></li>\n'


def _sort_key(entry: os.DirEntry[str]) -> str:
    return entry.name.lower()  # as http.server sorts


def _head(url_path: str, note: str) -> str:
    title = html.escape(f"Directory listing for {displayable(url_path)}", quote=False)
    return (
        '<!DOCTYPE HTML>\n<html lang="en">\n<head><meta charset="utf-8">\n'
        f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<hr>\n{note}<ul>\n"
    )


def _tail(cut: int) -> str:
    note = f"<p>The listing stops at its first {cut:,} entries.</p>\n" if cut else ""
    return f"</ul>\n{note}<hr>\n</body>\n</html>\n"


class Listing:
    """The iterable body of a listing larger than one batch: each item is the HTML of
    up to ``LISTING_BATCH`` entries. ``close()`` (the server calls it when the body is
    done or the connection dies) closes the directory."""

    __slots__ = ("_entries", "_fd", "_first", "_left", "_max")

    def __init__(
        self, fd: int, entries: _ScandirIterator[str], first: str, left: int, max_entries: int
    ) -> None:
        self._fd = fd
        self._entries: _ScandirIterator[str] | None = entries
        self._first: str | None = first
        self._left = left  # entries that may still be listed
        self._max = max_entries

    def __iter__(self) -> Listing:
        return self

    def __next__(self) -> bytes:
        first, self._first = self._first, None
        if first is not None:
            return first.encode()
        entries = self._entries
        if entries is None:
            raise StopIteration
        batch = list(itertools.islice(entries, min(LISTING_BATCH, self._left)))
        self._left -= len(batch)
        html_lines = "".join(map(_item, batch))
        if not self._left or len(batch) < LISTING_BATCH:
            cut = self._max if not self._left and next(entries, None) is not None else 0
            self.close()
            html_lines += _tail(cut)
        return html_lines.encode()

    def close(self) -> None:
        entries, self._entries = self._entries, None
        if entries is not None:
            entries.close()
            os.close(self._fd)


def list_directory(fd: int, url_path: str, max_entries: int) -> bytes | Listing:
    """The listing of the open directory ``fd``, which it takes over: bytes if the
    directory fits in one batch (or ``max_entries``), else a ``Listing``. Raises
    ``OSError`` if the directory cannot be read (``fd`` is closed then too)."""
    try:
        entries = os.scandir(fd)
    except BaseException:
        os.close(fd)
        raise
    listing = None
    try:
        first = min(LISTING_BATCH, max_entries)
        # One more than a batch: whether the directory goes on past it.
        batch = list(itertools.islice(entries, first + 1))
        if len(batch) <= first or first == max_entries:
            # Formatted before the directory closes: a symlink's target is looked up
            # through it.
            cut = max_entries if len(batch) > first else 0
            lines = "".join(map(_item, sorted(batch[:first], key=_sort_key)))
            return (_head(url_path, "") + lines + _tail(cut)).encode()
        note = (
            f"<p>More than {LISTING_BATCH:,} entries: listed in the order the "
            "directory holds them, not sorted.</p>\n"
        )
        first_html = _head(url_path, note) + "".join(map(_item, batch))
        listing = Listing(fd, entries, first_html, max_entries - len(batch), max_entries)
        return listing
    finally:
        if listing is None:
            entries.close()
            os.close(fd)
