"""Every way of presenting a denied address to the engine is still denied.

The policy denies a country (1.0.1.1 is CN in the embedded data) and a listed range
(185.220.101.0/24, a Tor exit range in an otherwise allowed country, DE). Each test case is one
technique an attacker or a misconfigured network uses to make an address look like another.
"""

from __future__ import annotations

from typing import Any

import pytest

from geofence import Geofence, Request

POLICY: dict[str, Any] = {
    "name": "bypass-suite",
    "default": "deny",
    "unknown": "deny",
    "rules": [
        {"name": "listed-range", "action": "deny", "networks": ["185.220.101.0/24"]},
        {"name": "embargo", "action": "deny", "countries": ["CN", "CU", "IR", "KP", "SY"]},
        {"name": "supported", "action": "allow", "countries": ["US", "DE", "GB", "FR"]},
    ],
}
NAT64_CONFIGURED = [
    "2001:db8::/32",
    "2001:db9:100::/40",
    "2001:dba:200:100::/56",
    "2001:dbb:300::/64",
]


@pytest.fixture(scope="module")
def gf() -> Geofence:
    return Geofence(POLICY, nat64_prefixes=NAT64_CONFIGURED, reload_interval=None)


# (technique, text) -> the embedded IPv4 address it must be judged as.
FORMS: list[tuple[str, str, str]] = [
    ("plain", "1.0.1.1", "1.0.1.1"),
    ("ipv4-mapped", "::ffff:1.0.1.1", "1.0.1.1"),
    ("ipv4-mapped hex", "::ffff:100:101", "1.0.1.1"),
    ("ipv4-mapped upper case", "::FFFF:1.0.1.1", "1.0.1.1"),
    ("ipv4-mapped expanded", "0000:0000:0000:0000:0000:ffff:0100:0101", "1.0.1.1"),
    ("ipv4-mapped bracketed with port", "[::ffff:1.0.1.1]:443", "1.0.1.1"),
    ("ipv4-mapped with zone id", "::ffff:1.0.1.1%eth0", "1.0.1.1"),
    ("ipv4 with port", "1.0.1.1:8080", "1.0.1.1"),
    ("6to4", "2002:100:101::1", "1.0.1.1"),
    ("6to4 other interface id", "2002:100:101:ffff:1:2:3:4", "1.0.1.1"),
    ("6to4 upper case", "2002:100:101:ABCD::1", "1.0.1.1"),
    ("nat64 well-known", "64:ff9b::1.0.1.1", "1.0.1.1"),
    ("nat64 well-known hex", "64:ff9b::100:101", "1.0.1.1"),
    ("nat64 local-use /48", "64:ff9b:1:100:1:100::", "1.0.1.1"),
    # RFC 6052 section 2.2: the IPv4 bits follow the prefix, skipping bits 64-71.
    ("nat64 configured /32", "2001:db8:100:101::", "1.0.1.1"),
    ("nat64 configured /40", "2001:db9:101:1:1::", "1.0.1.1"),
    ("nat64 configured /56", "2001:dba:200:101:0:101::", "1.0.1.1"),
    ("nat64 configured /64", "2001:dbb:300:0:1:1:100::", "1.0.1.1"),
    ("teredo", "2001:0:4136:e378:8000:63bf:feff:fefe", "1.0.1.1"),
    ("teredo upper case", "2001:0:4136:E378:8000:63BF:FEFF:FEFE", "1.0.1.1"),
    ("listed range plain", "185.220.101.5", "185.220.101.5"),
    ("listed range ipv4-mapped", "::ffff:185.220.101.5", "185.220.101.5"),
    ("listed range 6to4", "2002:b9dc:6505::1", "185.220.101.5"),
    ("listed range nat64", "64:ff9b::b9dc:6505", "185.220.101.5"),
    ("listed range teredo", "2001:0:4136:e378:8000:63bf:4623:9afa", "185.220.101.5"),
]


@pytest.mark.parametrize(("technique", "text", "ipv4"), FORMS, ids=[f[0] for f in FORMS])
def test_address_forms_are_denied(gf: Geofence, technique: str, text: str, ipv4: str) -> None:
    d = gf.evaluate(text)
    assert d.ip == ipv4, technique
    assert d.action.value == "deny", (technique, d)
    assert not d.allowed
    assert d.rule in ("embargo", "listed-range")


