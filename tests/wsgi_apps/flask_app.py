"""A Flask application for the integration tests and the benchmark (``flask_app:app``).

Each route exercises one thing a real application does: query strings, JSON, a form,
a multipart upload, a raw (possibly chunked) body, a streamed response, a file, an
error, and a slow route.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.validate import validator

from flask import Flask, Response, jsonify, request, send_file, url_for

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]
flask_app = Flask(__name__)
DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static.txt")


@flask_app.get("/")
def index() -> str:
    return "Hello from Flask"


@flask_app.get("/json")
def json_route() -> Response:
    return jsonify(hello=request.args.get("name", "world"), args=request.args.to_dict(flat=False))


@flask_app.post("/form")
def form() -> Response:
    return jsonify(form=request.form.to_dict(flat=False))


@flask_app.post("/upload")
def upload() -> Response:
    files = {
        name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, storage in request.files.items()
        for data in [storage.read()]
    }
    return jsonify(files=files, fields=request.form.to_dict())


@flask_app.post("/echo")
def echo() -> Response:
    data = request.get_data()
    return jsonify(size=len(data), sha256=hashlib.sha256(data).hexdigest())


@flask_app.get("/stream")
def stream() -> Response:
    count = int(request.args.get("n", "10"))

    def generate() -> Iterator[bytes]:
        for i in range(count):
            yield b"chunk %d\n" % i

    return Response(generate(), mimetype="text/plain")


@flask_app.get("/file")
def file() -> Response:
    return send_file(DATA_FILE, mimetype="text/plain")


@flask_app.get("/boom")
def boom() -> str:
    raise RuntimeError("boom from the Flask app")


@flask_app.get("/slow")
def slow() -> str:
    time.sleep(float(request.args.get("s", "1")))
    return "slow"


@flask_app.get("/quick")
def quick() -> str:
    return "quick"


@flask_app.get("/origin")
def origin() -> Response:
    """What the application believes about where the request came from."""
    return jsonify(
        secure=request.is_secure,
        remote_addr=request.remote_addr,
        uri=request.url,
        url_for=url_for("origin"),
        external=url_for("origin", _external=True),
    )


def unwrap_input(inner: WSGIApp) -> WSGIApp:
    """Give ``inner`` the server's own ``wsgi.input``. The validator's input wrapper
    refuses ``read()`` without a size, but with ``wsgi.input_terminated`` a server lets
    it read to the end of the body, and Werkzeug relies on that (``get_data()``).
    Everything else stays checked by the validator around this."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["wsgi.input"] = environ["wsgi.input"].input
        return inner(environ, start_response)

    return app


app = validator(unwrap_input(flask_app))
"""The application served in the tests, checked by ``wsgiref.validate``."""

bench_app = flask_app
"""The same application unwrapped, for the benchmark."""
