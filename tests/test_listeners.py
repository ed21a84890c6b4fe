"""Listening sockets (driver.listeners): each kind made on 127.0.0.1, ::1 or a temporary
directory and accepting a real connection; what a Unix path replaces and what it
refuses untouched; inherited descriptors checked; systemd socket activation in a real
child process; the peer and address texts, and the parsers, over any input."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driver.listeners import (
    DEFAULT_UDS_MODE,
    Listener,
    ListenerError,
    inherited_listener,
    parse_listen_env,
    parse_mode,
    peer,
    peer_text,
    systemd_listeners,
    tcp_listeners,
    unix_listener,
    unmapped,
    url_authority,
)

TIMEOUT = 5.0


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback on this machine")


@pytest.fixture
def made() -> Iterator[list[Listener]]:
    """Listeners to close after the test, whatever it asserted."""
    listeners: list[Listener] = []
    yield listeners
    for listener in listeners:
        listener.close()


def accept_one(listener: Listener, family: int, address: str | tuple[str, int]) -> tuple[str, int]:
    """Connect to ``address``, send a byte, and return the peer as the listener writes it,
    after checking the byte arrived on the accepted socket."""
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(TIMEOUT)
        client.connect(address)
        client.sendall(b"x")
        listener.socket.settimeout(TIMEOUT)  # blocking accept, bounded; the test's only
        try:
            conn, peer_address = listener.socket.accept()
        finally:
            listener.socket.setblocking(False)
        with conn:
            conn.settimeout(TIMEOUT)
            assert conn.recv(1) == b"x"
        return listener.peer(peer_address)


# -- TCP ----------------------------------------------------------------------------------


def test_an_ipv4_listener_accepts_and_shows_its_address(made: list[Listener]) -> None:
    [listener] = tcp_listeners("127.0.0.1", 0)
    made.append(listener)
    port = listener.socket.getsockname()[1]
    assert listener.kind == "tcp" and not listener.shared
    assert listener.label == f"127.0.0.1 port {port}"
    assert listener.url() == f"http://127.0.0.1:{port}/"
    assert listener.url("https") == f"https://127.0.0.1:{port}/"
    assert listener.socket.getblocking() is False
    assert listener.socket.get_inheritable() is False
    host, _port = accept_one(listener, socket.AF_INET, ("127.0.0.1", port))
    assert host == "127.0.0.1"


@needs_ipv6
def test_an_ipv6_listener_brackets_its_url(made: list[Listener]) -> None:
    [listener] = tcp_listeners("[::1]", 0)  # brackets as a user pastes them from a URL
    made.append(listener)
    port = listener.socket.getsockname()[1]
    assert listener.label == f"::1 port {port}"
    assert listener.url() == f"http://[::1]:{port}/"
    assert accept_one(listener, socket.AF_INET6, ("::1", port))[0] == "::1"


@needs_ipv6
def test_a_wildcard_ipv6_listener_is_dual_stack_and_shows_ipv4_peers_plainly(
    made: list[Listener],
) -> None:
    [listener] = tcp_listeners("::", 0)
    made.append(listener)
    port = listener.socket.getsockname()[1]
    assert listener.url() == f"http://[::]:{port}/"
    assert listener.socket.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
    assert accept_one(listener, socket.AF_INET, ("127.0.0.1", port))[0] == "127.0.0.1"
    assert accept_one(listener, socket.AF_INET6, ("::1", port))[0] == "::1"


@needs_ipv6
def test_every_interface_is_both_families_on_one_port(made: list[Listener]) -> None:
    listeners = tcp_listeners(None, 0)
    made.extend(listeners)
    assert sorted(item.socket.family for item in listeners) == [socket.AF_INET, socket.AF_INET6]
    ports = {item.socket.getsockname()[1] for item in listeners}
    assert len(ports) == 1
    port = ports.pop()
    by_family = {item.socket.family: item for item in listeners}
    # Beside an IPv4 socket the IPv6 one is IPv6 only (else the two would collide), so
    # each family is accepted by its own socket.
    v6 = by_family[socket.AF_INET6]
    assert v6.socket.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
    assert accept_one(by_family[socket.AF_INET], socket.AF_INET, ("127.0.0.1", port))[0] == (
        "127.0.0.1"
    )
    assert accept_one(v6, socket.AF_INET6, ("::1", port))[0] == "::1"


def test_empty_host_means_every_interface(made: list[Listener]) -> None:
    listeners = tcp_listeners("", 0)
    made.extend(listeners)
    assert {item.socket.getsockname()[0] for item in listeners} <= {"0.0.0.0", "::"}
    assert "0.0.0.0" in {item.socket.getsockname()[0] for item in listeners}


def test_reuse_port_lets_one_listener_per_worker_share_the_port(made: list[Listener]) -> None:
    [first] = tcp_listeners("127.0.0.1", 0, reuse_port=True)
    made.append(first)
    port = first.socket.getsockname()[1]
    [second] = tcp_listeners("127.0.0.1", port, reuse_port=True)
    made.append(second)
    assert second.socket.getsockname() == first.socket.getsockname()
    # Without SO_REUSEPORT the port is taken: a clear error, not a traceback.
    with pytest.raises(ListenerError, match=rf"cannot listen on 127.0.0.1 port {port}: .*in use"):
        tcp_listeners("127.0.0.1", port)


def test_the_backlog_is_the_listen_queue(made: list[Listener]) -> None:
    # A listener with a backlog of 1 queues at most two unaccepted connections (Linux
    # allows backlog + 1); the third gets no SYN-ACK and its connect times out.
    [listener] = tcp_listeners("127.0.0.1", 0, backlog=1)
    made.append(listener)
    address = listener.socket.getsockname()
    clients = []
    try:
        for _ in range(2):
            clients.append(socket.create_connection(address, timeout=TIMEOUT))
        late = socket.socket()
        clients.append(late)
        late.settimeout(0.5)
        with pytest.raises(TimeoutError):
            late.connect(address)
    finally:
        for client in clients:
            client.close()


@pytest.mark.parametrize("port", [-1, 65536, True])
def test_a_port_out_of_range_is_refused(port: int) -> None:
    with pytest.raises(ListenerError, match="port must be from 0 to 65535"):
        tcp_listeners("127.0.0.1", port)


def test_a_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(ListenerError, match=r"cannot listen on 'no such host\.invalid'"):
        tcp_listeners("no such host.invalid", 0)


def test_an_address_not_on_this_machine_is_refused() -> None:
    with pytest.raises(ListenerError, match=r"cannot listen on 192\.0\.2\.1 port 0: .*assign"):
        tcp_listeners("192.0.2.1", 0)


# -- Unix socket path -----------------------------------------------------------------------


def connect_unix(path: Path) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(TIMEOUT)
    client.connect(str(path))
    return client


def stale_socket(path: Path) -> None:
    """A socket file whose server is gone: bound, then closed without unlinking."""
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.listen()
    dead.close()


def test_a_unix_listener_accepts_and_shows_its_path(tmp_path: Path, made: list[Listener]) -> None:
    path = tmp_path / "h10.sock"
    listener = unix_listener(str(path))
    made.append(listener)
    assert listener.kind == "unix" and listener.shared
    assert listener.label == f"unix:{path} (mode 660)"
    assert listener.url() is None
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert stat.S_IMODE(os.lstat(path).st_mode) == DEFAULT_UDS_MODE
    assert accept_one(listener, socket.AF_UNIX, str(path)) == ("unix:", 0)
    # Nothing is left beside it but the lock (the temporary name is gone).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h10.sock", "h10.sock.lock"]


def test_a_client_that_binds_its_own_path_is_still_a_unix_peer(
    tmp_path: Path, made: list[Listener]
) -> None:
    listener = unix_listener(str(tmp_path / "s"))
    made.append(listener)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.bind(str(tmp_path / "client"))
        client.connect(str(tmp_path / "s"))
        listener.socket.settimeout(TIMEOUT)
        conn, address = listener.socket.accept()
        conn.close()
    assert address == str(tmp_path / "client")
    assert listener.peer(address) == ("unix:", 0)


@pytest.mark.parametrize("mode", [0o600, 0o660, 0o666, 0o700, 0o000])
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000])
def test_the_mode_is_exact_whatever_the_umask(
    tmp_path: Path, made: list[Listener], mode: int, umask: int
) -> None:
    previous = os.umask(umask)
    try:
        made.append(unix_listener(str(tmp_path / "s"), mode=mode))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.lstat(tmp_path / "s").st_mode) == mode
    assert os.umask(previous) == previous  # the process umask was given back


def test_a_stale_socket_is_replaced(tmp_path: Path, made: list[Listener]) -> None:
    path = tmp_path / "s"
    stale_socket(path)
    before = os.lstat(path).st_ino
    listener = unix_listener(str(path), mode=0o600)
    made.append(listener)
    assert os.lstat(path).st_ino != before
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    assert accept_one(listener, socket.AF_UNIX, str(path)) == ("unix:", 0)


def test_a_live_socket_is_refused_and_keeps_serving(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(str(path))
        other.listen()
        inode = os.lstat(path).st_ino
        with pytest.raises(ListenerError, match=f"something is listening on {path}"):
            unix_listener(str(path))
        assert os.lstat(path).st_ino == inode
        connect_unix(path).close()  # the other server still has its path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no lock, no temporary


def test_a_live_socket_with_a_full_backlog_is_refused(tmp_path: Path) -> None:
    # A busy server, not a dead one: its kernel answers EAGAIN, not ECONNREFUSED.
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as busy:
        busy.bind(str(path))
        busy.listen(0)
        queued = []
        try:
            with contextlib.suppress(BlockingIOError, TimeoutError):
                for _ in range(8):
                    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    queued.append(client)
                    client.setblocking(False)
                    client.connect(str(path))
            assert len(queued) < 8  # the backlog did fill
            with pytest.raises(ListenerError, match=f"something is listening on {path}"):
                unix_listener(str(path))
            assert stat.S_ISSOCK(os.lstat(path).st_mode)
        finally:
            for client in queued:
                client.close()


def test_a_second_h10_on_the_same_path_is_refused(tmp_path: Path, made: list[Listener]) -> None:
    path = tmp_path / "s"
    made.append(unix_listener(str(path)))
    with pytest.raises(ListenerError, match=r"in use by another h10 server \(.*s\.lock is locked"):
        unix_listener(str(path))
    connect_unix(path).close()


def test_a_regular_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_bytes(b"precious")
    with pytest.raises(ListenerError, match=f"{path} exists and is a regular file; not replacing"):
        unix_listener(str(path))
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_a_symlink_is_refused_and_never_followed(tmp_path: Path) -> None:
    # Even a link to a stale socket: unlinking through it would let whoever made the
    # link choose what we delete.
    target = tmp_path / "target.sock"
    stale_socket(target)
    path = tmp_path / "s"
    path.symlink_to(target)
    with pytest.raises(ListenerError, match=f"{path} exists and is a symlink; not replacing"):
        unix_listener(str(path))
    assert os.readlink(path) == str(target)
    assert stat.S_ISSOCK(os.lstat(target).st_mode)


def test_a_directory_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.mkdir()
    (path / "inside").write_text("kept")
    with pytest.raises(ListenerError, match=f"{path} exists and is a directory; not replacing"):
        unix_listener(str(path))
    assert (path / "inside").read_text() == "kept"


def test_a_symlinked_lock_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("kept")
    (tmp_path / "s.lock").symlink_to(victim)
    with pytest.raises(ListenerError, match=r"lock file .*s\.lock: it is a symlink"):
        unix_listener(str(tmp_path / "s"))
    assert victim.read_text() == "kept"
    assert not (tmp_path / "s").exists()


def test_a_fifo_as_lock_file_is_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "s.lock")
    with pytest.raises(ListenerError, match="is not a regular file"):
        unix_listener(str(tmp_path / "s"))


def test_a_temporary_name_left_by_a_crash_is_cleared(tmp_path: Path, made: list[Listener]) -> None:
    leftover = tmp_path / f".s.{os.getpid()}.tmp"
    stale_socket(leftover)
    made.append(unix_listener(str(tmp_path / "s")))
    assert not leftover.exists()
    connect_unix(tmp_path / "s").close()


def test_close_removes_the_path_and_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "s"
    listener = unix_listener(str(path))
    listener.close()
    listener.close()  # twice is harmless
    assert list(tmp_path.iterdir()) == []
    made = unix_listener(str(path))  # and the path can be had again at once
    made.close()


def test_close_leaves_a_path_another_server_took_over(tmp_path: Path) -> None:
    path = tmp_path / "s"
    listener = unix_listener(str(path))
    os.unlink(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(str(path))
        other.listen()
        listener.close()
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        connect_unix(path).close()


def test_a_forked_worker_closing_the_listener_leaves_the_path(tmp_path: Path) -> None:
    path = tmp_path / "s"
    listener = unix_listener(str(path))
    try:
        pid = os.fork()
        if pid == 0:  # the worker: close its copy, as a worker does when it stops
            code = 1
            try:
                listener.close()
                code = 0
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        assert accept_one(listener, socket.AF_UNIX, str(path)) == ("unix:", 0)
    finally:
        listener.close()
    assert list(tmp_path.iterdir()) == []


def test_a_path_too_long_for_a_unix_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 120)
    with pytest.raises(ListenerError, match="too long for a Unix socket"):
        unix_listener(str(path))
    assert list(tmp_path.iterdir()) == []


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ListenerError, match="is not a directory"):
        unix_listener(str(tmp_path / "nowhere" / "s"))


def test_a_relative_path_is_made_absolute(
    tmp_path: Path, made: list[Listener], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    listener = unix_listener("rel.sock")
    made.append(listener)
    assert listener.label == f"unix:{tmp_path / 'rel.sock'} (mode 660)"
    monkeypatch.chdir("/")
    listener.close()  # from another directory, it removes the right file
    assert not (tmp_path / "rel.sock").exists()


@given(st.integers(0, 0o777), st.sampled_from(["", "0", "0o", "0O"]))
def test_any_mode_spelled_in_octal_parses(mode: int, prefix: str) -> None:
    assert parse_mode(prefix + format(mode, "o")) == mode


@given(st.text(max_size=8))
def test_any_mode_text_parses_into_range_or_is_refused(text: str) -> None:
    try:
        mode = parse_mode(text)
    except ListenerError as exc:
        assert repr(text) in str(exc)
    else:
        assert 0 <= mode <= 0o777
        assert int(text.lower().removeprefix("0o"), 8) == mode


@pytest.mark.parametrize("text", ["1777", "4755", "8", "66a", "", "-660", " 660", "0x1ff"])
def test_mode_texts_that_are_refused(text: str) -> None:
    with pytest.raises(ListenerError):
        parse_mode(text)


# -- inherited descriptors ----------------------------------------------------------------------


def test_an_inherited_tcp_socket_is_a_listener(made: list[Listener]) -> None:
    raw = socket.create_server(("127.0.0.1", 0))
    fd = raw.detach()
    listener = inherited_listener(fd)
    made.append(listener)
    port = listener.socket.getsockname()[1]
    assert listener.socket.fileno() == fd
    assert listener.kind == "fd" and listener.shared
    assert listener.label == f"fd {fd} (127.0.0.1 port {port})"
    assert listener.url() == f"http://127.0.0.1:{port}/"
    assert listener.socket.getblocking() is False
    assert os.get_inheritable(fd) is False
    assert accept_one(listener, socket.AF_INET, ("127.0.0.1", port))[0] == "127.0.0.1"


def test_an_inherited_unix_socket_is_a_listener(tmp_path: Path, made: list[Listener]) -> None:
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.bind(str(tmp_path / "s"))
    raw.listen()
    listener = inherited_listener(raw.detach())
    made.append(listener)
    assert listener.label == f"fd {listener.socket.fileno()} (unix:{tmp_path / 's'})"
    assert listener.url() is None
    assert accept_one(listener, socket.AF_UNIX, str(tmp_path / "s")) == ("unix:", 0)
    listener.close()
    assert (tmp_path / "s").exists()  # an inherited socket's file is never unlinked


@contextlib.contextmanager
def refused_fd(sock: socket.socket) -> Iterator[int]:
    """The socket's descriptor, which must still be open after the refusal."""
    with sock:
        fd = sock.fileno()
        yield fd
        os.fstat(fd)  # still open: a refusal does not close what it was given
        assert sock.getblocking() is True


