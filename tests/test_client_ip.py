from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geofence.client_ip import ClientIP, ClientIPResolver, TrustedProxies
from geofence.errors import ConfigurationError
from geofence.net import Normalizer, Via, normalize
from geofence.request import Request

Headers = Sequence[tuple[str, str]]


def resolve(
    peer: str | None, headers: Headers = (), *, trusted: Sequence[str], header: str
) -> ClientIP:
    resolver = ClientIPResolver(trusted, header)
    return resolver.resolve(Request(ip=peer, headers=headers))


def text_of(client: ClientIP) -> str | None:
    return None if client.address is None else client.address.text


# ---------------------------------------------------------------------------- TrustedProxies


@pytest.mark.parametrize(
    ("specs", "address", "trusted"),
    [
        (["loopback"], "127.0.0.1", True),
        (["loopback"], "127.255.255.254", True),
        (["loopback"], "::1", True),
        (["loopback"], "::ffff:127.0.0.1", True),  # a dual-stack socket's IPv4 peer
        (["loopback"], "[::1]:8080", True),
        (["loopback"], "128.0.0.1", False),
        (["loopback"], "::2", False),
        (["Loopback"], "127.0.0.1", True),
        (["private"], "10.200.0.1", True),
        (["private"], "172.16.0.1", True),
        (["private"], "172.31.255.255", True),
        (["private"], "172.32.0.0", False),
        (["private"], "192.168.1.1", True),
        (["private"], "100.64.0.1", True),
        (["private"], "100.128.0.1", False),
        (["private"], "fd12:3456::1", True),
        (["private"], "fc00::1", True),
        (["private"], "fe00::1", False),
        (["private"], "8.8.8.8", False),
        (["linklocal"], "169.254.10.1", True),
        (["linklocal"], "fe80::1%eth0", True),
        (["linklocal"], "febf::1", True),
        (["linklocal"], "fec0::1", False),
        # Trust is never inherited through an embedded IPv4 address.
        (["private"], "2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        (["loopback"], "2001::80ff:fffe", False),  # Teredo of 127.0.0.1
        (["private"], "64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        (["203.0.113.0/24"], "203.0.113.255", True),
        (["203.0.113.0/24"], "203.0.114.0", False),
        (["203.0.113.0/24"], "203.0.112.255", False),
        (["2001:db8::/32"], "2001:db8:ffff::1", True),
        (["2001:db8::/32"], "2001:db9::", False),
        (["198.51.100.7"], "198.51.100.7", True),
        (["198.51.100.7"], "198.51.100.70", False),  # CIDR membership, not string prefixes
        (["10.0.0.1"], "10.0.0.10", False),
        (["10.0.0.1"], "10.0.0.100", False),
        (["::ffff:10.0.0.0/104"], "10.1.2.3", True),  # mapped specs match IPv4 peers
        (["::ffff:10.0.0.0/104"], "::ffff:10.1.2.3", True),
        (["10.0.0.0/8", "10.1.0.0/16", "11.0.0.0/8"], "11.255.255.255", True),
        (["10.0.0.0/8", "10.1.0.0/16", "11.0.0.0/8"], "12.0.0.0", False),
        (["10.0.0.0/8", "10.1.0.0/16", "11.0.0.0/8"], "9.255.255.255", False),
        (["0.0.0.0/0"], "1.2.3.4", True),
        (["0.0.0.0/0"], "2001:db8::1", False),
        ([], "127.0.0.1", False),
        (["loopback"], "127.1", False),  # unparsable text is never trusted
        (["loopback"], "", False),
    ],
)
def test_trusted_proxy_membership(specs: list[str], address: str, trusted: bool) -> None:
    assert (address in TrustedProxies(specs)) is trusted


def test_membership_accepts_packed_bytes_and_objects() -> None:
    proxies = TrustedProxies(["loopback", ipaddress.ip_network("192.0.2.0/24")])
    assert proxies.contains_packed(bytes([127, 0, 0, 1]))
    assert bytes([192, 0, 2, 9]) in proxies
    assert proxies.contains_packed(ipaddress.IPv6Address("::ffff:192.0.2.9").packed)
    assert not proxies.contains_packed(bytes(4))
    assert 42 not in proxies


def test_empty_trusted_proxies_trust_nobody() -> None:
    proxies = TrustedProxies()
    assert not proxies
    assert "127.0.0.1" not in proxies
    assert TrustedProxies(["loopback"])


def test_a_single_string_is_one_spec() -> None:
    assert "127.0.0.1" in TrustedProxies("loopback")
    assert TrustedProxies("loopback").specs == ("loopback",)


def test_groups_extend_the_names() -> None:
    def cloudflare(packed: bytes) -> bool:
        return packed[:2] == bytes([104, 16])

    proxies = TrustedProxies(["cloudflare", "loopback"], groups={"CloudFlare": cloudflare})
    assert "104.16.0.1" in proxies
    assert "127.0.0.1" in proxies
    assert "104.17.0.1" not in proxies
    # An unused group changes nothing.
    assert "104.16.0.1" not in TrustedProxies(["loopback"], groups={"cloudflare": cloudflare})


def test_unknown_name_lists_the_accepted_names() -> None:
    with pytest.raises(ConfigurationError, match="cloudfare") as info:
        TrustedProxies(["cloudfare"], groups={"cloudflare": lambda packed: False})
    for name in ("cloudflare", "linklocal", "loopback", "private"):
        assert name in str(info.value)


def test_groups_may_not_redefine_built_in_names() -> None:
    with pytest.raises(ConfigurationError, match="private"):
        TrustedProxies(["private"], groups={"private": lambda packed: True})


@pytest.mark.parametrize(
    "spec",
    ["10.0.0.1/8", "everyone", "", "10.0.0.0/33", "::1/129", "010.0.0.1", "127.1", "1.2.3.4:80"],
)
def test_bad_trusted_specs_are_configuration_errors_naming_the_spec(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="trusted proxy") as info:
        TrustedProxies([spec])
    assert repr(spec) in str(info.value)


@pytest.mark.parametrize("spec", [42, None, b"10.0.0.0/8"])
def test_non_string_specs_are_configuration_errors(spec: object) -> None:
    with pytest.raises(ConfigurationError):
        TrustedProxies([spec])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError):
        TrustedProxies(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("groups", [{"edge": "not callable"}, {1: lambda packed: True}])
def test_malformed_groups_are_configuration_errors(groups: dict[object, object]) -> None:
    with pytest.raises(ConfigurationError, match="groups"):
        TrustedProxies(["loopback"], groups=groups)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- X-Forwarded-For

XFF_TRUSTED = ["10.0.0.0/8", "loopback", "2001:db8:ffff::/48"]


@pytest.mark.parametrize(
    ("peer", "lines", "expected", "source"),
    [
        # An untrusted peer is the client, whatever it claims.
        ("203.0.113.9", ["8.8.8.8"], "203.0.113.9", "peer"),
        ("203.0.113.9", ["10.0.0.2"], "203.0.113.9", "peer"),
        ("203.0.113.9", [], "203.0.113.9", "peer"),
        # Trusted peers: walked right to left to the first untrusted hop.
        ("10.0.0.1", [], "10.0.0.1", "peer"),
        ("10.0.0.1", ["8.8.8.8"], "8.8.8.8", "x-forwarded-for"),
        ("10.0.0.1", ["1.1.1.1, 8.8.8.8, 10.0.0.2"], "8.8.8.8", "x-forwarded-for"),
        ("10.0.0.1", ["1.1.1.1,8.8.8.8 ,\t10.0.0.2"], "8.8.8.8", "x-forwarded-for"),
        ("10.0.0.1", ["10.0.0.3, 127.0.0.1, 10.0.0.2"], "10.0.0.3", "x-forwarded-for"),
        # Several lines are one list, in order.
        ("10.0.0.1", ["1.1.1.1", "8.8.8.8, 10.0.0.2"], "8.8.8.8", "x-forwarded-for"),
        ("10.0.0.1", ["10.0.0.9", "10.0.0.2"], "10.0.0.9", "x-forwarded-for"),
        ("10.0.0.1", ["8.8.8.8", "10.0.0.2, 10.0.0.3"], "8.8.8.8", "x-forwarded-for"),
        # What is left of the client is never read.
        ("10.0.0.1", ["garbage, unknown, 8.8.8.8"], "8.8.8.8", "x-forwarded-for"),
        # Invalid hops reached by the walk stop it with no address.
        ("10.0.0.1", ["8.8.8.8, 127.1"], None, "x-forwarded-for"),
        ("10.0.0.1", ["unknown"], None, "x-forwarded-for"),
        ("10.0.0.1", ["8.8.8.8, unknown"], None, "x-forwarded-for"),
        ("10.0.0.1", ["8.8.8.8,,10.0.0.2"], None, "x-forwarded-for"),
        ("10.0.0.1", ["8.8.8.8, "], None, "x-forwarded-for"),
        ("10.0.0.1", [""], None, "x-forwarded-for"),
        ("10.0.0.1", ["_hidden"], None, "x-forwarded-for"),
        ("10.0.0.1", ["8.8.8.8 9.9.9.9"], None, "x-forwarded-for"),
        # Ports and brackets on hops.
        ("10.0.0.1", ["[2001:db8::1]:443, 10.0.0.2:80"], "2001:db8::1", "x-forwarded-for"),
        ("10.0.0.1", ["8.8.8.8:1234"], "8.8.8.8", "x-forwarded-for"),
        # IPv6 peers and hops.
        ("::1", ["2001:db8::7"], "2001:db8::7", "x-forwarded-for"),
        ("2001:db8:ffff::1", ["2001:db8::7, 2001:db8:ffff::2"], "2001:db8::7", "x-forwarded-for"),
        ("2001:db8:fffe::1", ["2001:db8::7"], "2001:db8:fffe::1", "peer"),
        ("::ffff:127.0.0.1", ["8.8.8.8"], "8.8.8.8", "x-forwarded-for"),
        ("::ffff:10.0.0.1", ["8.8.8.8, ::ffff:10.0.0.2"], "8.8.8.8", "x-forwarded-for"),
        # Embedded forms never inherit trust: a 6to4 hop or peer holding 10.x is a client.
        ("10.0.0.1", ["8.8.8.8, 2002:a00:2::"], "10.0.0.2", "x-forwarded-for"),
        ("2002:a00:1::1", ["8.8.8.8"], "10.0.0.1", "peer"),
        ("64:ff9b::a00:1", ["8.8.8.8"], "10.0.0.1", "peer"),
        ("2001::80ff:fffe", ["8.8.8.8"], "127.0.0.1", "peer"),
        # Missing or unparsable peers.
        (None, ["8.8.8.8"], None, "peer"),
        ("garbage", ["8.8.8.8"], None, "peer"),
        ("127.1", ["8.8.8.8"], None, "peer"),
    ],
)
def test_x_forwarded_for(
    peer: str | None, lines: list[str], expected: str | None, source: str
) -> None:
    client = resolve(
        peer, [("x-forwarded-for", v) for v in lines], trusted=XFF_TRUSTED, header="x-forwarded-for"
    )
    assert (text_of(client), client.source, client.peer) == (expected, source, peer)
    if expected is None:
        assert client.problem


def test_problem_says_why_a_header_was_ignored() -> None:
    spoofed = resolve(
        "203.0.113.9", [("x-forwarded-for", "8.8.8.8")], trusted=[], header="x-forwarded-for"
    )
    assert spoofed.problem is not None
    assert "not a trusted proxy" in spoofed.problem
    assert resolve("203.0.113.9", trusted=[], header="x-forwarded-for").problem is None
    bad = resolve(
        "10.0.0.1",
        [("x-forwarded-for", "8.8.8.8, 127.1")],
        trusted=["private"],
        header="x-forwarded-for",
    )
    assert bad.problem is not None
    assert "'127.1'" in bad.problem


def test_addresses_are_normalised_and_keep_how_they_arrived() -> None:
    client = resolve(
        "10.0.0.1",
        [("x-forwarded-for", "2002:c000:201::1")],
        trusted=["private"],
        header="x-forwarded-for",
    )
    assert client.address is not None
    assert (client.address.text, client.address.via) == ("192.0.2.1", Via.SIXTOFOUR)
    mapped = resolve("::ffff:192.0.2.1", trusted=[], header="x-forwarded-for")
    assert mapped.address is not None
    assert (mapped.address.text, mapped.address.via) == ("192.0.2.1", Via.IPV4_MAPPED)


def test_configured_nat64_prefix_applies_to_the_client_not_to_trust() -> None:
    resolver = ClientIPResolver(["private"], normalizer=Normalizer(["2001:db8:122:344::/96"]))
    client = resolver.resolve(Request(ip="2001:db8:122:344::a00:1"))
    assert client.address is not None
    assert (client.address.text, client.address.via, client.source) == (
        "10.0.0.1",
        Via.NAT64,
        "peer",
    )


def test_hop_count_is_bounded() -> None:
    chain = ", ".join(["10.0.0.2"] * 100)
    client = resolve(
        "10.0.0.1", [("x-forwarded-for", chain)], trusted=["private"], header="x-forwarded-for"
    )
    assert client.address is None
    assert client.problem is not None
    assert "64" in client.problem
    # A long client-written prefix does not matter when the walk ends early.
    chain = ", ".join(["8.8.8.8"] * 500) + ", 1.1.1.1, 10.0.0.2"
    client = resolve(
        "10.0.0.1", [("x-forwarded-for", chain)], trusted=["private"], header="x-forwarded-for"
    )
    assert text_of(client) == "1.1.1.1"
    small = ClientIPResolver(["private"], max_hops=2)
    assert small.resolve(Request("10.0.0.1", {"x-forwarded-for": "8.8.8.8, 10.0.0.2"})).address
    assert (
        small.resolve(
            Request("10.0.0.1", {"x-forwarded-for": "8.8.8.8, 10.0.0.3, 10.0.0.2"})
        ).address
        is None
    )


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded", "x-real-ip"])
def test_header_length_is_bounded(header: str) -> None:
    huge = "1" * 20_000
    client = resolve("10.0.0.1", [(header, huge)], trusted=["private"], header=header)
    assert (client.address, client.source) == (None, header)
    assert client.problem is not None
    assert "8192" in client.problem
    many_lines = [(header, "8.8.8.8")] * 2000
    assert resolve("10.0.0.1", many_lines, trusted=["private"], header=header).address is None
    # From an untrusted peer nothing is read, however large.
    untrusted = resolve("8.8.4.4", [(header, huge)], trusted=["private"], header=header)
    assert text_of(untrusted) == "8.8.4.4"


# ---------------------------------------------------------------------------- Forwarded


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["for=192.0.2.60;proto=http;by=203.0.113.43"], "192.0.2.60"),
        (['For="[2001:db8:cafe::17]:4711"'], "2001:db8:cafe::17"),
        (["for=192.0.2.43, for=198.51.100.17"], "198.51.100.17"),
        (["for=192.0.2.43, for=127.0.0.2"], "192.0.2.43"),
        (["for=192.0.2.43", "for=127.0.0.2;proto=https"], "192.0.2.43"),
        (["for=127.0.0.3", "for=127.0.0.2"], "127.0.0.3"),
        (['for="192.0.2.43:4711"'], "192.0.2.43"),
        (['for="192.0.2.43:_p1"'], "192.0.2.43"),
        (['for="[2001:db8::1]:_port"'], "2001:db8::1"),
        (['for="1\\.2.3.4"'], "1.2.3.4"),  # quoted-pair
        (['for="a\\"b,c", for=3.3.3.3'], "3.3.3.3"),
        (["for=192.0.2.60 ; proto=http"], "192.0.2.60"),
        (["for=192.0.2.60,, ,"], "192.0.2.60"),
        (["proto=http;for=192.0.2.60;host=example"], "192.0.2.60"),
        (["for=[2001:db8::1]"], "2001:db8::1"),  # unquoted brackets: read leniently
        # A client-written prefix the walk never reaches cannot hide the suffix.
        (['for="x, for=198.51.100.17'], "198.51.100.17"),
        (["for=_hidden, for=198.51.100.17"], "198.51.100.17"),
        (["garbage;;=, for=198.51.100.17"], "198.51.100.17"),
        # unknown / obfuscated / malformed where the walk reaches them: no address.
        (["for=unknown"], None),
        (["for=UNKNOWN, for=127.0.0.2"], None),
        (['for="unknown:4711"'], None),
        (['for="_gazonk"'], None),
        (["for=_hidden, for=127.0.0.2"], None),
        (["proto=https"], None),
        (["for=1.1.1.1;FOR=2.2.2.2"], None),
        (["for=198.51.100.17 proto=http"], None),
        (["for"], None),
        (["=1.2.3.4"], None),
        (['for="1.2.3.4'], None),
        (['for=1.2.3.4"'], None),
        (["for="], None),
        (["for=127.1"], None),
        ([""], None),
        ([" , "], None),
    ],
)
def test_forwarded(lines: list[str], expected: str | None) -> None:
    client = resolve(
        "127.0.0.1", [("forwarded", v) for v in lines], trusted=["loopback"], header="Forwarded"
    )
    assert (text_of(client), client.source) == (expected, "forwarded")
    if expected is None:
        assert client.problem is not None
        assert client.problem.startswith("forwarded: ")


