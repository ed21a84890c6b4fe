"""Files swapped under the static app between the moment it resolves a path and the
moment it opens it: a FIFO (whose blocking ``open`` would stop the loop until a writer
came), a directory replaced by a symlink out of the root, an ``index.html`` or a
directory turned into a FIFO. What is served is decided on the descriptor opened.

The races are made deterministic by doing the swap inside ``os.open``, just before the
app opens the path, after everything it checked first; one test also runs the race
for real against a server on loopback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import driver
from driver.static import StaticFiles

from server_helpers import running_server, trigger

__all__ = ["trigger"]  # fixture used by this module


def _request(target: bytes) -> driver.HTTPRequest:
    return driver.HTTPRequest(b"GET", target, ((b"host", b"x"),), b"1.0", b"", ("127.0.0.1", 1))


def _release(fifo: Path) -> None:
    """Open ``fifo`` for writing (and close it): an ``open`` blocked for a reader of
    it returns, so that a test of a blocking server does not hang."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def _call_bounded(app: StaticFiles, target: bytes, fifo: Path) -> driver.Reply:
    """``app(GET target)`` on a thread: fails the test if it blocks for a second."""
    result: list[driver.Reply] = []
    worker = threading.Thread(target=lambda: result.append(app(_request(target))), daemon=True)
    worker.start()
    worker.join(1.0)
    blocked = worker.is_alive()
    while worker.is_alive():
        _release(fifo)
        worker.join(0.1)
    assert not blocked, f"GET {target!r} blocked in open() on a FIFO"
    return result[0]


@contextlib.contextmanager
def _swap_before_open(
    monkeypatch: pytest.MonkeyPatch, path: Path, swap: Callable[[], None]
) -> Iterator[None]:
    """Run ``swap`` once, just before the app opens ``path``: after whatever it
    checked first (its resolution, a ``stat``), the last moment a swap can land."""
    done: list[bool] = []
    real_open = os.open
    wanted = os.path.realpath(path)

    def swap_then_open(name: object, *args: object, **kwargs: object) -> int:
        if not done and os.fspath(name) == wanted:  # type: ignore[call-overload]
            done.append(True)
            swap()
        return real_open(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", swap_then_open)
    try:
        yield
    finally:
        monkeypatch.undo()
    assert done, f"{path} was never opened"


def _fifo_for(path: Path) -> Callable[[], None]:
    def swap() -> None:
        spare = path.with_name(path.name + ".fifo")
        os.mkfifo(spare)
        os.replace(spare, path)

    return swap


def test_a_file_swapped_for_a_fifo_after_its_resolution_is_404_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "swap.txt"
    target.write_bytes(b"a regular file\n")
    app = StaticFiles(tmp_path)
    with _swap_before_open(monkeypatch, target, _fifo_for(target)):
        reply = _call_bounded(app, b"/swap.txt", target)
    assert reply.status == 404


def test_a_cached_file_swapped_for_a_fifo_is_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "large.bin"
    target.write_bytes(b"x" * 100_000)  # above inline_limit: a hit opens it
    app = StaticFiles(tmp_path)
    first = app(_request(b"/large.bin"))
    assert isinstance(first.body, driver.FileBody)
    os.close(first.body.fd)
    with _swap_before_open(monkeypatch, target, _fifo_for(target)):
        reply = _call_bounded(app, b"/large.bin", target)
    assert reply.status == 404


def test_an_index_html_swapped_for_a_fifo_gives_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d").mkdir()
    index = tmp_path / "d" / "index.html"
    index.write_bytes(b"<p>index</p>\n")
    (tmp_path / "d" / "other.txt").write_bytes(b"other\n")
    app = StaticFiles(tmp_path)
    with _swap_before_open(monkeypatch, index, _fifo_for(index)):
        reply = _call_bounded(app, b"/d/", index)
    assert reply.status == 200
    assert isinstance(reply.body, bytes) and b'href="other.txt"' in reply.body


def test_a_directory_swapped_for_a_fifo_is_404(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "d"
    directory.mkdir()

    def swap() -> None:
        directory.rename(tmp_path / "d.old")
        os.mkfifo(directory)

    app = StaticFiles(tmp_path)
    with _swap_before_open(monkeypatch, directory, swap):
        reply = _call_bounded(app, b"/d/", directory)
    assert reply.status == 404


def test_a_directory_swapped_for_a_symlink_out_of_the_root_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    (root / "pub").mkdir(parents=True)
    (root / "pub" / "data.txt").write_bytes(b"public\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.txt").write_bytes(b"SECRET\n")

    def swap() -> None:
        (root / "pub").rename(root / "pub.old")
        (root / "pub").symlink_to(outside)

    app = StaticFiles(root)
    with _swap_before_open(monkeypatch, root / "pub" / "data.txt", swap):
        reply = app(_request(b"/pub/data.txt"))
    body = reply.body
    if isinstance(body, driver.FileBody):
        served = os.pread(body.fd, 64, body.offset)
        os.close(body.fd)
    else:
        assert isinstance(body, bytes)
        served = body
    assert b"SECRET" not in served, "a file outside the root was served"
    assert reply.status == 404


def test_a_fifo_swapped_in_and_out_for_real_never_stops_the_server(
    tmp_path: Path, trigger: list[str]
) -> None:
    # As reported: a FIFO put in place of a file between the server's stat and its
    # open made the open wait for a writer, and the whole server stopped answering
    # (4 runs of 4, after 30-42 requests). Every request is answered, the other
    # clients' too.
    root = tmp_path / "root"
    root.mkdir()
    target = root / "swap.txt"
    target.write_bytes(b"a regular file\n")
    (root / "other.txt").write_bytes(b"other\n")
    stop = threading.Event()

    def swapper() -> None:
        spare = root / "spare"
        while not stop.is_set():
            with contextlib.suppress(OSError):
                spare.write_bytes(b"a regular file\n")
                os.replace(spare, target)
                os.mkfifo(spare)
                os.replace(spare, target)

    statuses: dict[int, int] = {}
    thread = threading.Thread(target=swapper, daemon=True)
    with running_server(str(root), "--no-access-log", *trigger) as server:
        thread.start()
        try:
            deadline = time.monotonic() + 5.0
            count = 0
            while time.monotonic() < deadline and count < 2000:
                count += 1
                path = b"/other.txt" if count % 10 == 0 else b"/swap.txt"
                with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
                    sock.sendall(b"GET " + path + b" HTTP/1.0\r\n\r\n")
                    try:
                        head = sock.recv(64)
                    except TimeoutError:
                        pytest.fail(f"request {count} ({path!r}) not answered in 2 s")
                status = int(head.split()[1])
                statuses[status] = statuses.get(status, 0) + 1
                if path == b"/other.txt":
                    assert status == 200
        finally:
            stop.set()
            thread.join(5)
            _release(target)
    assert set(statuses) <= {200, 404}, statuses
    assert statuses.get(200, 0) and statuses.get(404, 0), statuses  # both sides were seen


def test_a_socket_file_is_404(tmp_path: Path) -> None:
    # open() of a Unix socket fails with ENXIO: not a file to serve.
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "sock"))
        reply = StaticFiles(tmp_path)(_request(b"/sock"))
    assert reply.status == 404


