"""Trusted proxy headers and ``--root-path`` through a real server.

``python -m driver`` over TCP from 127.0.0.1, which the default
``--forwarded-allow-ips`` trusts, with http.client as the "proxy": the
``X-Forwarded-*`` and ``Forwarded`` headers it sends reach the WSGI environ, the
native ``HTTPRequest`` (simple and streaming apps, on a loop thread) and the access
log; with 127.0.0.1 out of the allow list (the option, ``$FORWARDED_ALLOW_IPS``) or
proxy headers off, the same requests give exactly what they give without the headers.
Malformed values are ignored, never a 500. ``--root-path`` gives ``SCRIPT_NAME``, and
Flask's ``url_for`` and Django's ``reverse`` write links under the prefix.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import driver

from server_helpers import SRC, ServerProcess, running_server, threaded_server, trigger

__all__ = ["trigger"]

APPS = Path(__file__).resolve().parent / "wsgi_apps"

# The environ keys a proxy header may change, as JSON.
ENV_APP = """
import json

KEYS = ("REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME",
        "SERVER_PORT", "SCRIPT_NAME", "PATH_INFO")


def app(environ, start_response):
    body = json.dumps({key: environ.get(key) for key in KEYS}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""


@pytest.fixture(scope="module")
def env_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("envapp")
    (path / "envapp.py").write_text(ENV_APP)
    return path


def get(
    port: int,
    path: str = "/env",
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    """One GET (on ``conn`` if given, kept open); ``headers`` may repeat names."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if not any(name.lower() == "host" for name, _ in pairs):
            pairs.insert(0, ("Host", "example.test"))
        for name, value in pairs:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


def environ_of(port: int, headers: Any = None, path: str = "/env") -> dict[str, Any]:
    status, body = get(port, path, headers)
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


@pytest.fixture(scope="module")
def env_server(env_dir: Path) -> Iterator[ServerProcess]:
    with running_server("--wsgi", "envapp:app", cwd=env_dir) as server:
        yield server


PROXIED = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7", "X-Forwarded-Proto": "https"}


def test_trusted_peer_x_forwarded_for_and_proto(env_server: ServerProcess) -> None:
    environ = environ_of(env_server.port, PROXIED)
    assert environ["REMOTE_ADDR"] == "203.0.113.7"  # the right-most untrusted hop
    assert environ["REMOTE_PORT"] == "0"  # a proxy gives no port: 0, as uvicorn
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["HTTP_HOST"] == "example.test"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("example.test", "443")
    env_server.wait_for_log("203.0.113.7 - - [")
    line = next(x for x in env_server.stderr.splitlines() if x.startswith("203.0.113.7 "))
    assert '"GET /env HTTP/1.1" 200' in line


def test_each_request_on_a_connection_is_resolved_on_its_own(env_server: ServerProcess) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", env_server.port, timeout=10)
    try:
        first = json.loads(get(env_server.port, "/env", PROXIED, conn)[1])
        second = json.loads(get(env_server.port, "/env", None, conn)[1])
    finally:
        conn.close()
    assert (first["REMOTE_ADDR"], first["wsgi.url_scheme"]) == ("203.0.113.7", "https")
    assert (second["REMOTE_ADDR"], second["wsgi.url_scheme"]) == ("127.0.0.1", "http")


def test_a_trusted_chain_is_walked_to_its_first_untrusted_hop(env_server: ServerProcess) -> None:
    headers = {"X-Forwarded-For": "192.0.2.1, 203.0.113.7, ::1, 127.0.0.1"}
    assert environ_of(env_server.port, headers)["REMOTE_ADDR"] == "203.0.113.7"
    # Two header lines are one list (RFC 9110 §5.3), the last line's entry right-most.
    lines = [("X-Forwarded-For", "192.0.2.1"), ("X-Forwarded-For", "203.0.113.8")]
    assert environ_of(env_server.port, lines)["REMOTE_ADDR"] == "203.0.113.8"


def test_forwarded_rfc7239(env_dir: Path) -> None:
    with running_server(
        "--wsgi", "envapp:app", "--proxy-headers", "forwarded", cwd=env_dir
    ) as server:
        headers = {
            "Forwarded": 'for=192.0.2.60;proto=http, for="[2001:db8::1]:4711";'
            'proto=https;host="shop.example:8443"'  # ":" is no tchar: quoted
        }
        environ = environ_of(server.port, headers)
        assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("2001:db8::1", "4711")
        assert environ["wsgi.url_scheme"] == "https"
        assert environ["HTTP_HOST"] == "shop.example:8443"
        assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("shop.example", "8443")
        server.wait_for_log("2001:db8::1 - - [")
        # X-Forwarded-* are not what this proxy sets: a client's are ignored.
        assert environ_of(server.port, PROXIED)["REMOTE_ADDR"] == "127.0.0.1"


def test_x_forwarded_host_and_port_when_listed(env_dir: Path) -> None:
    listed = "x-forwarded-for,x-forwarded-proto,x-forwarded-host,x-forwarded-port"
    with running_server("--wsgi", "envapp:app", "--proxy-headers", listed, cwd=env_dir) as server:
        headers = {**PROXIED, "X-Forwarded-Host": "Shop.Example", "X-Forwarded-Port": "8443"}
        environ = environ_of(server.port, headers)
        assert environ["HTTP_HOST"] == "shop.example:8443"
        assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("shop.example", "8443")
    # Not listed (the default): X-Forwarded-Host is the client's own, and ignored.
    with running_server("--wsgi", "envapp:app", cwd=env_dir) as server:
        environ = environ_of(server.port, {**PROXIED, "X-Forwarded-Host": "evil.example"})
        assert environ["HTTP_HOST"] == "example.test"
        assert environ["SERVER_NAME"] == "example.test"


UNTRUSTING = [
    ["--forwarded-allow-ips", "10.0.0.1"],
    ["--forwarded-allow-ips", ""],
    ["--no-proxy-headers"],
]


@pytest.mark.parametrize("options", UNTRUSTING, ids=["other-ip", "nobody", "off"])
def test_an_untrusted_peer_changes_nothing(env_dir: Path, options: list[str]) -> None:
    with running_server("--wsgi", "envapp:app", *options, cwd=env_dir) as server:
        plain = environ_of(server.port)
        headers = {**PROXIED, "Forwarded": "for=192.0.2.1;proto=https;host=evil.example"}
        proxied = environ_of(server.port, headers)
        assert proxied.pop("REMOTE_PORT") != "0"
        plain.pop("REMOTE_PORT")
        assert proxied == plain
        assert plain["REMOTE_ADDR"] == "127.0.0.1"
        assert plain["wsgi.url_scheme"] == "http"
        server.wait_for_log('"GET /env HTTP/1.1" 200')
        assert "203.0.113.7" not in server.stderr
        assert "127.0.0.1 - - [" in server.stderr


def test_forwarded_allow_ips_from_the_environment(
    env_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8")
    with running_server("--wsgi", "envapp:app", cwd=env_dir) as server:
        assert environ_of(server.port, PROXIED)["REMOTE_ADDR"] == "127.0.0.1"
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8, 127.0.0.0/8")
    with running_server("--wsgi", "envapp:app", cwd=env_dir) as server:
        assert environ_of(server.port, PROXIED)["REMOTE_ADDR"] == "203.0.113.7"
    # The option wins over the environment.
    with running_server(
        "--wsgi", "envapp:app", "--forwarded-allow-ips", "10.0.0.1", cwd=env_dir
    ) as server:
        assert environ_of(server.port, PROXIED)["REMOTE_ADDR"] == "127.0.0.1"


GARBAGE = [
    {"X-Forwarded-For": "not-an-ip"},
    {"X-Forwarded-For": "1.2.3.4:99999"},
    {"X-Forwarded-For": "[::1]:80x"},
    {"X-Forwarded-For": "caf\xe9, 127.0.0.1"},  # obs-text: the core lets it through
    {"X-Forwarded-For": ", , ,"},
    {"X-Forwarded-For": ", ".join(["127.0.0.1"] * 200)},
    {"X-Forwarded-For": "300.1.1.1"},
    {"X-Forwarded-Proto": "gopher"},
    {"X-Forwarded-Proto": "https, http"},
    {"X-Forwarded-Proto": ""},
    {"X-Forwarded-Proto": "h\xfftps"},
]


@pytest.mark.parametrize("headers", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_ignored_never_a_500(env_server: ServerProcess, headers: dict[str, str]) -> None:
    environ = environ_of(env_server.port, headers)
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["wsgi.url_scheme"] == "http"


FORWARDED_GARBAGE = [
    "for=",
    "for=unknown;for=1.2.3.4",
    'for="[::1"',
    "for=1.2.3.4;proto=ht tp",
    "for=1.2.3.4;host=a/b",
    "proto=https;;;,,,",
    '"',
    "for=" + "x" * 10000,
]


def test_forwarded_garbage_is_ignored_never_a_500(env_dir: Path) -> None:
    with running_server(
        "--wsgi", "envapp:app", "--proxy-headers", "forwarded", cwd=env_dir
    ) as server:
        for value in FORWARDED_GARBAGE:
            environ = environ_of(server.port, {"Forwarded": value})
            assert environ["REMOTE_ADDR"] == "127.0.0.1", value
            assert environ["HTTP_HOST"] == "example.test", value
        # The same server does read a well-formed one.
        assert environ_of(server.port, {"Forwarded": "for=192.0.2.1"})["REMOTE_ADDR"] == (
            "192.0.2.1"
        )


def test_hello_access_log_shows_the_forwarded_client() -> None:
    # --hello is a simple native app on the memoised fast path.
    with running_server("--hello") as server:
        for _ in range(3):
            assert get(server.port, "/", PROXIED)[0] == 200
        assert get(server.port, "/plain")[0] == 200
        server.wait_for_log('"GET /plain HTTP/1.1" 200')
        lines = [x for x in server.stderr.splitlines() if '"GET /' in x]
        assert sum(x.startswith("203.0.113.7 - - [") for x in lines) == 3
        assert lines[-1].startswith("127.0.0.1 - - [")


# -- the native HTTPRequest ---------------------------------------------------------------


def _fields(request: driver.HTTPRequest) -> bytes:
    return json.dumps(
        {
            "client": list(request.client),
            "scheme": request.scheme,
            "host": request.host,
            "server_port": request.server_port,
            "root_path": request.root_path,
            "peer": None if request.peer is None else request.peer[0],
        }
    ).encode()


def simple_app(request: driver.HTTPRequest) -> driver.Reply:
    return driver.Reply(200, ((b"content-type", b"application/json"),), _fields(request))


class StreamingEcho:
    def handle_exchange(self, exchange: driver.Exchange) -> None:
        exchange.respond(simple_app(exchange.request))


@pytest.mark.parametrize("kind", ["simple", "streaming"])
def test_native_request_fields(trigger: list[str], kind: str) -> None:
    app: Any = simple_app if kind == "simple" else StreamingEcho()
    listed = "x-forwarded-for,x-forwarded-proto,x-forwarded-host"
    with threaded_server(app, trigger, proxy_headers=listed, root_path="/app") as server:
        headers = {**PROXIED, "X-Forwarded-Host": "shop.example"}
        status, body = get(server.port, "/app/x?y", headers)
        assert status == 200
        assert json.loads(body) == {
            "client": ["203.0.113.7", 0],
            "scheme": "https",
            "host": "shop.example",
            "server_port": 443,
            "root_path": "/app",
            "peer": "127.0.0.1",
        }
        plain = json.loads(get(server.port, "/application")[1])
        assert plain["client"][0] == "127.0.0.1" and plain["client"][1] > 0
        assert (plain["scheme"], plain["host"], plain["server_port"]) == ("http", None, None)
        assert (plain["root_path"], plain["peer"]) == ("", None)
    with threaded_server(app, trigger, forwarded_allow_ips="10.0.0.1") as server:
        untrusted = json.loads(get(server.port, "/", PROXIED)[1])
        assert untrusted["client"][0] == "127.0.0.1"
        assert (untrusted["scheme"], untrusted["peer"]) == ("http", None)


def test_native_request_positional_fields_stay_compatible() -> None:
    request = driver.HTTPRequest(b"GET", b"/", (), b"1.1", b"", ("127.0.0.1", 1), "https")
    assert (request.scheme, request.host, request.root_path, request.peer) == (
        "https",
        None,
        "",
        None,
    )


# -- --root-path -------------------------------------------------------------------------


ROOTED = [
    ("/app/x/y?q=1", "/app", "/x/y"),
    ("/app", "/app", ""),
    ("/app/", "/app", "/"),
    ("/%61pp/x", "/app", "/x"),  # PATH_INFO is decoded, and so is the match
    ("/application", "", "/application"),  # a prefix ends at a segment
    ("/other", "", "/other"),
    ("/", "", "/"),
]


def test_root_path_gives_script_name(env_dir: Path) -> None:
    with running_server("--wsgi", "envapp:app", "--root-path", "/app", cwd=env_dir) as server:
        for target, script_name, path_info in ROOTED:
            environ = environ_of(server.port, path=target)
            assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == (script_name, path_info)


@pytest.mark.parametrize("framework", ["flask_app:app", "django_app:app"])
def test_frameworks_write_links_under_the_root_path(framework: str) -> None:
    with running_server("--wsgi", framework, "--root-path", "/app", cwd=APPS) as server:
        status, body = get(server.port, "/app/origin")
        assert status == 200, body
        seen = json.loads(body)
        assert seen["url_for"] == "/app/origin"
        assert seen["external"] == "http://example.test/app/origin"
        assert seen["uri"] == "http://example.test/app/origin"
        status, body = get(server.port, "/app/origin", PROXIED)
        seen = json.loads(body)
        assert (seen["secure"], seen["remote_addr"]) == (True, "203.0.113.7")
        assert seen["external"] == "https://example.test/app/origin"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--root-path", "app"], "--root-path: the root path must start with '/'"),
        (["--root-path", "/app/"], "--root-path: the root path must start with '/'"),
        (["--root-path", "/a b"], "--root-path: the root path must be plain ASCII"),
        (["--forwarded-allow-ips", "proxy.local"], "--forwarded-allow-ips: not an IP address"),
        (["--forwarded-allow-ips", "10.0.0.1/8"], "has host bits set; did you mean 10.0.0.0/8?"),
        (["--proxy-headers", "x-real-ip"], "--proxy-headers: not a proxy header h10 reads"),
        (["--proxy-headers", "forwarded,x-forwarded-for"], "cannot both be trusted"),
        (["--proxy-headers", ","], "--proxy-headers needs at least one header"),
        (["--proxy-headers", "forwarded", "--no-proxy-headers"], "not allowed with argument"),
    ],
)
def test_option_mistakes_are_one_line_and_exit_2(options: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "driver", "--hello", *options],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