def test_a_udp_socket_is_refused() -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with refused_fd(udp) as fd, pytest.raises(ListenerError, match="not a listening stream"):
        inherited_listener(fd)


def test_a_stream_socket_that_is_not_listening_is_refused() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    with (
        refused_fd(sock) as fd,
        pytest.raises(ListenerError, match="an IPv4 stream socket but not"),
    ):
        inherited_listener(fd)


def test_a_connected_socket_is_refused() -> None:
    left, right = socket.socketpair()
    with right, refused_fd(left) as fd, pytest.raises(ListenerError, match="a Unix stream socket"):
        inherited_listener(fd)


def test_a_closed_descriptor_is_refused() -> None:
    sock = socket.socket()
    fd = sock.fileno()
    sock.close()
    with pytest.raises(ListenerError, match=f"fd {fd} is not open"):
        inherited_listener(fd)


def test_a_descriptor_that_is_not_a_socket_is_refused() -> None:
    read, write = os.pipe()
    try:
        with pytest.raises(ListenerError, match=f"fd {read} is not a socket"):
            inherited_listener(read)
        os.fstat(read)
    finally:
        os.close(read)
        os.close(write)


# -- systemd socket activation -------------------------------------------------------------------


def test_variables_for_another_process_are_ignored_and_removed() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    with sock:
        environ = {
            "LISTEN_PID": str(os.getpid() + 1),
            "LISTEN_FDS": "1",
            "LISTEN_FDNAMES": "web",
            "OTHER": "kept",
        }
        assert systemd_listeners(environ) == []
        assert environ == {"OTHER": "kept"}
        assert sock.getblocking() is True  # no descriptor was touched