def test_forwarded_from_untrusted_peer_is_ignored() -> None:
    client = resolve(
        "203.0.113.9", [("forwarded", "for=8.8.8.8")], trusted=["loopback"], header="forwarded"
    )
    assert (text_of(client), client.source) == ("203.0.113.9", "peer")


# ---------------------------------------------------------------------------- one-address headers


@pytest.mark.parametrize("header", ["cf-connecting-ip", "true-client-ip", "x-real-ip"])
@pytest.mark.parametrize(
    ("peer", "lines", "expected", "source"),
    [
        ("10.0.0.1", ["8.8.8.8"], "8.8.8.8", "header"),
        ("10.0.0.1", [" 8.8.8.8 "], "8.8.8.8", "header"),
        ("10.0.0.1", ["[2001:db8::1]:80"], "2001:db8::1", "header"),
        ("10.0.0.1", ["10.0.0.7"], "10.0.0.7", "header"),
        ("10.0.0.1", [], "10.0.0.1", "peer"),
        ("10.0.0.1", ["8.8.8.8", "8.8.4.4"], None, "header"),
        ("10.0.0.1", ["8.8.8.8", "8.8.8.8"], None, "header"),
        ("10.0.0.1", ["8.8.8.8, 8.8.4.4"], None, "header"),
        ("10.0.0.1", ["unknown"], None, "header"),
        ("10.0.0.1", [""], None, "header"),
        ("203.0.113.9", ["8.8.8.8"], "203.0.113.9", "peer"),
    ],
)
def test_single_address_headers(
    header: str, peer: str, lines: list[str], expected: str | None, source: str
) -> None:
    client = resolve(peer, [(header, v) for v in lines], trusted=["private"], header=header)
    assert (text_of(client), client.source) == (expected, header if source == "header" else source)


