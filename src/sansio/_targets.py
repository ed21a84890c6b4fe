"""Request targets: which of the four forms a target has, which methods may use it, and
the path and query it names. The one home of these rules, for the reader, the writer
and the server that serves the target.

RFC 9112 §3.2::

    request-target = origin-form / absolute-form / authority-form / asterisk-form
    origin-form    = absolute-path [ "?" query ]      ; §3.2.1, any method
    absolute-form  = absolute-URI                     ; §3.2.2, any method but CONNECT
    authority-form = uri-host ":" port                ; §3.2.3, CONNECT only
    asterisk-form  = "*"                              ; §3.2.4, OPTIONS only

"The authority-form of request-target is only used for CONNECT requests" (§3.2.3), and
a CONNECT must use it ("A client sending a CONNECT request MUST send the authority form
of request-target", RFC 9110 §9.3.6): a tunnel needs a host and port to go to. "The
asterisk-form of request-target is only used for a server-wide OPTIONS request"
(§3.2.4). Anything else is a 400 that names the form, on the way in and (as a
``LocalProtocolError``) on the way out.

Theory of operation: almost every target starts with "/", and the bytes of every target
are checked against ``TARGET_CHARS`` before it gets here, so the caller asks this module
only about a target that does not start with "/" or whose method is CONNECT: one
C-level test on the hot path. The other forms are rare and checked by regex.
"""

from __future__ import annotations

import ipaddress

from ._errors import ProtocolError
from ._grammar import ABSOLUTE_FORM, AUTHORITY_FORM, SCHEME_PREFIX

__all__ = ["check_target_form", "target_path"]

Error = type[ProtocolError]

_SLASH = 0x2F


def check_target_form(method: bytes, target: bytes, error: Error) -> None:
    """Raise ``error`` unless ``target`` (non-empty, VCHAR only) is in a form that
    ``method`` may use."""
    if method == b"CONNECT":
        if _authority_form(target):
            return
        raise error(
            f"CONNECT needs an authority-form request target (host:port), not {target[:60]!r}"
        )
    if target[0] == _SLASH:
        return
    if target == b"*":
        if method == b"OPTIONS":
            return
        raise error(
            f"the asterisk-form request target '*' is only for OPTIONS, "
            f"not {method[:20].decode('latin-1')}"
        )
    if SCHEME_PREFIX.match(target) is not None:
        if _absolute_form(target):
            return
        raise error(f"invalid absolute-form request target {target[:60]!r} (RFC 3986 §4.3)")
    if _authority_form(target):
        raise error(
            f"the authority-form request target {target[:60]!r} is only for CONNECT, "
            f"not {method[:20].decode('latin-1')}"
        )
    raise error(
        f"request target {target[:60]!r} is in no request-target form: an origin-form "
        "starts with '/', an absolute-form with 'scheme://'"
    )


def target_path(target: bytes) -> tuple[bytes, bytes]:
    """The path and the query of a request target, as sent (still percent-encoded).

    Whatever the target's form: ``/a/b?x=1`` gives ``(b"/a/b", b"x=1")``; an
    absolute-form target gives the path of its URI, ``/`` when that is empty
    (``http://h?x`` gives ``(b"/", b"x")``, RFC 9112 §3.2.1), whatever the case of its
    scheme; ``*`` gives ``(b"*", b"")`` and an authority-form target (CONNECT)
    ``(b"", b"")``: neither names a path. A fragment (``#...``, which RFC 9112 does not
    allow in a target, and which servers ignore) is dropped. Any other bytes, which the
    core never accepts as a target, raise ``ValueError``.

    A server that maps targets to files or routes (``PATH_INFO``) asks this rather than
    cutting the target itself, so that ``GET http://h/admin`` and ``GET /admin`` are the
    same path to it.
    """
    if target[:1] != b"/":
        if target == b"*":
            return target, b""
        match = ABSOLUTE_FORM.match(target)
        if match is not None and _valid_host(match.group("host")):
            target = target[match.end() :]
            if target[:1] != b"/":
                target = b"/" + target
        elif _authority_form(target):
            return b"", b""
        else:
            raise ValueError(f"not a request target: {target[:60]!r}")
    fragment = target.find(b"#")
    if fragment >= 0:
        target = target[:fragment]
    path, _, query = target.partition(b"?")
    return path, query


def _absolute_form(target: bytes) -> bool:
    match = ABSOLUTE_FORM.match(target)
    return match is not None and _valid_host(match.group("host"))


def _authority_form(target: bytes) -> bool:
    match = AUTHORITY_FORM.fullmatch(target)
    return (
        match is not None
        and int(match.group("port")) <= 0xFFFF
        and _valid_host(match.group("host"))
    )


def _valid_host(host: bytes) -> bool:
    # The grammar only roughs out an IPv6address (hex digits, colons and dots between
    # the brackets): it must be one (RFC 3986 §3.2.2).
    if host[:1] != b"[" or host[1:2] == b"v":
        return True
    try:
        ipaddress.IPv6Address(host[1:-1].decode("ascii"))
    except ValueError:
        return False
    return True