def test_no_variables_is_no_activation() -> None:
    environ = {"OTHER": "kept"}
    assert systemd_listeners(environ) == []
    assert environ == {"OTHER": "kept"}


def test_variables_are_removed_from_the_real_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    monkeypatch.setenv("LISTEN_FDS", "0")
    monkeypatch.setenv("LISTEN_FDNAMES", "")
    assert systemd_listeners() == []
    assert not {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} & set(os.environ)


def test_our_pid_names_descriptors_from_3() -> None:
    pid = os.getpid()
    environ = {"LISTEN_PID": str(pid), "LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:admin"}
    assert parse_listen_env(environ, pid) == [(3, "web"), (4, "admin")]
    assert parse_listen_env({"LISTEN_PID": str(pid), "LISTEN_FDS": "1"}, pid) == [(3, "unknown")]
    assert parse_listen_env({"LISTEN_PID": str(pid)}, pid) == []


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"LISTEN_FDS": "two"}, "LISTEN_FDS is not a number of descriptors: 'two'"),
        ({"LISTEN_FDS": "-1"}, "LISTEN_FDS is not a number"),
        ({"LISTEN_FDS": "²"}, "LISTEN_FDS is not a number"),
        ({"LISTEN_FDS": "2", "LISTEN_FDNAMES": "web"}, "names 1 descriptors but LISTEN_FDS says 2"),
        ({"LISTEN_FDS": str(10**12)}, "more descriptors than this process may have"),
    ],
)
def test_malformed_variables_are_a_clear_error(variables: dict[str, str], message: str) -> None:
    environ = {"LISTEN_PID": str(os.getpid()), **variables}
    with pytest.raises(ListenerError, match=message):
        systemd_listeners(environ)
    assert environ == {}  # removed even so


