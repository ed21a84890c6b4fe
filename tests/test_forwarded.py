"""Trusted proxy headers (driver.forwarded): vectors from RFC 7239 and real proxies,
the configuration's errors, and properties over any header a client or proxy sends."""

from __future__ import annotations

import contextlib
import ipaddress
import urllib.parse

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from driver.forwarded import (
    DEFAULT_ALLOW_IPS,
    MAX_HOPS,
    PROXY_HEADERS,
    UNIX_PEER,
    RequestOrigin,
    TrustedProxies,
)

LOCAL = ("127.0.0.1", 40000)
STRANGER = ("203.0.113.9", 51000)
ALL_HEADERS = "x-forwarded-for,x-forwarded-proto,x-forwarded-host,x-forwarded-port"


def headers(*pairs: tuple[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.encode(), value.encode("latin-1")) for name, value in pairs)


def resolve(
    *pairs: tuple[str, str],
    allow: str = DEFAULT_ALLOW_IPS,
    names: str = ALL_HEADERS,
    peer: tuple[str, int] = LOCAL,
    scheme: str = "http",
) -> RequestOrigin:
    return TrustedProxies.parse(allow, names).resolve(headers(*pairs), peer, scheme)


# -- the allow list ---------------------------------------------------------------------


def test_the_default_trusts_loopback_in_both_families_and_unix_sockets() -> None:
    proxies = TrustedProxies.parse()
    assert proxies.trusts("127.0.0.1")
    assert proxies.trusts("::1")
    assert proxies.trusts(UNIX_PEER)
    assert not proxies.trusts("127.0.0.2")
    assert not proxies.trusts("10.0.0.1")
    assert proxies.headers == {"x-forwarded-for", "x-forwarded-proto"}


def test_addresses_networks_of_both_families_and_star() -> None:
    proxies = TrustedProxies.parse("10.0.0.0/8, 2001:db8::/32, [fd00::1], 192.0.2.7")
    assert proxies.trusts("10.200.3.4")
    assert proxies.trusts("2001:db8:ffff::1")
    assert proxies.trusts("fd00::1")
    assert proxies.trusts("192.0.2.7")
    assert not proxies.trusts("192.0.2.8")
    assert not proxies.trusts("127.0.0.1")
    assert not proxies.trusts(UNIX_PEER)  # a list of one's own drops the default
    assert TrustedProxies.parse("*").trusts("198.51.100.1")
    assert TrustedProxies.parse("*").trusts("garbage")


def test_an_ipv4_mapped_peer_of_a_dual_stack_listener_matches_its_ipv4_entry() -> None:
    assert TrustedProxies.parse("127.0.0.1").trusts("::ffff:127.0.0.1")
    assert TrustedProxies.parse("10.0.0.0/8").trusts("::ffff:10.1.2.3")


def test_an_empty_list_trusts_nobody() -> None:
    proxies = TrustedProxies.parse("")
    assert not proxies.trusts("127.0.0.1")
    origin = resolve(("x-forwarded-for", "1.2.3.4"), allow="")
    assert origin == RequestOrigin(*LOCAL, "http")


@pytest.mark.parametrize(
    ("allow", "message"),
    [
        ("localhost", "host names are not resolved"),
        ("10.0.0.1/8", "did you mean 10.0.0.0/8"),
        ("10.0.0.0/33", "not an IP network"),
        ("1.2.3", "not an IP address"),
        ("unix", "not an IP address, a network, 'unix:' or '*'"),
    ],
)
def test_a_mistake_in_the_allow_list_is_a_value_error_naming_it(allow: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrustedProxies.parse(allow)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("x-forwarded-for,x-real-ip", "not a proxy header h10 reads: x-real-ip"),
        ("forwarded,x-forwarded-for", "cannot both be trusted"),
    ],
)
def test_a_mistake_in_the_header_list_is_a_value_error(names: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrustedProxies.parse(DEFAULT_ALLOW_IPS, names)


# -- X-Forwarded-* ----------------------------------------------------------------------


def test_an_untrusted_peer_changes_nothing() -> None:
    origin = resolve(
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "example.com"),
        peer=STRANGER,
    )
    assert origin == RequestOrigin(*STRANGER, "http")


