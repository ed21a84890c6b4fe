"""A Flask JSON route for ``serve.py``'s WSGI workload: what a small API answers."""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

app = Flask(__name__)


@app.get("/json")
def json_route() -> ResponseReturnValue:
    return jsonify(message="Hello, world!", items=[1, 2, 3])
