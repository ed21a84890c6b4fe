"""``install()``: make ``import h11`` give the facade, for code imported afterwards.

It puts this package and its submodules in ``sys.modules`` under ``h11`` and
``h11._connection`` ..., so uvicorn's ``from h11._connection import
DEFAULT_MAX_INCOMPLETE_EVENT_SIZE`` resolves too. h11's parser modules (``_readers``,
``_receivebuffer``, ``_writers``, ``_abnf``) have no counterpart, the facade having no
parser of its own: importing one raises an ``ImportError`` that says so.

If the real ``h11`` is already imported, ``install()`` refuses with a ``RuntimeError``
naming it: the modules that imported it hold its classes, and events of one library
passed to the other fail in ways far from the cause. Call it first thing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["install", "installed"]

SUBMODULES = ("_connection", "_events", "_headers", "_state", "_util", "_version")
"""h11's submodules that third-party code imports names from, and the facade has."""

PARSER_MODULES = ("_abnf", "_readers", "_receivebuffer", "_writers")


class _NoParserModules(importlib.abc.MetaPathFinder):
    """Refuses h11's parser modules with a message, instead of a bare 'no module'."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.startswith("h11.") and fullname[4:] in PARSER_MODULES:
            raise ImportError(
                f"{fullname} is h11's own parser; sansio.h11compat (installed as h11) "
                "has none and parses with the h10 core",
                name=fullname,
            )
        return None


def installed() -> bool:
    """Whether ``import h11`` gives the facade."""
    return getattr(sys.modules.get("h11"), "__name__", None) == __package__


def install() -> None:
    """Make later ``import h11`` (and its submodules) give ``sansio.h11compat``.

    Idempotent. Raises ``RuntimeError`` if the real h11 is already imported.
    """
    if installed():
        return
    if "h11" in sys.modules:
        real = sys.modules["h11"]
        raise RuntimeError(
            f"h11 is already imported (from {getattr(real, '__file__', real)!r}): call "
            "sansio.h11compat.install() before anything imports h11 (httpx, httpcore, "
            "uvicorn's h11 protocol)"
        )
    package = sys.modules[__package__]
    sys.modules["h11"] = package
    for name in SUBMODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        sys.modules[f"h11.{name}"] = module
    sys.meta_path.insert(0, _NoParserModules())
