"""A Django project configured in code, for the integration tests (``django_app:app``).

No settings module, no database, no templates: ``settings.configure`` with the URL
patterns below. The views mirror ``flask_app``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.validate import validator

import django  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]

DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static.txt")

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="h10-tests-only",
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
    # Uploads above 1 MiB go to a temporary file, as in production set-ups.
    FILE_UPLOAD_MAX_MEMORY_SIZE=1024 * 1024,
    LOGGING_CONFIG=None,
)
django.setup()

from django.core.wsgi import get_wsgi_application  # type: ignore[import-untyped]  # noqa: E402
from django.http import (  # type: ignore[import-untyped]  # noqa: E402
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path, reverse  # type: ignore[import-untyped]  # noqa: E402


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello from Django", content_type="text/plain")


def json_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"hello": request.GET.get("name", "world"), "args": dict(request.GET.lists())}
    )


def form(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"form": dict(request.POST.lists())})


def upload(request: HttpRequest) -> JsonResponse:
    files = {}
    for name, uploaded in request.FILES.items():
        data = uploaded.read()
        files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return JsonResponse({"files": files, "fields": request.POST.dict()})


def echo(request: HttpRequest) -> JsonResponse:
    data = request.body
    return JsonResponse({"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})


def stream(request: HttpRequest) -> StreamingHttpResponse:
    count = int(request.GET.get("n", "10"))

    def generate() -> Iterator[bytes]:
        for i in range(count):
            yield b"chunk %d\n" % i

    return StreamingHttpResponse(generate(), content_type="text/plain")


def file(request: HttpRequest) -> FileResponse:
    return FileResponse(open(DATA_FILE, "rb"), content_type="text/plain")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom from the Django app")


def slow(request: HttpRequest) -> HttpResponse:
    time.sleep(float(request.GET.get("s", "1")))
    return HttpResponse("slow", content_type="text/plain")


def quick(request: HttpRequest) -> HttpResponse:
    return HttpResponse("quick", content_type="text/plain")


def origin(request: HttpRequest) -> JsonResponse:
    """What the application believes about where the request came from."""
    return JsonResponse(
        {
            "secure": request.is_secure(),
            "remote_addr": request.META["REMOTE_ADDR"],
            "uri": request.build_absolute_uri(),
            "url_for": reverse("origin"),
            "external": request.build_absolute_uri(reverse("origin")),
        }
    )


def _post_only(view: Callable[[HttpRequest], HttpResponse]) -> Any:
    def wrapped(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405, content_type="text/plain")
        return view(request)

    return wrapped


urlpatterns = [
    path("", index),
    path("json", json_view),
    path("form", _post_only(form)),
    path("upload", _post_only(upload)),
    path("echo", _post_only(echo)),
    path("stream", stream),
    path("file", file),
    path("boom", boom),
    path("slow", slow),
    path("quick", quick),
    path("origin", origin, name="origin"),
]

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]
django_app: WSGIApp = get_wsgi_application()


def _unwrap_input(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    # See flask_app.unwrap_input: the validator's input wrapper refuses read() with no
    # size; everything else stays checked.
    environ["wsgi.input"] = environ["wsgi.input"].input
    return django_app(environ, start_response)


app = validator(_unwrap_input)
"""The application served in the tests, checked by ``wsgiref.validate``."""