def test_nginx_in_front_gives_the_client_and_the_scheme() -> None:
    origin = resolve(("x-forwarded-for", "198.51.100.17"), ("x-forwarded-proto", "https"))
    assert origin == RequestOrigin("198.51.100.17", 0, "https", None, 443)


def test_the_right_most_untrusted_hop_is_the_client_not_what_the_client_claims() -> None:
    # The client sent "X-Forwarded-For: 1.1.1.1"; the edge proxy (10.0.0.5, trusted)
    # appended the client's real address, the inner proxy appended the edge's.
    origin = resolve(
        ("x-forwarded-for", "1.1.1.1, 198.51.100.17, 10.0.0.5"), allow="127.0.0.1,10.0.0.0/8"
    )
    assert origin.client_host == "198.51.100.17"


def test_every_field_line_counts_as_one_list_in_order() -> None:
    origin = resolve(
        ("x-forwarded-for", "1.1.1.1"),
        ("x-forwarded-for", "198.51.100.17, , 10.0.0.5"),
        allow="127.0.0.1,10.0.0.0/8",
    )
    assert origin.client_host == "198.51.100.17"
    assert origin.ignored == ()


def test_when_every_hop_is_trusted_the_left_most_is_the_client() -> None:
    origin = resolve(("x-forwarded-for", "10.0.0.9, 10.0.0.5"), allow="127.0.0.1,10.0.0.0/8")
    assert origin.client_host == "10.0.0.9"
    assert resolve(("x-forwarded-for", "9.9.9.9, 8.8.8.8"), allow="*").client_host == "9.9.9.9"


@pytest.mark.parametrize(
    ("hop", "client"),
    [
        ("2001:DB8::1", ("2001:db8::1", 0)),
        ("[2001:db8::1]", ("2001:db8::1", 0)),
        ("[2001:db8::1]:4711", ("2001:db8::1", 4711)),
        ("192.0.2.1:4711", ("192.0.2.1", 4711)),
        ("unix:", ("unix:", 0)),
        ("unknown", ("unknown", 0)),
        ("::ffff:192.0.2.1", ("192.0.2.1", 0)),
        ("[::ffff:192.0.2.1]:80", ("192.0.2.1", 80)),
    ],
)
def test_hop_forms(hop: str, client: tuple[str, int]) -> None:
    origin = resolve(("x-forwarded-for", hop))
    assert (origin.client_host, origin.client_port) == client
    assert origin.ignored == ()


@pytest.mark.parametrize(
    "hop", ["example.com", "1.2.3.4:0", "1.2.3.4:99999", "[::1", "[::1]x", "::1:80x", "1.2.3.4;x"]
)
def test_a_malformed_hop_from_a_trusted_proxy_voids_the_header(hop: str) -> None:
    origin = resolve(("x-forwarded-for", hop))
    assert (origin.client_host, origin.client_port) == LOCAL
    assert origin.ignored and origin.ignored[0].startswith("x-forwarded-for: not an address")


def test_garbage_left_of_the_client_is_never_read() -> None:
    # A client cannot void the proxy's entry (and be logged as the proxy) by sending junk.
    origin = resolve(("x-forwarded-for", "<script>, not-an-ip, 198.51.100.17"))
    assert origin.client_host == "198.51.100.17"
    assert origin.ignored == ()


def test_a_long_trusted_walk_is_refused() -> None:
    hops = ", ".join(f"10.0.{i // 250}.{i % 250 + 1}" for i in range(MAX_HOPS + 5))
    origin = resolve(("x-forwarded-for", hops), allow="127.0.0.1,10.0.0.0/8")
    assert origin.client_host == LOCAL[0]
    assert origin.ignored == (f"x-forwarded-for: more than {MAX_HOPS} trusted hops",)


@pytest.mark.parametrize(
    ("value", "scheme"), [("https", "https"), ("HTTPS", "https"), ("http", "http")]
)
def test_proto(value: str, scheme: str) -> None:
    origin = resolve(("x-forwarded-proto", value), scheme="https" if scheme == "http" else "http")
    assert origin.scheme == scheme
    assert origin.server_port == (443 if scheme == "https" else 80)


