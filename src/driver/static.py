"""Static files from one directory, as ``python -m http.server`` serves them, and more.

- ``/dir/`` serves ``dir/index.html`` if present, else an HTML listing (produced a batch
  at a time, bounded in entries: ``driver.listing``); ``/dir`` is redirected (301) to
  ``/dir/``, its query kept, so that relative links in the listing resolve; a file
  asked for as a directory (``/file.txt/``) is 404.
- Content-Type from ``mimetypes``; ``Last-Modified`` and a strong ``ETag``, with the
  preconditions of RFC 9110 §13 (If-Match and If-Unmodified-Since: 412; If-None-Match
  and If-Modified-Since: 304), one ``Range: bytes=...`` (206 with ``Content-Range``,
  an unsatisfiable one 416; several ranges at once are answered whole, with 200, which
  RFC 9110 §14.2 allows) and ``If-Range`` (``driver.conditions``, which also combines
  a field sent on several lines).
- GET and HEAD only (405 otherwise); 404 and 403 with small bodies.
- The target's path is percent-decoded to bytes, the file system's own names:
  ``/caf%E9.txt`` is the file named ``b"caf\\xe9.txt"``, UTF-8 or not.
- Nothing outside the root is ever served: ``%2e%2e`` is ``..``; ``..`` segments, NUL
  bytes and backslashes are refused; the real path (symlinks resolved) must stay under
  the real root, for a directory's ``index.html`` as for any other file; and what is
  opened is checked to be that path (below).

The loop never waits on the file system for anything but the disk itself. Every path
is opened with ``O_NONBLOCK`` (a FIFO or a device swapped in after the path was
resolved must not hold the loop in ``open``) and ``O_NOFOLLOW`` (the path is already
resolved: a symlink there now is a swap), and what is served is decided on the
``fstat`` of the descriptor opened, never on an earlier ``stat``: a regular file is
served, a directory listed, anything else is 404. The descriptor's own path
(``/proc/self/fd``) must be the resolved one, so that a directory swapped for a
symlink out of the root between the resolution and the open is not followed. A
listing reads the directory it opened (``os.scandir`` of the descriptor). Reading a
small regular file (``inline_limit``) and resolving a path happen inline, from the
page cache: nginx does the same without aio, and a server that moved them to a thread
would pay a thread hop on every request for a wait the page cache makes rare.

Small files (up to ``inline_limit`` bytes, 64 KiB by default) are read into the reply,
so that the head and the body leave in one ``send``: a body sent as a second write
after the head waits for the client's delayed ACK when Nagle is on (about 40 ms).
Larger files are open descriptors that the server sends with ``os.sendfile``.

Hot files are cached (up to ``CACHE_ENTRIES``): for a request path, the resolved real
path, the prepared reply headers and, for small files, the content. A hit on a small
file checks ``os.stat`` of the real path against the cached modification time, size
and inode; a hit on a large one opens it (as above) and checks its ``fstat``. The path
is resolved again (symlinks re-checked against the root) when its entry is older than
``RESOLVE_SECONDS``.
"""

from __future__ import annotations

import email.utils
import errno
import mimetypes
import os
import re
import stat
import time
import urllib.parse
from typing import Final

from . import conditions
from .app import FileBody, Headers, HTTPRequest, Reply
from .listing import MAX_LISTING_ENTRIES, list_directory
from .server_replies import error_reply

__all__ = ["StaticFiles"]

_ALLOWED: Final = (b"GET", b"HEAD")
_CONDITIONS: Final = conditions.CONDITION_FIELDS - {b"if-range"}
CACHE_ENTRIES: Final = 256
RESOLVE_SECONDS: Final = 1.0
# Never blocks in open (FIFOs, devices), never follows a symlink the resolution did not
# see, never makes a terminal ours.
_OPEN_FLAGS: Final = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
# Out of descriptors (the process's or the system's): the file is there, the server
# cannot open it now. 503 with Retry-After, never a 404 that says it does not exist.
_NO_DESCRIPTORS: Final = frozenset({errno.EMFILE, errno.ENFILE})
# Where the kernel says what an open descriptor is (absent without /proc: then the
# check is skipped, and the resolution alone guards the root).
_PROC_FD: Final = "/proc/self/fd/" if os.path.isdir("/proc/self/fd") else ""
# RFC 3986 §3.2: the authority ends at the first "/", "?" or "#".
_AUTHORITY_END: Final = re.compile(rb"[/?#]")
_SCHEMES: Final = (b"http", b"https")