def test_a_malformed_pid_is_a_clear_error() -> None:
    with pytest.raises(ListenerError, match="LISTEN_PID is not a process id: 'self'"):
        systemd_listeners({"LISTEN_PID": "self", "LISTEN_FDS": "1"})


names = st.text(st.characters(codec="ascii", exclude_characters=":\0"), max_size=12)


@given(st.lists(names, max_size=20), st.integers(1, 2**22))
def test_listen_fdnames_round_trip(fd_names: list[str], pid: int) -> None:
    environ = {"LISTEN_PID": str(pid), "LISTEN_FDS": str(len(fd_names))}
    if fd_names:
        environ["LISTEN_FDNAMES"] = ":".join(fd_names)
    assert parse_listen_env(environ, pid) == [(3 + i, n) for i, n in enumerate(fd_names)]
    assert parse_listen_env(environ, pid + 1) is None


@given(st.dictionaries(st.sampled_from(["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]), st.text()))
def test_any_listen_variables_parse_or_are_refused(environ: dict[str, str]) -> None:
    try:
        result = parse_listen_env(environ, 1234)
    except ListenerError:
        return
    if result is not None:
        assert environ["LISTEN_PID"] == "1234"
        assert [fd for fd, _name in result] == list(range(3, 3 + int(environ.get("LISTEN_FDS", 0))))


ACTIVATED_CHILD = textwrap.dedent(
    """
    import json, os, socket, sys
    from driver.listeners import systemd_listeners

    listeners = systemd_listeners()
    print(json.dumps({
        "labels": [item.label for item in listeners],
        "kinds": [item.kind for item in listeners],
        "left": sorted(k for k in os.environ if k.startswith("LISTEN_")),
    }), flush=True)
    for item in listeners:
        item.socket.settimeout(5)
        conn, address = item.socket.accept()
        with conn:
            conn.sendall(f"hello {item.peer(address)[0]}".encode())
    """
)


def test_socket_activation_in_a_child_process(tmp_path: Path) -> None:
    # As systemd does it: the listening sockets at descriptors 3 and 4, LISTEN_PID set to
    # the child's own pid (so by a shell that then execs Python), names for both. The
    # sockets are first moved to descriptors >= 10, so that putting one at 3 cannot
    # overwrite the other; bash, since dash's redirections take one digit only.
    tcp = socket.create_server(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(tmp_path / "s"))
    unix.listen()
    port = tcp.getsockname()[1]
    high = [fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, 10) for sock in (tcp, unix)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "LISTEN_FDS": "2",
        "LISTEN_FDNAMES": "web:local",
    }
    script = f'LISTEN_PID=$$ exec "$0" -c "$1" 3<&{high[0]} 4<&{high[1]} {high[0]}<&- {high[1]}<&-'
    try:
        child = subprocess.Popen(
            ["bash", "-c", script, sys.executable, ACTIVATED_CHILD],
            pass_fds=high,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        tcp.close()
        unix.close()
        for fd in high:
            os.close(fd)
    try:
        assert child.stdout is not None
        report = json.loads(child.stdout.readline() or "null")
        assert report == {
            "labels": [
                f"fd 3 'web' (127.0.0.1 port {port}) (systemd socket activation)",
                f"fd 4 'local' (unix:{tmp_path / 's'}) (systemd socket activation)",
            ],
            "kinds": ["systemd", "systemd"],
            "left": [],
        }
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as client:
            assert client.recv(100) == b"hello 127.0.0.1"
        with connect_unix(tmp_path / "s") as client:
            assert client.recv(100) == b"hello unix:"
        assert child.wait(TIMEOUT) == 0
    finally:
        if child.poll() is None:
            child.kill()
        _out, err = child.communicate(timeout=TIMEOUT)
    assert err == ""


# -- peers and addresses -------------------------------------------------------------------------

ipv4s = st.ip_addresses(v=4)
ipv6s = st.ip_addresses(v=6)


@given(ipv4s)
def test_a_mapped_ipv4_peer_is_written_as_ipv4(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert unmapped(str(mapped)) == str(address)
    assert unmapped(f"::FFFF:{address}") == str(address)
    assert peer(socket.AF_INET6, (str(mapped), 80, 0, 0)) == (str(address), 80)


@given(st.one_of(ipv4s, ipv6s))
def test_other_addresses_are_unchanged(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return
    assert unmapped(str(address)) == str(address)


@given(st.text(max_size=60))
def test_unmapped_never_raises_and_changes_only_mapped_text(text: str) -> None:
    result = unmapped(text)
    if result != text:
        assert ipaddress.IPv6Address(text).ipv4_mapped == ipaddress.IPv4Address(result)


def test_a_unix_peer_has_no_address_to_show() -> None:
    assert peer(socket.AF_UNIX, "") == ("unix:", 0)
    assert peer(socket.AF_UNIX, "/tmp/client.sock") == ("unix:", 0)
    assert peer_text("unix:", 0) == "unix:"
    assert peer(socket.AF_INET, ("203.0.113.9", 51000)) == ("203.0.113.9", 51000)


@given(st.one_of(ipv4s, ipv6s), st.integers(0, 65535))
def test_a_peer_text_and_a_url_give_back_the_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> None:
    host = str(address)
    for text in (peer_text(host, port), url_authority(host, port)):
        parts = urllib.parse.urlsplit(f"http://{text}/")
        assert ipaddress.ip_address(parts.hostname or "") == address
        assert parts.port == port


def test_a_zone_is_percent_encoded_in_a_url() -> None:
    assert url_authority("fe80::1%eth0", 8000) == "[fe80::1%25eth0]:8000"
