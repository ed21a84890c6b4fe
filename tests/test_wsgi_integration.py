"""Real applications through real sockets: a Flask app and a Django project (configured
in code) served by ``python -m driver --wsgi``, each wrapped in
``wsgiref.validate.validator`` (see ``wsgi_apps/``), with the standard library's HTTP
client: routes, query strings, JSON, forms, a 5 MiB multipart upload, a chunked
upload, a streamed response, a file, 404, 500, and a slow route that must not hold
up quick requests on other connections."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server_helpers import ServerProcess, running_server

APPS = Path(__file__).resolve().parent / "wsgi_apps"
FRAMEWORKS = {"flask": "flask_app:app", "django": "django_app:app"}


@pytest.fixture(scope="module", params=sorted(FRAMEWORKS))
def framework(request: pytest.FixtureRequest) -> Iterator[tuple[str, ServerProcess]]:
    name = request.param
    with running_server("--wsgi", FRAMEWORKS[name], cwd=APPS) as server:
        yield name, server


def fetch(
    server: ServerProcess,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    headers = headers or {}
    try:
        conn.request(
            method,
            path,
            body=body,
            headers=headers,
            encode_chunked=headers.get("Transfer-Encoding") == "chunked",
        )
        response = conn.getresponse()
        return response.status, response, response.read()
    finally:
        conn.close()


def test_routes_query_strings_and_json(framework: tuple[str, ServerProcess]) -> None:
    name, server = framework
    status, _, body = fetch(server, "GET", "/")
    assert (status, body) == (200, f"Hello from {name.capitalize()}".encode())
    status, response, body = fetch(server, "GET", "/json?name=h10%20server&a=1&a=2&empty=")
    assert status == 200
    assert response.getheader("content-type", "").startswith("application/json")
    assert json.loads(body) == {
        "hello": "h10 server",
        "args": {"name": ["h10 server"], "a": ["1", "2"], "empty": [""]},
    }


def test_form_post(framework: tuple[str, ServerProcess]) -> None:
    _, server = framework
    status, _, body = fetch(
        server,
        "POST",
        "/form",
        body="a=1&a=2&text=caf%C3%A9+au+lait",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert json.loads(body) == {"form": {"a": ["1", "2"], "text": ["café au lait"]}}


def test_multipart_upload_of_5_mib(framework: tuple[str, ServerProcess]) -> None:
    _, server = framework
    data = os.urandom(5 * 1024 * 1024)
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="data.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode(),
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    status, _, answer = fetch(
        server,
        "POST",
        "/upload",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )
    assert status == 200, answer[:500]
    assert json.loads(answer) == {
        "files": {"file": {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}},
        "fields": {"note": "hi"},
    }


def test_chunked_upload(framework: tuple[str, ServerProcess]) -> None:
    name, server = framework
    pieces = [os.urandom(n) for n in (1, 1000, 70_000, 5)]
    whole = b"".join(pieces)
    status, _, answer = fetch(
        server,
        "POST",
        "/echo",
        body=iter(pieces),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream"},
    )
    assert status == 200
    if name == "flask":
        # Werkzeug reads a body of unknown length because wsgi.input_terminated is set.
        digest = hashlib.sha256(whole).hexdigest()
        assert json.loads(answer) == {"size": len(whole), "sha256": digest}
    else:
        # Django reads CONTENT_LENGTH bytes and nothing else: a chunked body (which has
        # no length) reaches it empty, as under gunicorn. Known, and kept visible here.
        assert json.loads(answer)["size"] == 0


def test_streamed_response(framework: tuple[str, ServerProcess]) -> None:
    _, server = framework
    status, response, body = fetch(server, "GET", "/stream?n=2000")
    assert status == 200
    assert response.getheader("transfer-encoding") == "chunked"
    assert body == b"".join(b"chunk %d\n" % i for i in range(2000))


def test_not_found_and_server_error_then_the_server_goes_on(
    framework: tuple[str, ServerProcess],
) -> None:
    name, server = framework
    assert fetch(server, "GET", "/no/such/page")[0] == 404
    status, _, _ = fetch(server, "GET", "/boom")
    assert status == 500
    server.wait_for_log(f"boom from the {name.capitalize()} app")
    assert fetch(server, "GET", "/quick")[2] == b"quick"


def test_a_slow_route_does_not_delay_quick_requests_elsewhere(
    framework: tuple[str, ServerProcess],
) -> None:
    _, server = framework
    slow_result: list[bytes] = []
    slow = threading.Thread(target=lambda: slow_result.append(fetch(server, "GET", "/slow?s=1")[2]))
    slow.start()
    time.sleep(0.1)  # the slow request is in the application
    quick_results: list[bytes] = []
    lock = threading.Lock()

    def quick() -> None:
        body = fetch(server, "GET", "/quick")[2]
        with lock:
            quick_results.append(body)

    started = time.monotonic()
    threads = [threading.Thread(target=quick) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    elapsed = time.monotonic() - started
    slow.join(10)
    assert quick_results == [b"quick"] * 20
    assert slow_result == [b"slow"]
    # Loose: the quick ones would take >= 0.9 s if the slow one held the server.
    assert elapsed < 0.8, f"20 quick requests took {elapsed:.2f} s next to a slow one"


def test_a_file_response(framework: tuple[str, ServerProcess]) -> None:
    """Flask's send_file and Django's FileResponse (both use wsgi.file_wrapper)."""
    _, server = framework
    status, _, body = fetch(server, "GET", "/file")
    assert (status, body) == (200, (APPS / "static.txt").read_bytes())