def _unavailable() -> Reply:
    reply = error_reply(503)
    return Reply(503, (*reply.headers, (b"Retry-After", b"1")), reply.body)


def _content_type(path: str) -> bytes:
    kind, encoding = mimetypes.guess_type(path)
    if kind is None or encoding is not None:
        # A .gz served as-is is an opaque byte stream, as http.server does.
        return b"application/octet-stream"
    if kind.startswith("text/"):
        return kind.encode() + b"; charset=utf-8"
    return kind.encode()


def _condition_reply(status: int, headers: Headers) -> Reply:
    """304 (with the validators, not the Content-Type) or 412."""
    return Reply(304, headers[1:]) if status == 304 else error_reply(status)


def _split_target(target: bytes) -> tuple[bytes, bytes | None] | None:
    """``(path, query)`` of an origin-form or absolute-form request target, still
    percent-encoded (``query`` is ``None`` without a ``?``); ``None`` for any other
    form. Schemes are compared case-insensitively (RFC 3986 §3.1), so ``HTTP://host/a``
    is ``/a``. (The static app's own reading, until the core gives the path of a
    target: issue 15.)"""
    if not target.startswith(b"/"):
        scheme, sep, rest = target.partition(b"://")
        if not sep or scheme.lower() not in _SCHEMES:
            return None
        end = _AUTHORITY_END.search(rest)
        target = rest[end.start() :] if end is not None else b""
        if not target.startswith(b"/"):
            target = b"/" + target  # path-abempty: an empty path is "/"
    target = target.partition(b"#")[0]
    path, question, query = target.partition(b"?")
    return path, query if question else None


class _Entry:
    """What is known about one hot file."""

    __slots__ = ("etag", "headers", "identity", "mtime", "path", "reply", "resolved_at")

    def __init__(
        self,
        path: str,
        identity: tuple[int, int, int],
        mtime: int,
        etag: bytes,
        headers: Headers,
        reply: Reply | None,
        resolved_at: float,
    ) -> None:
        self.path = path
        self.identity = identity  # (st_mtime_ns, st_size, st_ino)
        self.mtime = mtime
        self.etag = etag
        self.headers = headers  # content-type, last-modified, etag, accept-ranges
        self.reply = reply  # the whole 200 reply of a small file, else None
        self.resolved_at = resolved_at


