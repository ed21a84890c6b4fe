"""Each request's origin as the server hands it on: client, scheme, host and mount point.

One ``Origins`` per server (``Origins.from_config``, kept on the ``ServerContext``)
holds the trusted proxies of ``--forwarded-allow-ips`` / ``--proxy-headers``
(``driver.forwarded``, which does the reading). Each request's ``HTTPExchange`` asks
``Origins.resolve`` once per request head; the answer, ``None`` or a
``RequestOrigin``, is kept for the length of that request and is the one source of the
``HTTPRequest``'s client, scheme and host (``make_request``), hence of the WSGI
environ built from it, and of the access log's client address (``log_host``).

``None`` is the common answer, and the cheap one: no header a proxy of ours sets is
present, or the peer is not trusted. Then the connection's own peer and scheme stand,
and no object is made. A trusted peer's request is scanned for the configured names
only (a set lookup per header line); the walk in ``driver.forwarded`` runs only when
one is there.

``--root-path`` (``mounted``) is decided here too, once per request: a request under
the prefix gets it as ``HTTPRequest.root_path`` (the WSGI ``SCRIPT_NAME``), any other
``""`` and its whole path.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sansio import target_path

from .app import HTTPRequest
from .forwarded import RequestOrigin, TrustedProxies

if TYPE_CHECKING:
    from sansio import Request

    from .config import Config
    from .context import ServerContext

__all__ = ["Origins", "check_root_path", "log_host", "make_request", "mounted"]

log = logging.getLogger("driver")

# Origins kept per (peer, scheme, proxy header lines), and the longest values kept. A
# hit costs 0.6 us against 4-5 us for the walk alone; in the server, interleaved with
# the rest of a request, --hello with X-Forwarded-For + -Proto from a trusted peer took
# 13 us more CPU per request than without them uncached, 2 us cached (wrk, CPU time
# read from /proc), and bench/serve.py's "uds+XFF" row went from 0.61x the plain
# "uds" row to 0.85x (same runs).
_CACHE_SIZE = 1024
_CACHED_VALUES = 256


class Origins:
    """The trusted proxies of one server, asked once per request head."""

    __slots__ = ("_cache", "_names", "proxies")

    def __init__(self, proxies: TrustedProxies) -> None:
        self.proxies = proxies
        self._names = frozenset(name.encode() for name in proxies.headers)
        self._cache: dict[
            tuple[tuple[str, int], str, tuple[tuple[bytes, bytes], ...]], RequestOrigin
        ] = {}

    @classmethod
    def from_config(cls, config: Config) -> Origins | None:
        """``None`` when proxy headers are off (no header listed, or nobody trusted)."""
        proxies = TrustedProxies.parse(config.forwarded_allow_ips, config.proxy_headers)
        if not proxies.headers or not (
            proxies.everyone or proxies.unix or proxies.addresses or proxies.networks
        ):
            return None
        return cls(proxies)

    def resolve(
        self, headers: Iterable[tuple[bytes, bytes]], peer: tuple[str, int], scheme: str
    ) -> RequestOrigin | None:
        """The origin of a request from ``peer``, or ``None``: the peer and ``scheme``
        stand (no proxy header we read is present, or the peer is not trusted)."""
        names = self._names
        for name, _ in headers:
            if name in names:
                break
        else:
            return None
        proxies = self.proxies
        if not proxies.trusts(peer[0]):
            return None
        # A proxy's requests repeat the same values (one client's, on a kept-alive
        # upstream connection): the walk's answer is kept, keyed by all it reads.
        found = tuple(pair for pair in headers if pair[0] in names)
        key = (peer, scheme, found)
        cache = self._cache
        origin = cache.get(key)
        if origin is None:
            origin = proxies.resolve(headers, peer, scheme)
            if sum(len(value) for _, value in found) <= _CACHED_VALUES:
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()  # the values are client-chosen: bound what is kept
                cache[key] = origin
        if origin.ignored:
            # At debug level: a client behind the proxy chooses what passes through.
            log.debug("proxy headers from %s ignored: %s", peer[0], "; ".join(origin.ignored))
        return origin


def mounted(target: bytes, root_path: str) -> bool:
    """Whether the path of ``target`` (percent-decoded, as ``PATH_INFO`` will be) is
    ``root_path`` or below it: ``/app`` mounts ``/app`` and ``/app/x``, never
    ``/application``."""
    path = target_path(target)[0]
    if b"%" in path:
        path = urllib.parse.unquote_to_bytes(path)
    text = path.decode("latin-1")
    return text.startswith(root_path) and text[len(root_path) : len(root_path) + 1] in ("", "/")


def check_root_path(root_path: str) -> str:
    """``root_path`` if it is a usable prefix (``""``, or ``/`` and ASCII path
    characters with no trailing ``/``), else ``ValueError``."""
    if not root_path:
        return root_path
    if not root_path.startswith("/") or root_path.endswith("/"):
        raise ValueError(
            f"the root path must start with '/' and not end with one, got {root_path!r}"
        )
    plain = root_path.isascii() and root_path.isprintable()
    if not plain or any(c in root_path for c in " ?#%"):
        raise ValueError(f"the root path must be plain ASCII path characters, got {root_path!r}")
    return root_path


# HTTPRequest (a named tuple) made without its Python-level __new__: one per request,
# 100 instead of 178 ns (python -m timeit, seven fields).
_new_request = tuple.__new__


def make_request(
    ctx: ServerContext,
    event: Request,
    body: bytes,
    peer: tuple[str, int],
    origin: RequestOrigin | None,
) -> HTTPRequest:
    """The ``HTTPRequest`` for ``event`` from ``peer``, as ``origin`` (if any) says."""
    root = ctx.root_path
    if root and not mounted(event.target, root):
        root = ""
    if origin is None:
        fields: tuple[object, ...] = (
            event.method,
            event.target,
            event.headers,
            event.http_version,
            body,
            peer,
            ctx.scheme,
            None,
            None,
            root,
            None,
        )
    else:
        fields = (
            event.method,
            event.target,
            event.headers,
            event.http_version,
            body,
            (origin.client_host, origin.client_port),
            origin.scheme,
            origin.authority,
            origin.server_port,
            root,
            peer,
        )
    request: HTTPRequest = _new_request(HTTPRequest, fields)
    return request


def log_host(peer: tuple[str, int], origin: RequestOrigin | None) -> str:
    """The client address the access log shows."""
    return peer[0] if origin is None else origin.client_host