def test_descriptors_running_out_is_503_for_a_listing_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d").mkdir()
    app = StaticFiles(tmp_path)

    def no_descriptors(*args: object, **kwargs: object) -> object:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(os, "scandir", no_descriptors)
    reply = app(_request(b"/d/"))
    assert reply.status == 503


def test_a_cached_large_file_swapped_for_a_symlink_after_its_stat_is_not_served(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # StaticFiles._cached checks os.stat(entry.path) against the cached identity, then
    # os.open(entry.path) (following symlinks) and sends what it opened, sized by the
    # cache. A file replaced by a symlink out of the root between the two calls is
    # served. Opening first and comparing os.fstat(fd) with the entry closes the race.
    from driver.static import StaticFiles

    base = os.fspath(tmp_path)
    root = os.path.join(base, "root")
    outside = os.path.join(base, "outside")
    os.mkdir(root)
    os.mkdir(outside)
    public = os.path.join(root, "big.bin")
    secret = os.path.join(outside, "secret.bin")
    with open(public, "wb") as f:
        f.write(b"p" * 100_000)  # above inline_limit: served by descriptor
    with open(secret, "wb") as f:
        f.write(b"S" * 100_000)
    app = StaticFiles(root)
    request = driver.HTTPRequest(b"GET", b"/big.bin", (), b"1.1", b"", ("127.0.0.1", 1))
    first = app(request)
    assert isinstance(first.body, driver.FileBody)
    os.close(first.body.fd)

    stat_before = os.stat(public)
    real_stat = os.stat
    swapped: list[bool] = []

    def stat_then_swap(path: object, *args: object, **kwargs: object) -> os.stat_result:
        # The swap lands right after the cache's stat: the race, made deterministic.
        if path == public and not swapped:
            swapped.append(True)
            os.unlink(public)
            os.symlink(secret, public)
            return stat_before
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat_then_swap)
    reply = app(request)
    monkeypatch.undo()
    body = reply.body
    if isinstance(body, driver.FileBody):
        served = os.pread(body.fd, 16, body.offset)
        os.close(body.fd)
    else:
        served = bytes(body)[:16]  # type: ignore[arg-type]
    assert b"S" not in served, "a file outside the root was served"