class StaticFiles:
    """An application serving the files under ``root``. ``inline_limit``: files up to
    this size are read into the reply; ``max_listing_entries``: the most entries one
    directory listing shows (``driver.listing.MAX_LISTING_ENTRIES``, 10,000)."""

    takes_body = False  # request bodies are discarded, never stored (driver.app)

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        inline_limit: int = 64 * 1024,
        max_listing_entries: int = MAX_LISTING_ENTRIES,
    ) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(f"not a directory: {root}")
        if max_listing_entries < 1:
            raise ValueError(f"max_listing_entries must be >= 1, got {max_listing_entries}")
        # What every path under the root starts with ("/" itself when serving "/").
        self._prefix = os.path.join(self.root, "")
        self.inline_limit = inline_limit
        self.max_listing_entries = max_listing_entries
        self._cache: dict[bytes, _Entry] = {}
        # mimetypes reads /etc/mime.types on first use: do it now, not under load,
        # when the process may have no descriptor left to open it with.
        mimetypes.init()

    def __call__(self, request: HTTPRequest) -> Reply:
        if request.method not in _ALLOWED:
            reply = error_reply(405)
            return Reply(405, (*reply.headers, (b"Allow", b"GET, HEAD")), reply.body)
        key = request.target.partition(b"?")[0]
        entry = self._cache.get(key)
        if entry is not None:
            cached = self._cached(request, key, entry)
            if cached is not None:
                return cached
        parts = _split_target(request.target)
        url_path = None if parts is None else self._url_path(parts[0])
        if parts is None or url_path is None:
            return error_reply(400)
        path = self._resolve(url_path)
        if path is None:
            return error_reply(403)
        opened = self._open(path)
        if isinstance(opened, Reply):
            return opened
        fd, st = opened
        if stat.S_ISREG(st.st_mode):
            if url_path.endswith(("/", "/.")):
                os.close(fd)
                return error_reply(404)  # a file asked for as a directory
            return self._file(request, fd, st, path, key)
        if not stat.S_ISDIR(st.st_mode):
            os.close(fd)
            return error_reply(404)  # a FIFO, a device, a socket: not a file
        return self._directory(request, fd, url_path, parts[1], key)

    def _directory(
        self, request: HTTPRequest, fd: int, url_path: str, query: bytes | None, key: bytes
    ) -> Reply:
        """The redirect, the index.html or the listing of the directory open on ``fd``
        (which it takes over; -1: a directory we may enter but not read)."""
        try:
            if not url_path.endswith("/"):
                return self._redirect(url_path, query)
            # index.html may be a symlink too: it is resolved and checked like any path.
            index = self._resolve(url_path + "index.html")
            if index is None:
                return error_reply(403)
            opened = self._open(index)
            if isinstance(opened, Reply):
                if opened.status != 404:
                    return opened  # one we may not read, or no descriptor left
            elif stat.S_ISREG(opened[1].st_mode):
                return self._file(request, opened[0], opened[1], index, key)
            elif opened[0] >= 0:
                os.close(opened[0])  # not a file: the directory is listed
            if fd < 0:
                return error_reply(403)
            listed, fd = fd, -1
            return self._listing(listed, url_path)
        finally:
            if fd >= 0:
                os.close(fd)

    def _open(self, path: str) -> tuple[int, os.stat_result] | Reply:
        """An open descriptor on ``path`` and its ``fstat``, or the error reply. A
        directory that may be entered but not read comes back as ``-1`` and its stat
        (enough for a redirect or its index.html)."""
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except PermissionError:
            try:
                st = os.stat(path)
            except OSError:
                return error_reply(403)
            return (-1, st) if stat.S_ISDIR(st.st_mode) else error_reply(403)
        except OSError as exc:
            # ENOENT, ENOTDIR; ELOOP (a symlink appeared since the path was resolved);
            # ENXIO (a socket): not a file we serve.
            if exc.errno in _NO_DESCRIPTORS and os.path.lexists(path):
                return _unavailable()
            return error_reply(404)
        try:
            st = os.fstat(fd)
            if _PROC_FD and os.readlink(_PROC_FD + str(fd)) != path:
                # A directory on the way was swapped for a symlink after the path was
                # resolved: what was opened is somewhere else.
                os.close(fd)
                return error_reply(404)
        except BaseException:
            os.close(fd)
            raise
        return fd, st

    def _redirect(self, url_path: str, query: bytes | None) -> Reply:
        # One leading slash: "//host/" would send a browser to another host (an open
        # redirect; CPython's http.server had it too, gh-87389). The query goes along.
        location = urllib.parse.quote(
            os.fsencode("/" + url_path.lstrip("/") + "/"), safe="/~!$&'()*+,;=:@"
        ).encode()
        if query is not None:
            location += b"?" + query
        return Reply(301, ((b"Location", location), (b"Content-Type", b"text/plain")), b"Moved\n")

    def _cached(self, request: HTTPRequest, key: bytes, entry: _Entry) -> Reply | None:
        """The reply from a valid cache entry, or ``None`` to take the full path."""
        if time.monotonic() - entry.resolved_at > RESOLVE_SECONDS:
            return None
        fd = -1
        try:
            if entry.reply is not None:
                st = os.stat(entry.path)  # a small file is not opened: its content is here
            else:
                fd = os.open(entry.path, _OPEN_FLAGS)
                st = os.fstat(fd)
        except OSError:
            st = None
        if st is None or (st.st_mtime_ns, st.st_size, st.st_ino) != entry.identity:
            # Changed, gone, or replaced between the resolution and the open (a
            # symlink out of the root?): what was opened is not what was checked.
            if fd >= 0:
                os.close(fd)
            self._cache.pop(key, None)
            return None
        for name, _ in request.headers:  # one pass: most requests have no condition
            if name in _CONDITIONS:  # If-Range alone is nothing without a Range
                status = conditions.precondition(request.headers, entry.mtime, entry.etag)
                if status is not None:
                    if fd >= 0:
                        os.close(fd)
                    return _condition_reply(status, entry.headers)
                if any(name == b"range" for name, _ in request.headers):
                    if fd >= 0:
                        os.close(fd)
                    return None  # the full path answers ranges
                break
        if entry.reply is not None:
            return entry.reply
        return Reply(200, entry.headers, FileBody(fd, 0, entry.identity[1]))

    @staticmethod
    def _url_path(raw: bytes) -> str | None:
        """The percent-decoded path, as the file system names it, or ``None`` if it is
        not one: percent-decoded to bytes, then decoded as ``os`` decodes names, so
        that a name that is not UTF-8 maps back to its own bytes."""
        path = urllib.parse.unquote_to_bytes(raw)
        if b"\0" in path or b"\\" in path:
            return None
        return os.fsdecode(path)

    def _resolve(self, url_path: str) -> str | None:
        """The real file path for ``url_path``, or ``None`` if it would leave the root."""
        parts = [part for part in url_path.split("/") if part and part != "."]
        if ".." in parts:
            return None
        path = os.path.join(self.root, *parts)
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self._prefix):
            return None
        return real

    def _file(
        self, request: HTTPRequest, fd: int, st: os.stat_result, path: str, key: bytes
    ) -> Reply:
        """The reply for the regular file open on ``fd`` (which it takes over)."""
        try:
            size = st.st_size
            mtime = int(st.st_mtime)
            etag = b'"%x-%x"' % (st.st_mtime_ns, size)
            headers: Headers = (
                (b"Content-Type", _content_type(path)),
                (b"Last-Modified", email.utils.formatdate(mtime, usegmt=True).encode()),
                (b"ETag", etag),
                (b"Accept-Ranges", b"bytes"),
            )
            content = None
            if size <= self.inline_limit:
                content = os.pread(fd, size, 0) if size else b""
                if len(content) != size:
                    content = None  # changing under us: send it by sendfile, uncached
            entry = _Entry(
                path,
                (st.st_mtime_ns, size, st.st_ino),
                mtime,
                etag,
                headers,
                None if content is None else Reply(200, headers, content),
                time.monotonic(),
            )
            if content is not None or size > self.inline_limit:
                if len(self._cache) >= CACHE_ENTRIES:
                    self._cache.clear()
                self._cache[key] = entry
            status = conditions.precondition(request.headers, mtime, etag)
            if status is not None:
                os.close(fd)
                return _condition_reply(status, headers)
            first, count, status = 0, size, 200
            parsed = conditions.requested_range(request.headers, size, mtime, etag)
            if parsed is False:
                os.close(fd)
                reply = error_reply(416)
                return Reply(
                    416, (*reply.headers, (b"Content-Range", b"bytes */%d" % size)), reply.body
                )
            if isinstance(parsed, tuple):
                first, last = parsed
                count = last - first + 1
                status = 206
                headers += ((b"Content-Range", b"bytes %d-%d/%d" % (first, last, size)),)
        except BaseException:
            os.close(fd)
            raise
        if status == 200 and entry.reply is not None:
            os.close(fd)
            return entry.reply
        if content is not None:
            os.close(fd)
            return Reply(status, headers, content[first : first + count])
        if count == 0:
            os.close(fd)
            return Reply(status, headers, b"")
        return Reply(status, headers, FileBody(fd, first, count))

    def _listing(self, fd: int, url_path: str) -> Reply:
        """The listing of the directory open on ``fd`` (which it takes over)."""
        try:
            body = list_directory(fd, url_path, self.max_listing_entries)
        except PermissionError:
            return error_reply(403)
        except OSError as exc:
            return _unavailable() if exc.errno in _NO_DESCRIPTORS else error_reply(404)
        return Reply(200, ((b"Content-Type", b"text/html; charset=utf-8"),), body)
