"""driver.origin: the per-request answer the server takes from driver.forwarded, its
cache, and the --root-path rules (``mounted``, ``check_root_path``); and the WSGI
environ's ``SERVER_NAME``/``SERVER_PORT`` behind proxies and over a Unix socket."""

from __future__ import annotations

import pytest

from driver.app import HTTPRequest
from driver.forwarded import TrustedProxies
from driver.origin import _CACHE_SIZE, Origins, check_root_path, mounted
from driver.wsgi.environ import EnvironBuilder

XFF = ((b"host", b"h"), (b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https"))


def origins(
    allow: str = "127.0.0.1,::1,unix:", headers: str = "x-forwarded-for,x-forwarded-proto"
) -> Origins:
    return Origins(TrustedProxies.parse(allow, headers))


def test_no_proxy_header_or_an_untrusted_peer_is_none() -> None:
    o = origins()
    assert o.resolve(((b"host", b"h"), (b"user-agent", b"x")), ("127.0.0.1", 1), "http") is None
    assert o.resolve(XFF, ("198.51.100.1", 1), "http") is None
    # A header that is not configured does not count as present.
    assert o.resolve(((b"forwarded", b"for=1.2.3.4"),), ("127.0.0.1", 1), "http") is None


def test_a_trusted_peer_gets_the_walk_s_answer() -> None:
    origin = origins().resolve(XFF, ("unix:", 0), "http")
    assert origin is not None
    assert (origin.client_host, origin.client_port, origin.scheme) == ("203.0.113.7", 0, "https")


def test_the_cache_answers_a_repeat_and_keys_on_everything_the_walk_reads() -> None:
    o = origins()
    first = o.resolve(XFF, ("127.0.0.1", 5), "http")
    assert o.resolve(XFF, ("127.0.0.1", 5), "http") is first
    other = ((b"x-forwarded-for", b"203.0.113.8"),)
    answer = o.resolve(other, ("127.0.0.1", 5), "http")
    assert answer is not None and answer.client_host == "203.0.113.8"
    # A malformed hop leaves the peer as the client: each peer its own port.
    bad = ((b"x-forwarded-for", b"nonsense"),)
    a, b = o.resolve(bad, ("127.0.0.1", 5), "http"), o.resolve(bad, ("127.0.0.1", 6), "http")
    assert a is not None and b is not None
    assert (a.client_port, b.client_port) == (5, 6)
    assert a.ignored and b.ignored
    over_tls = o.resolve(((b"x-forwarded-for", b"203.0.113.7"),), ("127.0.0.1", 5), "https")
    assert over_tls is not None and over_tls.scheme == "https"


def test_the_cache_is_bounded_and_skips_long_values() -> None:
    o = origins()
    for i in range(_CACHE_SIZE + 10):
        o.resolve(((b"x-forwarded-for", b"10.0.%d.%d" % divmod(i, 256)),), ("unix:", 0), "http")
    assert 0 < len(o._cache) <= _CACHE_SIZE
    o._cache.clear()
    long = ", ".join(["203.0.113.7"] * 40).encode()
    answer = o.resolve(((b"x-forwarded-for", long),), ("unix:", 0), "http")
    assert answer is not None and answer.client_host == "203.0.113.7"
    assert not o._cache


def test_from_config_is_none_when_proxy_headers_are_off() -> None:
    from driver import Config

    assert Origins.from_config(Config()) is not None
    assert Origins.from_config(Config(proxy_headers="")) is None
    assert Origins.from_config(Config(forwarded_allow_ips="")) is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"/app", True),
        (b"/app/", True),
        (b"/app/x?q=/app", True),
        (b"/%61pp/x", True),
        (b"http://host/app/x", True),
        (b"/application", False),
        (b"/ap", False),
        (b"/", False),
        (b"/x/app", False),
        (b"*", False),
    ],
)
def test_mounted(target: bytes, expected: bool) -> None:
    assert mounted(target, "/app") is expected


@pytest.mark.parametrize("good", ["", "/app", "/a/b", "/v1.2_x-y~"])
def test_check_root_path_accepts(good: str) -> None:
    assert check_root_path(good) == good


@pytest.mark.parametrize("bad", ["app", "/app/", "/", "/a b", "/a?b", "/a#b", "/%61", "/caf\xe9"])
def test_check_root_path_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="root path"):
        check_root_path(bad)


# -- SERVER_NAME / SERVER_PORT from the host the client asked for ---------------------------


def _environ(request: HTTPRequest) -> dict[str, object]:
    builder = EnvironBuilder(
        server_name="0.0.0.0", server_port="8000", multithread=False, multiprocess=False
    )
    return builder(request, None)


def _request(
    headers: tuple[tuple[bytes, bytes], ...], client: tuple[str, int], **fields: object
) -> HTTPRequest:
    return HTTPRequest(b"GET", b"/", headers, b"1.1", b"", client, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "name", "port"),
    [
        (b"example.test:8080", "example.test", "8080"),
        (b"example.test", "example.test", "80"),
        (b"[::1]:8443", "[::1]", "8443"),
        (b"[::1]", "[::1]", "80"),
    ],
)
def test_over_a_unix_socket_the_server_is_the_host_header(
    host: bytes, name: str, port: str
) -> None:
    environ = _environ(_request(((b"host", host),), ("unix:", 0)))
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == (name, port)


def test_over_a_unix_socket_without_a_host_the_listener_s_name_stands() -> None:
    environ = _environ(_request((), ("unix:", 0)))
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("0.0.0.0", "8000")


def test_over_tcp_without_proxies_the_configured_name_stands() -> None:
    environ = _environ(_request(((b"host", b"example.test:9"),), ("127.0.0.1", 5)))
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("0.0.0.0", "8000")


def test_through_a_proxy_the_forwarded_host_and_port_win() -> None:
    request = _request(
        ((b"host", b"internal:8000"),),
        ("203.0.113.7", 0),
        scheme="https",
        host="shop.example",
        server_port=443,
        peer=("unix:", 0),
    )
    environ = _environ(request)
    assert environ["HTTP_HOST"] == "shop.example"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("shop.example", "443")
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]) == ("203.0.113.7", "https")
    # Only a forwarded scheme: the Host header's name, the scheme's port.
    request = _request(
        ((b"host", b"example.test"),),
        ("203.0.113.7", 0),
        scheme="https",
        server_port=443,
        peer=("127.0.0.1", 1),
    )
    environ = _environ(request)
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("example.test", "443")
