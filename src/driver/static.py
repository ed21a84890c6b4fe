"""Static files from one directory, as ``python -m http.server`` serves them, and more.

- ``/dir/`` serves ``dir/index.html`` if present, else an HTML listing; ``/dir`` is
  redirected (301) to ``/dir/`` so that relative links in the listing resolve; a file
  asked for as a directory (``/file.txt/``) is 404.
- Content-Type from ``mimetypes``; ``Last-Modified`` with ``If-Modified-Since`` and an
  ``ETag`` with ``If-None-Match`` (304; If-None-Match wins, RFC 9110 §13.2.2); one
  ``Range: bytes=...`` gives 206 with ``Content-Range``, an unsatisfiable one 416
  (several ranges at once are answered whole, with 200, which RFC 9110 §14.2 allows).
  A Range with an ``If-Range`` that is neither exactly our Last-Modified nor our
  ETag is ignored, and the whole file is sent (RFC 9110 §13.1.5). Dates are HTTP-dates
  in any of the three forms of RFC 9110 §5.6.7; anything else is not a date, and a
  condition with an invalid date is ignored.
- GET and HEAD only (405 otherwise); 404 and 403 with small bodies.
- Nothing outside the root is ever served: the path is percent-decoded first, so
  ``%2e%2e`` is ``..``; ``..`` segments, NUL bytes and backslashes are refused; and the
  real path (symlinks resolved) must stay under the real root, for a directory's
  ``index.html`` as for any other file.

Small files (up to ``inline_limit`` bytes, 64 KiB by default) are read into the reply,
so that the head and the body leave in one ``send``: a body sent as a second write
after the head waits for the client's delayed ACK when Nagle is on (about 40 ms).
Larger files are open descriptors that the server sends with ``os.sendfile``.

Hot files are cached (up to ``CACHE_ENTRIES``): for a request path, the resolved real
path, the prepared reply headers and, for small files, the content. Each hit checks
``os.stat`` of the real path against the cached modification time, size and inode,
and the path is resolved again (symlinks re-checked against the root) when its entry
is older than ``RESOLVE_SECONDS``.
"""

from __future__ import annotations

import email.utils
import errno
import html
import mimetypes
import os
import stat
import time
import urllib.parse
from typing import Final

from . import conditions
from .app import FileBody, Headers, HTTPRequest, Reply
from .conditions import etag_matches
from .responses import error_reply

__all__ = ["StaticFiles"]

_http_date = conditions.http_date
_parse_range = conditions.parse_range
_ALLOWED: Final = (b"GET", b"HEAD")
_CONDITIONS: Final = frozenset({b"range", b"if-none-match", b"if-modified-since"})
CACHE_ENTRIES: Final = 256
RESOLVE_SECONDS: Final = 1.0
# Out of descriptors (the process's or the system's): the file is there, the server
# cannot open it now. 503 with Retry-After, never a 404 that says it does not exist.
_NO_DESCRIPTORS: Final = frozenset({errno.EMFILE, errno.ENFILE})


def _unavailable() -> Reply:
    reply = error_reply(503)
    return Reply(503, (*reply.headers, (b"retry-after", b"1")), reply.body)