@pytest.mark.parametrize("value", ["ftp", "https://", "wss", "h t t p"])
def test_a_proto_other_than_http_or_https_is_ignored(value: str) -> None:
    origin = resolve(("x-forwarded-proto", value))
    assert origin.scheme == "http"
    assert origin.server_port is None
    assert origin.ignored[0].startswith("x-forwarded-proto: not http or https")


def test_repeated_single_values_must_agree() -> None:
    assert resolve(("x-forwarded-proto", "https, HTTPS")).scheme == "https"
    # A client-sent value that the proxy appended to: neither is chosen.
    origin = resolve(("x-forwarded-proto", "https"), ("x-forwarded-proto", "http"))
    assert origin.scheme == "http"
    assert origin.ignored[0].startswith("x-forwarded-proto: the values disagree")


def test_host_and_port() -> None:
    origin = resolve(("x-forwarded-host", "Example.COM"), ("x-forwarded-proto", "https"))
    assert (origin.host, origin.server_port, origin.authority) == (
        "example.com",
        443,
        "example.com",
    )
    origin = resolve(("x-forwarded-host", "example.com:8443"), ("x-forwarded-proto", "https"))
    assert (origin.host, origin.server_port) == ("example.com", 8443)
    assert origin.authority == "example.com:8443"
    origin = resolve(("x-forwarded-host", "[2001:db8::1]"), ("x-forwarded-port", "8080"))
    assert (origin.host, origin.server_port, origin.authority) == (
        "[2001:db8::1]",
        8080,
        "[2001:db8::1]:8080",
    )
    # The port in the host is what the client typed: it wins over X-Forwarded-Port.
    origin = resolve(("x-forwarded-host", "example.com:81"), ("x-forwarded-port", "8080"))
    assert origin.server_port == 81


@pytest.mark.parametrize(
    "value",
    ["exa mple.com", "example.com:", "example.com:x", "a,b", "evil.com/x", "[::1", "a..b", "%41"],
)
def test_a_malformed_host_is_ignored(value: str) -> None:
    origin = resolve(("x-forwarded-host", value))
    assert origin.host is None
    assert origin.ignored


def test_a_header_not_configured_is_ignored_and_reported() -> None:
    # nginx passes X-Forwarded-Host through from the client unless told to set it.
    origin = resolve(
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-for", "198.51.100.17"),
        names="x-forwarded-for,x-forwarded-proto",
    )
    assert origin.host is None
    assert origin.client_host == "198.51.100.17"
    assert origin.ignored == (
        "x-forwarded-host: not one of the headers the proxies are trusted to set",
    )


# -- RFC 7239 Forwarded -----------------------------------------------------------------


def forwarded(*lines: str, allow: str = DEFAULT_ALLOW_IPS) -> RequestOrigin:
    return resolve(*(("forwarded", line) for line in lines), allow=allow, names="forwarded")


@pytest.mark.parametrize(
    ("line", "client"),
    [
        # The examples of RFC 7239 §4 and §7.
        ('for="_gazonk"', ("_gazonk", 0)),
        ('For="[2001:db8:cafe::17]:4711"', ("2001:db8:cafe::17", 4711)),
        ("for=192.0.2.60;proto=http;by=203.0.113.43", ("192.0.2.60", 0)),
        ("for=192.0.2.43, for=198.51.100.17", ("198.51.100.17", 0)),
        ('for="192.0.2.43:47011"', ("192.0.2.43", 47011)),
        ("for=unknown", ("unknown", 0)),
        ('for="_hidden:_port"', ("_hidden", 0)),
        ('for="\\1\\9\\2.0.2.1"', ("192.0.2.1", 0)),  # quoted-pairs unescaped
        ("for=192.0.2.1 ; proto=https", ("192.0.2.1", 0)),  # OWS around ";"
    ],
)
def test_forwarded_vectors(line: str, client: tuple[str, int]) -> None:
    origin = forwarded(line)
    assert (origin.client_host, origin.client_port) == client
    assert origin.ignored == ()


def test_forwarded_takes_proto_and_host_from_the_element_about_the_client() -> None:
    origin = forwarded(
        'for=198.51.100.17;proto=https;host="shop.example:8443"',
        "for=10.0.0.5;proto=http;host=internal",
        allow="127.0.0.1,10.0.0.0/8",
    )
    assert origin == RequestOrigin("198.51.100.17", 0, "https", "shop.example", 8443)