@pytest.mark.parametrize(("technique", "text", "ipv4"), FORMS, ids=[f[0] for f in FORMS])
def test_address_forms_are_denied_as_peer_and_as_trusted_hop(
    technique: str, text: str, ipv4: str
) -> None:
    gf = Geofence(POLICY, trusted_proxies=["private"], nat64_prefixes=NAT64_CONFIGURED)
    as_peer = gf.evaluate(Request(ip=text))
    via_proxy = gf.evaluate(Request(ip="10.0.0.1", headers={"x-forwarded-for": text}))
    for d in (as_peer, via_proxy):
        assert (d.ip, d.action.value) == (ipv4, "deny"), technique


UNTRUSTED_SPOOFS: list[tuple[str, list[tuple[str, str]]]] = [
    ("x-forwarded-for", [("x-forwarded-for", "8.8.8.8")]),
    ("x-forwarded-for list", [("x-forwarded-for", "8.8.8.8, 8.8.4.4")]),
    ("x-forwarded-for many lines", [("x-forwarded-for", "8.8.8.8")] * 20),
    ("forwarded", [("forwarded", "for=8.8.8.8")]),
    ("forwarded quoted v6", [("forwarded", 'for="[2001:4860:4860::8888]:443"')]),
    ("x-real-ip", [("x-real-ip", "8.8.8.8")]),
    ("cf-connecting-ip", [("cf-connecting-ip", "8.8.8.8")]),
    ("true-client-ip", [("true-client-ip", "8.8.8.8")]),
    ("mixed case names", [("X-Forwarded-For", "8.8.8.8"), ("X-REAL-IP", "8.8.8.8")]),
    ("very long header", [("x-forwarded-for", ", ".join(["8.8.8.8"] * 5000))]),
    ("non-ascii", [("x-forwarded-for", "８.８.８.８")]),  # noqa: RUF001 - the fullwidth digits are the point
    ("control bytes", [("x-forwarded-for", "8.8.8.8\r\nX-Real-IP: 8.8.8.8\x00")]),
]


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded", "cf-connecting-ip"])
@pytest.mark.parametrize(
    ("technique", "headers"), UNTRUSTED_SPOOFS, ids=[s[0] for s in UNTRUSTED_SPOOFS]
)
def test_headers_from_an_untrusted_peer_are_never_believed(
    header: str, technique: str, headers: list[tuple[str, str]]
) -> None:
    gf = Geofence(POLICY, trusted_proxies=["private"], client_ip_header=header)
    d = gf.evaluate(Request(ip="1.0.1.1", headers=headers))
    assert (d.ip, d.ip_source, d.action.value) == ("1.0.1.1", "peer", "deny"), technique


TRUSTED_CHAINS: list[tuple[str, str, str | None]] = [
    # (technique, X-Forwarded-For sent through a trusted proxy, the client it must resolve to)
    ("client prepends an allowed address", "8.8.8.8, 1.0.1.1", "1.0.1.1"),
    ("client prepends many", ", ".join(["8.8.8.8"] * 50) + ", 1.0.1.1", "1.0.1.1"),
    ("trusted hops to the right", "8.8.8.8, 1.0.1.1, 10.0.0.2, 192.168.1.1", "1.0.1.1"),
    ("garbage left of the client", "garbage, 1.0.1.1", "1.0.1.1"),
    ("invalid hop between proxies", "8.8.8.8, 127.1, 10.0.0.2", None),
    ("obsolete octal hop", "8.8.8.8, 010.0.0.1", None),
    ("unknown keyword", "8.8.8.8, unknown", None),
    ("empty hop", "8.8.8.8, , 10.0.0.2", None),
    ("6to4 form of a trusted address is not trusted", "1.0.1.1, 2002:a00:2::", "10.0.0.2"),
]


@pytest.mark.parametrize(
    ("technique", "xff", "client"), TRUSTED_CHAINS, ids=[c[0] for c in TRUSTED_CHAINS]
)
def test_trusted_chains_resolve_to_the_real_client(
    technique: str, xff: str, client: str | None
) -> None:
    gf = Geofence(POLICY, trusted_proxies=["private"])
    d = gf.evaluate(Request(ip="10.0.0.1", headers={"x-forwarded-for": xff}))
    assert d.ip == client, technique
    assert not d.allowed, technique


def test_a_6to4_peer_never_inherits_trust_from_its_embedded_address() -> None:
    gf = Geofence(POLICY, trusted_proxies=["private", "loopback"])
    for peer in ("2002:a00:1::1", "2002:7f00:1::1", "64:ff9b::a00:1", "64:ff9b::7f00:1"):
        d = gf.evaluate(Request(ip=peer, headers={"x-forwarded-for": "8.8.8.8"}))
        assert d.ip_source == "peer", peer
        assert not d.allowed, peer