def _content_type(path: str) -> bytes:
    kind, encoding = mimetypes.guess_type(path)
    if kind is None or encoding is not None:
        # A .gz served as-is is an opaque byte stream, as http.server does.
        return b"application/octet-stream"
    if kind.startswith("text/"):
        return kind.encode() + b"; charset=utf-8"
    return kind.encode()


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
    """An application serving the files under ``root``."""

    takes_body = False  # request bodies are discarded, never stored (driver.app)

    def __init__(self, root: str | os.PathLike[str], *, inline_limit: int = 64 * 1024) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(f"not a directory: {root}")
        # What every path under the root starts with ("/" itself when serving "/").
        self._prefix = os.path.join(self.root, "")
        self.inline_limit = inline_limit
        self._cache: dict[bytes, _Entry] = {}
        # mimetypes reads /etc/mime.types on first use: do it now, not under load,
        # when the process may have no descriptor left to open it with.
        mimetypes.init()

    def __call__(self, request: HTTPRequest) -> Reply:
        if request.method not in _ALLOWED:
            reply = error_reply(405)
            return Reply(405, (*reply.headers, (b"allow", b"GET, HEAD")), reply.body)
        key = request.target.partition(b"?")[0]
        entry = self._cache.get(key)
        if entry is not None:
            cached = self._cached(request, key, entry)
            if cached is not None:
                return cached
        url_path = self._url_path(request.target)
        if url_path is None:
            return error_reply(400)
        path = self._resolve(url_path)
        if path is None:
            return error_reply(403)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return error_reply(404)
        except NotADirectoryError:
            return error_reply(404)
        except PermissionError:
            return error_reply(403)
        except OSError:
            return error_reply(404)
        if stat.S_ISDIR(st.st_mode):
            if not url_path.endswith("/"):
                # One leading slash: "//host/" would send a browser to another host
                # (an open redirect; CPython's http.server had it too, gh-87389).
                location = urllib.parse.quote(
                    "/" + url_path.lstrip("/") + "/", safe="/~!$&'()*+,;=:@"
                )
                body = b"Moved\n"
                return Reply(
                    301,
                    ((b"location", location.encode()), (b"content-type", b"text/plain")),
                    body,
                )
            # index.html may be a symlink too: it is resolved and checked like any path.
            index = self._resolve(url_path + "index.html")
            if index is None:
                return error_reply(403)
            try:
                st = os.stat(index)
            except OSError:
                return self._listing(path, url_path)
            if not stat.S_ISREG(st.st_mode):
                return self._listing(path, url_path)
            path = index
        elif not stat.S_ISREG(st.st_mode) or url_path.endswith(("/", "/.")):
            return error_reply(404)  # a special file, or a file asked for as a directory
        return self._file(request, path, key)

    def _cached(self, request: HTTPRequest, key: bytes, entry: _Entry) -> Reply | None:
        """The reply from a valid cache entry, or ``None`` to take the full path."""
        if time.monotonic() - entry.resolved_at > RESOLVE_SECONDS:
            return None
        try:
            st = os.stat(entry.path)
        except OSError:
            st = None
        if st is None or (st.st_mtime_ns, st.st_size, st.st_ino) != entry.identity:
            del self._cache[key]
            return None
        for name, _ in request.headers:  # one pass: most requests have no condition
            if name in _CONDITIONS:
                if request.header(b"range") is not None:
                    return None
                not_modified = self._not_modified(request, entry.mtime, entry.etag, entry.headers)
                if not_modified is not None:
                    return not_modified
                break
        if entry.reply is not None:
            return entry.reply
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        st = os.fstat(fd)
        if (st.st_mtime_ns, st.st_size, st.st_ino) != entry.identity:
            # Replaced between the stat and the open (a symlink out of the root?): what
            # was opened is not what was checked.
            os.close(fd)
            self._cache.pop(key, None)
            return None
        return Reply(200, entry.headers, FileBody(fd, 0, entry.identity[1]))

    @staticmethod
    def _not_modified(
        request: HTTPRequest, mtime: int, etag: bytes, headers: Headers
    ) -> Reply | None:
        """304 if a condition of the request says the client's copy is current."""
        match = request.header(b"if-none-match")
        if match is not None:
            # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
            if etag_matches(match, etag):
                return Reply(304, headers[1:])
            return None
        since = request.header(b"if-modified-since")
        if since is not None:
            when = _http_date(since)
            if when is not None and mtime <= when:
                return Reply(304, headers[1:])
        return None

    @staticmethod
    def _url_path(target: bytes) -> str | None:
        """The percent-decoded path of ``target``, or ``None`` if it is not a path."""
        if target.startswith((b"http://", b"https://")):
            # absolute-form, as proxies send it (RFC 9112 §3.2.2): keep the path.
            slash = target.find(b"/", target.find(b"//") + 2)
            target = target[slash:] if slash != -1 else b"/"
        if not target.startswith(b"/"):
            return None
        raw = target.split(b"?", 1)[0].split(b"#", 1)[0]
        path = urllib.parse.unquote_to_bytes(raw)
        if b"\0" in path or b"\\" in path:
            return None
        try:
            return path.decode("utf-8")
        except UnicodeDecodeError:
            return None

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

    def _file(self, request: HTTPRequest, path: str, key: bytes) -> Reply:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except PermissionError:
            return error_reply(403)
        except OSError as exc:
            return _unavailable() if exc.errno in _NO_DESCRIPTORS else error_reply(404)
        try:
            st = os.fstat(fd)
            size = st.st_size
            mtime = int(st.st_mtime)
            etag = b'"%x-%x"' % (st.st_mtime_ns, size)
            headers: Headers = (
                (b"content-type", _content_type(path)),
                (b"last-modified", email.utils.formatdate(mtime, usegmt=True).encode()),
                (b"etag", etag),
                (b"accept-ranges", b"bytes"),
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
            not_modified = self._not_modified(request, mtime, etag, headers)
            if not_modified is not None:
                os.close(fd)
                return not_modified
            first, count, status = 0, size, 200
            range_header = request.header(b"range")
            if_range = request.header(b"if-range")
            if range_header is not None and (
                if_range is None or if_range == etag or _http_date(if_range) == mtime
            ):
                parsed = _parse_range(range_header, size)
                if parsed is False:
                    os.close(fd)
                    reply = error_reply(416)
                    return Reply(
                        416,
                        (*reply.headers, (b"content-range", b"bytes */%d" % size)),
                        reply.body,
                    )
                if isinstance(parsed, tuple):
                    first, last = parsed
                    count = last - first + 1
                    status = 206
                    headers += ((b"content-range", b"bytes %d-%d/%d" % (first, last, size)),)
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

    def _listing(self, path: str, url_path: str) -> Reply:
        try:
            names = sorted(os.listdir(path), key=str.lower)
        except PermissionError:
            return error_reply(403)
        except OSError as exc:
            return _unavailable() if exc.errno in _NO_DESCRIPTORS else error_reply(404)
        title = html.escape(f"Directory listing for {url_path}", quote=False)
        lines = [
            "<!DOCTYPE HTML>",
            '<html lang="en">',
            '<head><meta charset="utf-8">',
            f"<title>{title}</title></head>",
            f"<body>\n<h1>{title}</h1>\n<hr>\n<ul>",
        ]
        for name in names:
            full = os.path.join(path, name)
            display = link = name
            if os.path.isdir(full):
                display = link = name + "/"
            if os.path.islink(full):
                display = name + "@"
            href = urllib.parse.quote(link, errors="surrogatepass")
            lines.append(f'<li><a href="{href}">{html.escape(display, quote=False)}</a></li>')
        lines.append("</ul>\n<hr>\n</body>\n</html>\n")
        body = "\n".join(lines).encode("utf-8", "surrogateescape")
        headers: Headers = ((b"content-type", b"text/html; charset=utf-8"),)
        return Reply(200, headers, body)
