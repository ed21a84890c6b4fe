"""Loading a WSGI application named on the command line (``--wsgi module:app``).

A command-line concern, next to ``driver.cli``: ``driver.wsgi`` serves an application
object and never imports one by name.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not at run time: driver.wsgi re-exports this module's names
    from .wsgi.call import WSGIApp

__all__ = ["AppLoadError", "load_app"]


_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


class AppLoadError(Exception):
    """``module:attribute`` does not name a WSGI application; the message is one line
    for the command line (which exits with 2)."""


def load_app(spec: str) -> WSGIApp:
    """Import ``module:attribute`` (``module`` alone means ``module:application``).

    A spec that is malformed, a module that does not exist, an attribute that is
    missing or not callable raise ``AppLoadError``; an exception raised while the
    module itself runs (an ImportError inside it included) propagates as it is, with
    its traceback, since that is a bug in the application, not in the command line."""
    module_name, colon, attribute = spec.partition(":")
    if colon and not attribute:
        raise AppLoadError(f"--wsgi {spec!r}: nothing after ':' (expected MODULE:APP)")
    attribute = attribute or "application"
    if not _DOTTED.match(module_name) or not _DOTTED.match(attribute):
        raise AppLoadError(
            f"--wsgi {spec!r}: expected MODULE:APP, such as myproject.wsgi:application"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise AppLoadError(
                f"--wsgi {spec}: no module named {missing!r} "
                "(looked in the current directory and on sys.path)"
            ) from None
        raise
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AppLoadError(
                f"--wsgi {spec}: {module_name!r} has no attribute {attribute!r}"
            ) from None
    if not callable(target):
        raise AppLoadError(
            f"--wsgi {spec}: {attribute!r} is not callable (it is {type(target).__name__})"
        )
    return target  # type: ignore[no-any-return]
