"""The HTTP/1.x grammar the core accepts, each rule under the ABNF it implements.

The hot paths avoid regular expressions over whole heads: Python's regex engine costs
several nanoseconds per byte. They check character classes with ``bytes.translate``
(one C pass that deletes every allowed byte; anything left over is an error) and use
the patterns below only on short pieces (a start line, a chunk-size line) or on the
slow path that explains an error.
"""

from __future__ import annotations

import re

__all__ = [
    "ABSOLUTE_FORM",
    "AUTHORITY_FORM",
    "CHUNK_EXT",
    "FIELD_VCHARS",
    "HEXDIGITS",
    "HTTP_VERSION",
    "SCHEME_PREFIX",
    "STATUS_LINE",
    "TARGET_CHARS",
    "TOKEN_CHARS",
]

# RFC 9110 §5.6.2:
#   token = 1*tchar
#   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
#           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
TOKEN_CHARS = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"

# RFC 9110 §5.5:
#   field-value = *field-content
#   field-vchar = VCHAR / obs-text          ; %x21-7E / %x80-FF
#   field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
# Every byte a field line may hold: HTAB, SP, VCHAR and obs-text. CR, LF, NUL and the
# other controls are not among them (RFC 9110 §5.5: "a recipient ... MUST either
# reject the message or replace each of those characters with SP").
FIELD_VCHARS = bytes([0x09]) + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))

# RFC 9112 §7.1: chunk-size = 1*HEXDIG
HEXDIGITS = b"0123456789abcdefABCDEF"


# RFC 9112 §3:
#   request-line   = method SP request-target SP HTTP-version
#   method         = token
# request-target (RFC 9112 §3.2) is one of origin-, absolute-, authority- or
# asterisk-form: all of them printable ASCII without spaces (RFC 3986 §2), so VCHAR
# admits every form and nothing that could be read as a second field.
TARGET_CHARS = bytes(range(0x21, 0x7F))

# RFC 3986, the parts of a target that say where it points:
#   scheme      = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )                  (§3.1)
#   authority   = [ userinfo "@" ] host [ ":" port ]                          (§3.2)
#   userinfo    = *( unreserved / pct-encoded / sub-delims / ":" )            (§3.2.1)
#   host        = IP-literal / IPv4address / reg-name                         (§3.2.2)
#   IP-literal  = "[" ( IPv6address / IPvFuture  ) "]"
#   IPvFuture   = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
#   reg-name    = *( unreserved / pct-encoded / sub-delims )
#   port        = *DIGIT                                                       (§3.2.3)
#   unreserved  = ALPHA / DIGIT / "-" / "." / "_" / "~"                        (§2.3)
#   sub-delims  = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
#   pct-encoded = "%" HEXDIG HEXDIG                                            (§2.1)
# IPv4address is a reg-name too, as far as the bytes go. The IPv6address inside the
# brackets is only roughed out here (hex digits, colons, dots); ``_targets`` checks it
# with ``ipaddress``. A host must not be empty (RFC 9110 §4.2.1: "A recipient that
# processes such a URI reference MUST reject it as invalid").
_UNRESERVED_SUB_DELIMS = rb"A-Za-z0-9\-._~!$&'()*+,;="
_PCT_ENCODED = rb"%[0-9A-Fa-f]{2}"
_USERINFO = rb"(?:[" + _UNRESERVED_SUB_DELIMS + rb":]|" + _PCT_ENCODED + rb")*"
_HOST = (
    rb"(?P<host>\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[" + _UNRESERVED_SUB_DELIMS + rb":]+)\]"
    rb"|(?:[" + _UNRESERVED_SUB_DELIMS + rb"]|" + _PCT_ENCODED + rb")+)"
)
_SCHEME = rb"[A-Za-z][A-Za-z0-9+\-.]*"

# RFC 9112 §3.2.2: absolute-form = absolute-URI, and RFC 3986 §4.3:
#   absolute-URI = scheme ":" hier-part [ "?" query ]
#   hier-part    = "//" authority path-abempty / path-absolute / path-rootless / path-empty
# A request names a server, so its absolute-URI is the "//" authority alternative, as
# every http and https URI is (RFC 9110 §4.2): without it, ``example.com:443`` would be
# an absolute-URI of the scheme "example.com", not the authority-form it is. What
# follows the authority is checked as an origin-form is (VCHAR, see TARGET_CHARS).
SCHEME_PREFIX = re.compile(_SCHEME + rb"://")
ABSOLUTE_FORM = re.compile(
    _SCHEME + rb"://(?:" + _USERINFO + rb"@)?" + _HOST + rb"(?::[0-9]*)?(?=[/?#]|\Z)"
)

# RFC 9112 §3.2.3: authority-form = uri-host ":" port. No userinfo, and a port: "There
# is no default port; a client MUST send the port number" (RFC 9110 §9.3.6).
AUTHORITY_FORM = re.compile(_HOST + rb":(?P<port>[0-9]{1,5})")

# RFC 9112 §2.3:
#   HTTP-version  = HTTP-name "/" DIGIT "." DIGIT
#   HTTP-name     = %s"HTTP"
HTTP_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")

# RFC 9112 §4:
#   status-line = HTTP-version SP status-code SP [ reason-phrase ]
#   status-code = 3DIGIT
#   reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
# The SP before an empty reason phrase is optional here: servers that drop it are
# common and nothing is ambiguous without it.
STATUS_LINE = re.compile(
    rb"HTTP/(?P<version>[0-9]\.[0-9]) (?P<status>[0-9]{3})(?: (?P<reason>[\t\x20-\x7e\x80-\xff]*))?"
)

# RFC 9112 §7.1.1:
#   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
#   chunk-ext-name = token
#   chunk-ext-val  = token / quoted-string
# RFC 9110 §5.6.4:
#   quoted-string  = DQUOTE *( qdtext / quoted-pair ) DQUOTE
#   qdtext         = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
#   quoted-pair    = "\" ( HTAB / SP / VCHAR / obs-text )
_QUOTED_STRING = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
CHUNK_EXT = re.compile(
    rb"(?:[ \t]*;[ \t]*"
    + _TOKEN
    + rb"(?:[ \t]*=[ \t]*(?:"
    + _TOKEN
    + rb"|"
    + _QUOTED_STRING
    + rb"))?)*"
)
