"""Directory listings: produced a batch at a time and bounded in entries.

A directory that fits in one batch is sorted as ``http.server`` sorts it and sent with
a Content-Length; a larger one streams in directory order (chunked to HTTP/1.1,
close-delimited to HTTP/1.0) and says it is not sorted; past ``--max-listing-entries``
the page says where it stopped. The app is also driven by hand, to see that it never
builds a large listing whole and that the directory is closed however the body ends.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import driver
from driver.listing import LISTING_BATCH
from driver.static import StaticFiles

from server_helpers import SRC, ServerProcess, curl, running_server, trigger

__all__ = ["trigger"]  # fixture used by this module

LARGE = 3 * LISTING_BATCH + 7


def _fill(directory: Path, count: int, prefix: str = "file") -> set[str]:
    directory.mkdir(parents=True, exist_ok=True)
    names = {f"{prefix}-{i:05d}.txt" for i in range(count)}
    for name in names:
        os.close(os.open(directory / name, os.O_CREAT | os.O_WRONLY, 0o644))
    return names


@pytest.fixture(scope="module")
def listing_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("listings")
    _fill(root / "large", LARGE)
    _fill(root / "capped", 2000)
    small = root / "small"
    small.mkdir()
    for name in ("b.txt", "A.txt", "c", "Zed.txt", "a-link"):
        if name == "c":
            (small / name).mkdir()
        elif name == "a-link":
            (small / name).symlink_to("b.txt")
        else:
            (small / name).write_bytes(b"x\n")
    return root


@pytest.fixture(scope="module")
def server(listing_root: Path, trigger: list[str]) -> Iterator[ServerProcess]:
    args = [str(listing_root), "--max-listing-entries", "1000", "--no-access-log", *trigger]
    with running_server(*args) as proc:
        yield proc


def _names(page: bytes) -> list[str]:
    return [
        html.unescape(name) for name in re.findall(r'<a href="[^"]*">([^<]*)</a>', page.decode())
    ]


@pytest.mark.parametrize("version", ["--http1.0", "--http1.1"])
def test_a_large_directory_is_listed_whole_in_directory_order(
    server: ServerProcess, listing_root: Path, version: str
) -> None:
    status, headers, body = curl(server.url("/large/"), version)
    assert status == 200
    assert b"content-length" not in headers  # streamed, not built whole first
    names = _names(body)
    assert sorted(names) == sorted(os.listdir(listing_root / "large"))
    assert names == [entry.name for entry in os.scandir(listing_root / "large")]
    assert b"not sorted" in body and b"stops at" not in body
    assert body.endswith(b"</html>\n")


def test_a_listing_stops_at_max_listing_entries_and_says_so(server: ServerProcess) -> None:
    status, _, body = curl(server.url("/capped/"))
    assert status == 200
    assert len(_names(body)) == 1000
    assert b"The listing stops at its first 1,000 entries." in body
    assert body.endswith(b"</html>\n")


def test_a_small_directory_is_sorted_as_http_server_sorts_it(server: ServerProcess) -> None:
    status, headers, body = curl(server.url("/small/"))
    assert status == 200
    assert headers[b"content-length"] == str(len(body)).encode()
    assert _names(body) == ["a-link@", "A.txt", "b.txt", "c/", "Zed.txt"]
    assert b"not sorted" not in body


def test_a_head_of_a_large_listing_sends_no_body(server: ServerProcess) -> None:
    status, headers, body = curl(server.url("/large/"), "-I")
    assert (status, body) == (200, b"")
    assert headers[b"content-type"] == b"text/html; charset=utf-8"


# -- the app by hand ---------------------------------------------------------------------


def _get(app: StaticFiles, target: bytes, method: bytes = b"GET") -> driver.Reply:
    return app(driver.HTTPRequest(method, target, (), b"1.1", b"", ("127.0.0.1", 1)))


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_large_listing_is_an_iterable_of_bounded_batches(listing_root: Path) -> None:
    app = StaticFiles(listing_root, max_listing_entries=100_000)
    reply = _get(app, b"/large/")
    body = reply.body
    assert not isinstance(body, bytes | bytearray | memoryview | driver.FileBody)
    items = list(body)
    assert len(items) >= LARGE // LISTING_BATCH
    assert max(len(item) for item in items) < 100 * LISTING_BATCH
    assert len(_names(b"".join(items))) == LARGE


@pytest.mark.parametrize("taken", [0, 1, 2])
def test_the_directory_is_closed_however_the_listing_ends(listing_root: Path, taken: int) -> None:
    app = StaticFiles(listing_root)
    before = _open_fds()
    reply = _get(app, b"/large/")
    iterator = iter(reply.body)  # type: ignore[arg-type]
    for _ in range(taken):
        next(iterator)
    assert _open_fds() > before  # the directory is open while the body is pulled
    close = reply.body.close  # type: ignore[union-attr]
    close()  # what the server does when the client leaves, or for HEAD
    close()
    assert _open_fds() == before
    list(_get(app, b"/large/").body)  # type: ignore[arg-type]
    assert _open_fds() == before  # and at the end of a body pulled whole


@pytest.mark.parametrize("limit", [1, LISTING_BATCH - 1, LISTING_BATCH, LISTING_BATCH + 1, LARGE])
def test_the_entry_bound_holds_at_every_size(listing_root: Path, limit: int) -> None:
    app = StaticFiles(listing_root, max_listing_entries=limit)
    body = _get(app, b"/large/").body
    page = body if isinstance(body, bytes) else b"".join(body)  # type: ignore[arg-type]
    assert len(_names(page)) == min(limit, LARGE)
    assert (b"stops at" in page) == (limit < LARGE)
    assert page.endswith(b"</html>\n")


def test_max_listing_entries_must_be_positive(listing_root: Path) -> None:
    with pytest.raises(ValueError, match="max_listing_entries"):
        StaticFiles(listing_root, max_listing_entries=0)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-listing-entries", "0"], "must be >= 1"),
        (["--max-listing-entries", "many"], "not a whole number"),
        (["--hello", "--max-listing-entries", "5"], "applies to serving files"),
    ],
)
def test_max_listing_entries_mistakes_are_one_line_and_exit_2(args: list[str], needle: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    result = subprocess.run(
        [sys.executable, "-m", "driver", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("usage:")]
    assert len(lines) == 1 and needle in lines[0], result.stderr