def test_only_the_configured_header_is_read() -> None:
    headers = [
        ("x-forwarded-for", "1.1.1.1"),
        ("forwarded", "for=2.2.2.2"),
        ("x-real-ip", "3.3.3.3"),
    ]
    for header, expected in [
        ("x-forwarded-for", "1.1.1.1"),
        ("forwarded", "2.2.2.2"),
        ("x-real-ip", "3.3.3.3"),
        ("cf-connecting-ip", "10.0.0.1"),
    ]:
        assert text_of(resolve("10.0.0.1", headers, trusted=["private"], header=header)) == expected


# ---------------------------------------------------------------------------- configuration & API


@pytest.mark.parametrize("header", ["", "x forwarded for", "x-real-ip:", "caf\xe9", "a\r\nb"])
def test_invalid_header_names_are_configuration_errors(header: str) -> None:
    with pytest.raises(ConfigurationError, match="header"):
        ClientIPResolver(["loopback"], header)


@pytest.mark.parametrize("kwargs", [{"max_hops": 0}, {"max_header_length": -1}, {"max_hops": "5"}])
def test_invalid_limits_are_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        ClientIPResolver(**kwargs)  # type: ignore[arg-type]


def test_resolver_accepts_trusted_proxies_in_every_form() -> None:
    request = Request("127.0.0.1", {"x-forwarded-for": "8.8.8.8"})
    for trusted in (TrustedProxies(["loopback"]), ["loopback"], ("loopback",), "loopback"):
        resolver = ClientIPResolver(trusted)
        assert text_of(resolver.resolve(request)) == "8.8.8.8"
        assert "127.0.0.1" in resolver.trusted_proxies
    assert ClientIPResolver(header="X-Real-IP").header == "x-real-ip"