def test_forwarded_walks_past_trusted_elements_only() -> None:
    origin = forwarded(
        "for=1.1.1.1;host=evil.example, for=198.51.100.17;host=good.example, for=10.0.0.5",
        allow="127.0.0.1,10.0.0.0/8",
    )
    assert (origin.client_host, origin.host) == ("198.51.100.17", "good.example")


def test_an_element_without_for_ends_the_walk() -> None:
    origin = forwarded("for=198.51.100.17, proto=https")
    assert (origin.client_host, origin.scheme) == (LOCAL[0], "https")


@pytest.mark.parametrize(
    "line",
    [
        "for=[2001:db8::1]",  # an IPv6 node must be quoted
        'for="2001:db8::1"',  # ... and in brackets
        "for=192.0.2.1;for=192.0.2.2",  # a parameter twice in one element
        'for="192.0.2.1',  # an unterminated quoted string
        "for=example.com",  # a name is not a node
        'for="192.0.2.1:99999"',
        "for=192.0.2.1 proto=https",
        "for = 192.0.2.1",
        'host="a b"',
        "proto=-x",
    ],
)
def test_a_malformed_forwarded_from_a_trusted_proxy_is_ignored(line: str) -> None:
    origin = forwarded(line)
    assert origin == RequestOrigin(*LOCAL, "http", ignored=origin.ignored)
    assert len(origin.ignored) == 1 and origin.ignored[0].startswith("forwarded: ")


def test_a_malformed_client_line_before_the_proxys_does_not_void_it() -> None:
    origin = forwarded('for="unterminated', "for=198.51.100.17;proto=https")
    assert (origin.client_host, origin.scheme, origin.ignored) == ("198.51.100.17", "https", ())


def test_an_unknown_parameter_is_allowed_and_a_strange_proto_only_loses_the_scheme() -> None:
    origin = forwarded('for=198.51.100.17;secret="x;y";proto=wss')
    assert origin.client_host == "198.51.100.17"
    assert origin.scheme == "http"
    assert origin.ignored == ("forwarded: not http or https: 'wss'",)


def test_with_forwarded_configured_x_forwarded_headers_are_ignored_and_reported() -> None:
    origin = resolve(
        ("forwarded", "for=198.51.100.17"),
        ("x-forwarded-for", "1.1.1.1"),
        ("x-forwarded-proto", "https"),
        names="forwarded",
    )
    assert (origin.client_host, origin.scheme) == ("198.51.100.17", "http")
    assert len(origin.ignored) == 2


def test_with_x_forwarded_configured_a_client_sent_forwarded_is_ignored() -> None:
    origin = resolve(
        ("forwarded", "for=1.1.1.1;proto=https"),
        ("x-forwarded-for", "198.51.100.17"),
        names="x-forwarded-for,x-forwarded-proto",
    )
    assert (origin.client_host, origin.scheme) == ("198.51.100.17", "http")
    assert origin.ignored == ("forwarded: not one of the headers the proxies are trusted to set",)


# -- properties -------------------------------------------------------------------------

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
addresses = ipv4 | ipv6
ports = st.integers(1, 65535)
peers = st.tuples(addresses | st.just(UNIX_PEER), st.integers(0, 65535))
allow_lists = st.lists(
    st.sampled_from(["127.0.0.1", "::1", UNIX_PEER, "10.0.0.0/8", "*", "0.0.0.0/0", "::/0"])
    | addresses,
    max_size=4,
).map(",".join)
header_sets = st.sampled_from([ALL_HEADERS, "x-forwarded-for,x-forwarded-proto", "forwarded"])
# Values as proxies and clients write them, pieces of the grammar and anything at all.
pieces = st.sampled_from(
    [",", ";", "=", '"', "\\", ":", "[", "]", " ", "for", "proto", "host", "by", "_x",
     "unknown", "unix:", "https", "http", "127.0.0.1", "::1", "10.0.0.5", "%", "\t"]
)  # fmt: skip
values = (
    st.lists(pieces | addresses | ports.map(str), max_size=12).map("".join)
    | st.binary(max_size=40).map(lambda b: b.decode("latin-1"))
    | st.text(max_size=40).map(lambda t: t.encode("utf-8").decode("latin-1"))
)
proxy_headers = st.lists(st.tuples(st.sampled_from(sorted(PROXY_HEADERS)), values), max_size=6)


