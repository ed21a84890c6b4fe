"""Serving a directory: what ``python -m driver DIR`` answers, checked with real curl.

Every test runs against one server per epoll trigger mode (level and edge) and, where
the protocol version matters, with ``curl --http1.0`` and ``--http1.1``.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import re
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_helpers import (
    DOCROOT_FILES,
    ServerProcess,
    curl,
    docroot,
    raw_exchange,
    read_response,
    running_server,
    trigger,
)

__all__ = ["docroot", "trigger"]  # fixtures used by this module

VERSIONS = ["--http1.0", "--http1.1"]


@pytest.fixture(scope="module")
def server(docroot: Path, trigger: list[str]) -> Iterator[ServerProcess]:
    with running_server(str(docroot), *trigger) as proc:
        yield proc


@pytest.mark.parametrize("version", VERSIONS)
def test_files_are_served_whole_with_their_content_type(
    server: ServerProcess, version: str
) -> None:
    expected = {
        "/small.txt": b"text/plain; charset=utf-8",
        "/style.css": b"text/css; charset=utf-8",
        "/data.json": b"application/json",
        "/index.html": b"text/html; charset=utf-8",
    }
    for path, content_type in expected.items():
        status, headers, body = curl(server.url(path), version)
        assert status == 200
        assert body == DOCROOT_FILES[path.lstrip("/")]
        assert headers[b"content-type"] == content_type
        assert headers[b"content-length"] == str(len(body)).encode()
        assert b"last-modified" in headers


@pytest.mark.parametrize("version", VERSIONS)
def test_one_mebibyte_file_arrives_intact(
    server: ServerProcess, docroot: Path, version: str
) -> None:
    status, headers, body = curl(server.url("/big.bin"), version)
    assert status == 200
    assert headers[b"content-length"] == b"1048576"
    assert (
        hashlib.sha256(body).digest() == hashlib.sha256((docroot / "big.bin").read_bytes()).digest()
    )


def test_empty_file_has_zero_length(server: ServerProcess) -> None:
    status, headers, body = curl(server.url("/empty.txt"))
    assert (status, headers[b"content-length"], body) == (200, b"0", b"")


def test_root_serves_index_html(server: ServerProcess) -> None:
    status, _, body = curl(server.url("/"))
    assert status == 200
    assert body == DOCROOT_FILES["index.html"]


def test_directory_without_index_is_listed(server: ServerProcess) -> None:
    status, headers, body = curl(server.url("/sub/"))
    assert status == 200
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert b'<a href="a%20b.txt">a b.txt</a>' in body
    assert b'<a href="nested/">nested/</a>' in body


def test_directory_without_slash_is_redirected(server: ServerProcess) -> None:
    status, headers, _ = curl(server.url("/sub"))
    assert status == 301
    assert headers[b"location"] == b"/sub/"


def test_percent_encoded_names_are_decoded(server: ServerProcess) -> None:
    status, _, body = curl(server.url("/sub/a%20b.txt"))
    assert (status, body) == (200, b"spaced name\n")


def test_missing_file_is_404_with_small_body(server: ServerProcess) -> None:
    status, _, body = curl(server.url("/no/such/file"))
    assert status == 404
    assert body == b"404 Not Found\n"


def test_head_sends_the_headers_without_the_body(server: ServerProcess) -> None:
    status, headers, body = curl(server.url("/big.bin"), "-I")
    assert status == 200
    assert headers[b"content-length"] == b"1048576"
    assert body == b""


def test_if_modified_since_gives_304(server: ServerProcess, docroot: Path) -> None:
    mtime = int((docroot / "small.txt").stat().st_mtime)
    since = email.utils.formatdate(mtime, usegmt=True)
    status, _, body = curl(server.url("/small.txt"), "-H", f"If-Modified-Since: {since}")
    assert (status, body) == (304, b"")
    older = email.utils.formatdate(mtime - 3600, usegmt=True)
    status, _, body = curl(server.url("/small.txt"), "-H", f"If-Modified-Since: {older}")
    assert (status, body) == (200, DOCROOT_FILES["small.txt"])


@pytest.mark.parametrize("version", VERSIONS)
def test_single_range_gives_206(server: ServerProcess, docroot: Path, version: str) -> None:
    big = (docroot / "big.bin").read_bytes()
    status, headers, body = curl(server.url("/big.bin"), version, "-r", "1000-200999")
    assert status == 206
    assert headers[b"content-range"] == b"bytes 1000-200999/1048576"
    assert body == big[1000:201000]
    status, headers, body = curl(server.url("/big.bin"), version, "-r", "-100")
    assert (status, body) == (206, big[-100:])
    status, headers, body = curl(server.url("/small.txt"), version, "-r", "6-")
    assert (status, body) == (206, b"from h10\n")


def test_unsatisfiable_range_gives_416(server: ServerProcess) -> None:
    status, headers, _ = curl(server.url("/small.txt"), "-r", "1000-2000")
    assert status == 416
    assert headers[b"content-range"] == b"bytes */15"


def test_several_ranges_are_answered_whole(server: ServerProcess) -> None:
    status, _, body = curl(server.url("/small.txt"), "-r", "0-1,3-4")
    assert (status, body) == (200, DOCROOT_FILES["small.txt"])


def test_other_methods_get_405(server: ServerProcess) -> None:
    status, headers, _ = curl(server.url("/small.txt"), "-X", "DELETE")
    assert status == 405
    assert headers[b"allow"] == b"GET, HEAD"


@pytest.mark.parametrize(
    "target",
    [
        b"/../secret.txt",
        b"/sub/../../secret.txt",
        b"/%2e%2e/secret.txt",
        b"/%2E%2E/%2e%2e/etc/passwd",
        b"/sub/%2e%2e%2f%2e%2e%2fsecret.txt",
        b"/escape.txt",
        b"/escape_dir/secret.txt",
    ],
)
def test_nothing_outside_the_root_is_served(server: ServerProcess, target: bytes) -> None:
    response = raw_exchange(server.port, b"GET " + target + b" HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.0 403 "), response[:80]
    assert b"secret" not in response
    assert b"root:" not in response


def test_symlink_inside_the_root_is_followed(server: ServerProcess) -> None:
    status, _, body = curl(server.url("/inside_link.txt"))
    assert (status, body) == (200, DOCROOT_FILES["small.txt"])


def test_nul_byte_in_path_is_refused(server: ServerProcess) -> None:
    response = raw_exchange(server.port, b"GET /small.txt%00.html HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.0 400 ")


def test_special_files_are_not_opened(server: ServerProcess) -> None:
    # Opening a FIFO would block the loop until a writer came: it is not a file.
    status, _, _ = curl(server.url("/fifo"))
    assert status == 404


def test_absolute_form_target_is_served(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"GET http://example.com/small.txt HTTP/1.1\r\nHost: example.com\r\n"
            b"Connection: close\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 ")
    assert data.endswith(DOCROOT_FILES["small.txt"])


def test_index_html_symlinked_out_of_the_root_is_not_served(server: ServerProcess) -> None:
    for target in (b"/outdir/", b"/outdir//", b"/outdir/./"):
        response = raw_exchange(server.port, b"GET " + target + b" HTTP/1.0\r\n\r\n")
        assert response.startswith(b"HTTP/1.0 403 "), response[:80]
        assert b"secret" not in response
    status, _, body = curl(server.url("/outdir/index.html"))
    assert status == 403 and b"secret" not in body


@pytest.mark.parametrize("target", [b"//example.com", b"///example.com", b"/%2F%2Fexample.com"])
def test_directory_redirect_stays_on_this_host(server: ServerProcess, target: bytes) -> None:
    response = raw_exchange(server.port, b"GET " + target + b" HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.0 301 "), response[:80]
    assert b"\r\nLocation: /example.com/\r\n" in response


def test_filesystem_root_can_be_served(docroot: Path, trigger: list[str]) -> None:
    path = urllib.parse.quote(str((docroot / "small.txt").resolve()))
    with running_server("/", *trigger) as root_server:
        status, _, body = curl(root_server.url(path))
        assert (status, body) == (200, DOCROOT_FILES["small.txt"])
        status, _, body = curl(root_server.url(path.rsplit("/", 1)[0] + "/"))
        assert (status, body) == (200, DOCROOT_FILES["index.html"])


def _http_dates(mtime: int) -> dict[str, str]:
    """``mtime`` in the three HTTP-date forms of RFC 9110 §5.6.7."""
    t = time.gmtime(mtime)
    return {
        "imf": email.utils.formatdate(mtime, usegmt=True),
        "rfc850": time.strftime("%A, %d-%b-%y %H:%M:%S GMT", t),
        "asctime": time.strftime(f"%a %b {t.tm_mday:2d} %H:%M:%S %Y", t),
    }


@pytest.mark.parametrize("form", ["imf", "rfc850", "asctime"])
def test_if_modified_since_accepts_every_http_date_form(
    server: ServerProcess, docroot: Path, form: str
) -> None:
    mtime = int((docroot / "small.txt").stat().st_mtime)
    since = _http_dates(mtime)[form]
    status, _, body = curl(server.url("/small.txt"), "-H", f"If-Modified-Since: {since}")
    assert (status, body) == (304, b""), since
    older = _http_dates(mtime - 86400)[form]
    status, _, body = curl(server.url("/small.txt"), "-H", f"If-Modified-Since: {older}")
    assert (status, body) == (200, DOCROOT_FILES["small.txt"]), older


@pytest.mark.parametrize(
    "since",
    [
        "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
        "Mon, 01 Jan 9999999 00:00:00 GMT",
        "Sun, 31 Feb 2100 00:00:00 GMT",
        "yesterday",
    ],
)
def test_invalid_if_modified_since_is_ignored(server: ServerProcess, since: str) -> None:
    status, _, body = curl(server.url("/small.txt"), "-H", f"If-Modified-Since: {since}")
    assert (status, body) == (200, DOCROOT_FILES["small.txt"])


def test_if_range_with_the_last_modified_date_gives_206(
    server: ServerProcess, docroot: Path
) -> None:
    mtime = int((docroot / "small.txt").stat().st_mtime)
    for date in _http_dates(mtime).values():
        status, headers, body = curl(
            server.url("/small.txt"), "-r", "6-", "-H", f"If-Range: {date}"
        )
        assert (status, body) == (206, b"from h10\n"), date
        assert headers[b"content-range"] == b"bytes 6-14/15"


@pytest.mark.parametrize("kind", ["older", "newer", "etag", "weak-etag", "garbage"])
@pytest.mark.parametrize("version", VERSIONS)
def test_if_range_that_does_not_match_gives_the_whole_file(
    server: ServerProcess, docroot: Path, kind: str, version: str
) -> None:
    mtime = int((docroot / "small.txt").stat().st_mtime)
    value = {
        "older": email.utils.formatdate(mtime - 1, usegmt=True),
        "newer": email.utils.formatdate(mtime + 1, usegmt=True),
        "etag": '"abc"',
        "weak-etag": 'W/"abc"',
        "garbage": "not a date",
    }[kind]
    for byte_range in ("6-", "1000-2000"):  # satisfiable or not, Range is ignored
        status, headers, body = curl(
            server.url("/small.txt"), version, "-r", byte_range, "-H", f"If-Range: {value}"
        )
        assert (status, body) == (200, DOCROOT_FILES["small.txt"]), (value, byte_range)
        assert b"content-range" not in headers


def test_file_asked_for_as_a_directory_is_404(server: ServerProcess) -> None:
    assert curl(server.url("/small.txt/"))[0] == 404
    assert curl(server.url("/small.txt"))[0] == 200  # and the file itself still is not


def test_etag_with_if_none_match_gives_304(server: ServerProcess) -> None:
    status, headers, _ = curl(server.url("/small.txt"))
    etag = headers[b"etag"].decode()
    assert status == 200 and etag.startswith('"') and etag.endswith('"')
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, headers304, body = curl(server.url("/small.txt"), "-H", f"If-None-Match: {value}")
        assert (status, body) == (304, b""), value
        assert headers304[b"etag"].decode() == etag
    # A non-matching If-None-Match wins over a matching If-Modified-Since.
    since = email.utils.formatdate(time.time() + 3600, usegmt=True)
    conditions = ("-H", 'If-None-Match: "other"', "-H", f"If-Modified-Since: {since}")
    status, _, body = curl(server.url("/small.txt"), *conditions)
    assert (status, body) == (200, DOCROOT_FILES["small.txt"])


def test_if_range_with_the_etag_gives_206(server: ServerProcess) -> None:
    etag = curl(server.url("/big.bin"))[1][b"etag"].decode()
    status, headers, body = curl(server.url("/big.bin"), "-r", "0-9", "-H", f"If-Range: {etag}")
    assert (status, len(body)) == (206, 10)
    assert headers[b"content-range"] == b"bytes 0-9/1048576"


def test_changed_file_is_served_fresh_despite_the_cache(trigger: list[str], tmp_path: Path) -> None:
    root = tmp_path / "changing"
    root.mkdir()
    path = root / "page.txt"
    path.write_bytes(b"first version\n")
    with running_server(str(root), *trigger) as server:
        for _ in range(3):  # hot: served from the cache
            status, headers, body = curl(server.url("/page.txt"))
            assert (status, body) == (200, b"first version\n")
        first_etag = headers[b"etag"]
        path.write_bytes(b"second, longer version\n")
        status, headers, body = curl(server.url("/page.txt"))
        assert (status, body) == (200, b"second, longer version\n")
        assert headers[b"etag"] != first_etag
        path.unlink()
        assert curl(server.url("/page.txt"))[0] == 404


def test_small_files_on_one_kept_alive_connection_do_not_stall(server: ServerProcess) -> None:
    # The head and a small body used to leave in two writes; with Nagle on, the second
    # waited for the client's delayed ACK: about 40 ms per file, 8 s for 200 files.
    with server.connect() as sock:
        buffered = bytearray()
        start = time.monotonic()
        for _ in range(200):
            sock.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, body = read_response(sock, buffered)
            assert (status, body) == (b"HTTP/1.1 200 OK", DOCROOT_FILES["small.txt"])
        elapsed = time.monotonic() - start
    assert elapsed < 4.0, f"200 kept-alive fetches took {elapsed:.1f} s"


def test_every_response_has_a_date(server: ServerProcess) -> None:
    for path in ("/small.txt", "/big.bin", "/no/such/file", "/sub"):
        headers = curl(server.url(path))[1]
        date = email.utils.parsedate_to_datetime(headers[b"date"].decode())
        assert abs(date.timestamp() - time.time()) < 5, path


# -- names, targets and redirects (issue 14) -------------------------------------------


@pytest.fixture(scope="module")
def odd_names(
    tmp_path_factory: pytest.TempPathFactory, trigger: list[str]
) -> Iterator[ServerProcess]:
    """A server over a directory whose file names are not all UTF-8."""
    root = tmp_path_factory.mktemp("odd-names")
    os.makedirs(root / "dir")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.txt"), "wb") as f:
        f.write(b"latin-1 name\n")
    with open(os.path.join(os.fsencode(root), b"dir", b"\xff\xfe <&>.txt"), "wb") as f:
        f.write(b"odd bytes\n")
    (root / "dir" / "caf\u00e9 utf-8.txt").write_bytes(b"utf-8 name\n")
    with running_server(str(root), *trigger) as proc:
        yield proc


def test_a_name_that_is_not_utf8_is_listed_percent_encoded_and_shown_escaped(
    odd_names: ServerProcess,
) -> None:
    # Listed with the raw 0xE9 byte in a page declared UTF-8, the link led to a 400.
    status, headers, body = curl(odd_names.url("/"))
    assert status == 200 and headers[b"content-type"] == b"text/html; charset=utf-8"
    page = body.decode("utf-8")  # strict: the page is what it says it is
    assert '<a href="caf%E9.txt">caf\\xe9.txt</a>' in page
    status, _, body = curl(odd_names.url("/dir/"))
    page = body.decode("utf-8")
    assert '<a href="%FF%FE%20%3C%26%3E.txt">\\xff\\xfe &lt;&amp;&gt;.txt</a>' in page
    assert '<a href="caf%C3%A9%20utf-8.txt">caf\u00e9 utf-8.txt</a>' in page


@pytest.mark.parametrize(
    ("target", "body"),
    [
        (b"/caf%E9.txt", b"latin-1 name\n"),
        (b"/caf%e9.txt", b"latin-1 name\n"),
        (b"/dir/%FF%FE%20%3C%26%3E.txt", b"odd bytes\n"),
        (b"/dir/caf%C3%A9%20utf-8.txt", b"utf-8 name\n"),
    ],
)
def test_a_name_is_served_by_its_percent_encoded_bytes(
    odd_names: ServerProcess, target: bytes, body: bytes
) -> None:
    response = raw_exchange(odd_names.port, b"GET " + target + b" HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.0 200 "), response[:80]
    assert response.endswith(b"\r\n\r\n" + body)


def test_every_link_of_a_listing_leads_to_its_file(odd_names: ServerProcess) -> None:
    for directory in ("/", "/dir/"):
        page = curl(odd_names.url(directory))[2].decode()
        links = re.findall(r'<a href="([^"]+)">', page)
        assert links
        for link in links:
            status = curl(odd_names.url(directory + link))[0]
            assert status == 200, (directory, link)


@pytest.mark.parametrize(
    ("target", "location"),
    [
        (b"/sub?x=1", b"/sub/?x=1"),
        (b"/sub?a=1&b=%20", b"/sub/?a=1&b=%20"),
        (b"/sub?", b"/sub/?"),
        (b"http://host/sub?x=1", b"/sub/?x=1"),
        (b"/sub/nested?q", b"/sub/nested/?q"),
    ],
)
def test_the_directory_redirect_keeps_the_query(
    server: ServerProcess, target: bytes, location: bytes
) -> None:
    response = raw_exchange(server.port, b"GET " + target + b" HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.0 301 "), response[:80]
    assert b"\r\nLocation: " + location + b"\r\n" in response


@pytest.mark.parametrize(
    "target",
    [
        b"HTTP://example.com/small.txt",
        b"Http://example.com/small.txt",
        b"HTTPS://example.com/small.txt",
        b"http://example.com/small.txt?x=1",
        b"http://example.com:8080/small.txt",
    ],
)
def test_absolute_form_schemes_are_case_insensitive(server: ServerProcess, target: bytes) -> None:
    # RFC 3986 §3.1: "HTTP://host/a" is "http://host/a"; it was a 400.
    response = raw_exchange(
        server.port,
        b"GET " + target + b" HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
    )
    assert response.startswith(b"HTTP/1.1 200 "), response[:80]
    assert response.endswith(DOCROOT_FILES["small.txt"])


def test_an_authority_without_a_path_is_the_root(server: ServerProcess) -> None:
    # The query first: a cached "http://example.com" would answer it as the root anyway.
    for target in (b"http://example.com?a/small.txt", b"http://example.com"):
        response = raw_exchange(
            server.port,
            b"GET " + target + b" HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        )
        assert response.startswith(b"HTTP/1.1 200 "), (target, response[:80])
        assert response.endswith(DOCROOT_FILES["index.html"]), target


# -- conditions over several field lines (RFC 9110 §5.3, §13.1) -------------------------


def _get(
    server: ServerProcess, path: bytes, *fields: bytes
) -> tuple[int, dict[bytes, bytes], bytes]:
    head = b"GET " + path + b" HTTP/1.0\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n"
    response = raw_exchange(server.port, head)
    status_line, _, rest = response.partition(b"\r\n")
    raw_headers, _, body = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in raw_headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def _validators(server: ServerProcess, path: bytes) -> tuple[bytes, bytes]:
    _, headers, _ = _get(server, path)
    return headers[b"etag"], headers[b"last-modified"]


@pytest.mark.parametrize("path", [b"/small.txt", b"/big.bin"])
def test_if_none_match_on_two_lines_is_one_list(server: ServerProcess, path: bytes) -> None:
    etag, _ = _validators(server, path)
    status, _, body = _get(server, path, b'If-None-Match: "nope"', b"If-None-Match: " + etag)
    assert (status, body) == (304, b"")
    status, _, _ = _get(server, path, b'If-None-Match: "nope"', b'If-None-Match: "other"')
    assert status == 200


@pytest.mark.parametrize("path", [b"/small.txt", b"/big.bin"])
def test_if_modified_since_sent_twice_is_ignored(server: ServerProcess, path: bytes) -> None:
    _, last_modified = _validators(server, path)
    future = email.utils.formatdate(time.time() + 86400, usegmt=True).encode()
    # Each alone would give 304; two members are not an HTTP-date (RFC 9110 §13.1.3).
    assert _get(server, path, b"If-Modified-Since: " + future)[0] == 304
    fields = (b"If-Modified-Since: " + last_modified, b"If-Modified-Since: " + future)
    assert _get(server, path, *fields)[0] == 200


@pytest.mark.parametrize("path", [b"/small.txt", b"/big.bin"])
def test_if_match_and_if_unmodified_since_are_preconditions(
    server: ServerProcess, path: bytes
) -> None:
    etag, last_modified = _validators(server, path)
    past = email.utils.formatdate(time.time() - 10 * 365 * 86400, usegmt=True).encode()
    assert _get(server, path, b"If-Match: " + etag)[0] == 200
    assert _get(server, path, b"If-Match: *")[0] == 200
    assert _get(server, path, b'If-Match: "other", ' + etag)[0] == 200
    assert _get(server, path, b'If-Match: "other"')[0] == 412
    assert _get(server, path, b"If-Match: W/" + etag)[0] == 412  # a strong comparison
    assert _get(server, path, b"If-Unmodified-Since: " + last_modified)[0] == 200
    assert _get(server, path, b"If-Unmodified-Since: " + past)[0] == 412
    # If-Match decides alone when present (RFC 9110 §13.1.4), and sent twice, the
    # date is no date: ignored.
    assert _get(server, path, b"If-Match: " + etag, b"If-Unmodified-Since: " + past)[0] == 200
    twice = (b"If-Unmodified-Since: " + past, b"If-Unmodified-Since: " + past)
    assert _get(server, path, *twice)[0] == 200
    # 412 before 304: the preconditions come first (RFC 9110 §13.2.2).
    assert _get(server, path, b'If-Match: "other"', b"If-None-Match: " + etag)[0] == 412


def test_range_sent_twice_is_ignored(server: ServerProcess) -> None:
    assert _get(server, b"/small.txt", b"Range: bytes=0-1")[0] == 206
    status, _, body = _get(server, b"/small.txt", b"Range: bytes=0-1", b"Range: bytes=3-4")
    assert (status, body) == (200, DOCROOT_FILES["small.txt"])


def test_if_range_sent_twice_sends_the_whole_file(server: ServerProcess) -> None:
    etag, _ = _validators(server, b"/big.bin")
    status, headers, _ = _get(server, b"/big.bin", b"Range: bytes=0-9", b"If-Range: " + etag)
    assert (status, headers[b"content-range"]) == (206, b"bytes 0-9/1048576")
    fields = (b"Range: bytes=0-9", b"If-Range: " + etag, b"If-Range: " + etag)
    status, headers, body = _get(server, b"/big.bin", *fields)
    assert (status, len(body)) == (200, 1048576)
    assert b"content-range" not in headers