def test_resolve_with_an_explicit_peer_uses_it_over_request_ip() -> None:
    resolver = ClientIPResolver(["loopback"])
    headers = Request(ip="203.0.113.9", headers={"x-forwarded-for": "8.8.8.8"})
    assert text_of(resolver.resolve("127.0.0.1", headers)) == "8.8.8.8"
    assert text_of(resolver.resolve("127.0.0.1")) == "127.0.0.1"
    assert text_of(resolver.resolve(None, headers)) is None


def test_resolve_never_raises() -> None:
    def broken(packed: bytes) -> bool:
        raise RuntimeError("feed not loaded")

    resolver = ClientIPResolver(TrustedProxies(["edge"], groups={"edge": broken}))
    client = resolver.resolve(Request(ip="8.8.8.8"))
    assert (client.address, client.source, client.peer) == (None, "peer", "8.8.8.8")
    assert client.problem is not None
    assert "feed not loaded" in client.problem
    assert ClientIPResolver().resolve(12).address is None  # type: ignore[call-overload]


public_v4 = st.builds(lambda n: str(ipaddress.IPv4Address(n)), st.integers(0x08000000, 0x09FFFFFF))
public_v6 = st.builds(
    lambda n: str(ipaddress.IPv6Address((0x2A00 << 112) | n)), st.integers(0, 2**100)
)
header_names = st.sampled_from(
    ["x-forwarded-for", "forwarded", "x-real-ip", "cf-connecting-ip", "true-client-ip", "host"]
)
header_values = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(["10.0.0.1", "127.0.0.1", "unknown", "::1", '"', ";", "for="]), max_size=6
    ).map(", ".join),
)
header_sets = st.lists(st.tuples(header_names, header_values), max_size=8)
resolvers = st.builds(
    ClientIPResolver,
    st.just(["loopback", "private", "2001:db8::/32"]),
    st.sampled_from(["x-forwarded-for", "forwarded", "x-real-ip", "cf-connecting-ip"]),
)


@given(resolvers, st.one_of(public_v4, public_v6), header_sets)
def test_untrusted_peer_is_always_the_client(
    resolver: ClientIPResolver, peer: str, headers: list[tuple[str, str]]
) -> None:
    client = resolver.resolve(Request(ip=peer, headers=headers))
    assert client.address == normalize(peer)
    assert (client.source, client.peer) == ("peer", peer)


@given(resolvers, st.sampled_from(["10.0.0.1", "127.0.0.1", "::1", "::ffff:10.0.0.1"]), header_sets)
def test_resolve_never_raises_from_trusted_peers(
    resolver: ClientIPResolver, peer: str, headers: list[tuple[str, str]]
) -> None:
    client = resolver.resolve(Request(ip=peer, headers=headers))
    assert isinstance(client, ClientIP)
    assert client.peer == peer
    if client.address is None:
        assert client.problem
    else:
        assert normalize(client.address.text).text == client.address.text