def hops_of(pairs: list[tuple[str, str]], names: str) -> set[str]:
    """Every text that could be a hop: each comma- (or ';'-, '=') separated piece."""
    found: set[str] = set()
    for name, value in pairs:
        if name not in ("x-forwarded-for", "forwarded"):
            continue
        for piece in value.replace(";", ",").replace("=", ",").split(","):
            text = piece.strip(' \t"').replace("\\", "")
            found |= {text, text.lower()}
            for cut in (text, text.lstrip("[")):
                found.add(cut.partition("]")[0])
                found.add(cut.rpartition(":")[0])
                found.add(cut.partition(":")[0])
    for text in list(found):  # an address is reported in its canonical spelling
        with contextlib.suppress(ValueError):
            address = ipaddress.ip_address(text)
            mapped = getattr(address, "ipv4_mapped", None)
            found.add(str(mapped or address))
    return found


def is_host(host: str) -> bool:
    """An oracle apart from the module's: a lower-case DNS-style name or IPv4 address
    that a URL parses back to, or an IPv6 address in brackets."""
    if host != host.lower() or not host.isascii():
        return False
    if host.startswith("[") and host.endswith("]"):
        return isinstance(ipaddress.ip_address(host[1:-1]), ipaddress.IPv6Address)
    if not host or not all(c.isalnum() or c in "-._" for c in host):
        return False
    return urllib.parse.urlsplit(f"http://{host}/").hostname == host


@given(peers, allow_lists, header_sets, proxy_headers)
def test_any_header_value_never_raises_and_the_result_is_sound(
    peer: tuple[str, int], allow: str, names: str, pairs: list[tuple[str, str]]
) -> None:
    proxies = TrustedProxies.parse(allow, names)
    origin = proxies.resolve(headers(*pairs), peer, "http")
    assert origin.scheme in ("http", "https")
    assert origin.host is None or is_host(origin.host)
    assert origin.server_port is None or 0 < origin.server_port <= 65535
    assert 0 <= origin.client_port <= 65535
    if origin.client_host != peer[0]:
        assert origin.client_host in hops_of(pairs, names)
    for line in origin.ignored:
        assert "\n" not in line and "\r" not in line


@given(peers, allow_lists, header_sets, proxy_headers, st.sampled_from(["http", "https"]))
def test_an_untrusted_peer_is_the_identity(
    peer: tuple[str, int], allow: str, names: str, pairs: list[tuple[str, str]], scheme: str
) -> None:
    proxies = TrustedProxies.parse(allow, names)
    if proxies.trusts(peer[0]):
        return
    assert proxies.resolve(headers(*pairs), peer, scheme) == RequestOrigin(*peer, scheme)


@given(
    client=ipv4 | ipv6 | ipv4.map(lambda a: "::ffff:" + a),
    injected=st.lists(values, max_size=3),
    chain=st.lists(st.integers(1, 254).map(lambda i: f"10.0.0.{i}"), max_size=4),
    standard=st.booleans(),
)
def test_a_chain_of_trusted_proxies_reports_the_real_client_whatever_it_sends(
    client: str, injected: list[str], chain: list[str], standard: bool
) -> None:
    """The client (untrusted) sends any header of its own; each trusted proxy in
    ``chain`` appends the address of whoever connected to it; the last one is our peer."""
    proxies = TrustedProxies.parse("10.0.0.0/8", "forwarded" if standard else "x-forwarded-for")
    assume(not proxies.trusts(client))
    name = "forwarded" if standard else "x-forwarded-for"
    in_front = [*chain, "10.9.9.9"]  # the last one is our peer
    lines = list(injected)
    for sender in [client, *in_front[:-1]]:
        node = f'"[{sender}]"' if ":" in sender else sender
        lines.append(f"for={node}" if standard else sender)
    pairs = headers(*((name, line) for line in lines))
    origin = proxies.resolve(pairs, (in_front[-1], 1234), "http")
    address = ipaddress.ip_address(client)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # reported as the IPv4 address it is
    assert origin.client_host == str(address)
