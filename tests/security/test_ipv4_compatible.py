"""IPv4-compatible addresses (``::a.b.c.d``, RFC 4291 section 2.5.5.1, deprecated) are the IPv4
address everywhere: facts, feed tags, ``networks`` rules and trusted proxies. ``::``, ``::1``
and anything whose embedded IPv4 would be in 0.0.0.0/8 stay IPv6."""

from __future__ import annotations

from typing import Any

import pytest

from geofence import Geofence, Request
from geofence.net import Via, normalize

TOR_EXIT = "185.241.208.232"  # in the embedded Tor snapshot
POLICY: dict[str, Any] = {
    "name": "compatible",
    "default": "allow",
    "unknown": "deny",
    "rules": [
        {"name": "tor", "action": "deny", "tags": ["tor"]},
        {"name": "lab", "action": "challenge", "networks": ["198.51.100.0/24"]},
        {"name": "embargo", "action": "deny", "countries": ["CN"]},
    ],
}


@pytest.fixture(scope="module")
def gf() -> Any:
    with Geofence(POLICY, feeds="embedded", trusted_proxies=["private"], reload_interval=None) as g:
        yield g


def test_normalisation_takes_the_embedded_ipv4_and_keeps_the_form() -> None:
    address = normalize("::1.0.1.1")
    assert (address.text, address.version, address.via) == ("1.0.1.1", 4, Via.IPV4_COMPATIBLE)
    assert address.original == "::1.0.1.1"


@pytest.mark.parametrize("text", ["::", "::1", "::0.1.2.3", "::0.0.0.2"])
def test_unspecified_loopback_and_zero_network_stay_ipv6(text: str) -> None:
    address = normalize(text)
    assert (address.version, address.via) == (6, Via.DIRECT)


def test_feed_tags_match_the_compatible_form(gf: Geofence) -> None:
    decision = gf.evaluate(f"::{TOR_EXIT}")
    assert (decision.rule, decision.ip) == ("tor", TOR_EXIT)
    assert "tor" in decision.tags


def test_networks_rules_and_countries_match_the_compatible_form(gf: Geofence) -> None:
    assert gf.evaluate("::198.51.100.7").rule == "lab"
    assert gf.evaluate("::1.0.1.1").rule == "embargo"


def test_a_trusted_proxy_written_in_compatible_form_is_trusted(gf: Geofence) -> None:
    decision = gf.evaluate(Request(ip="::10.0.0.5", headers={"x-forwarded-for": "1.0.1.1"}))
    assert (decision.ip, decision.rule) == ("1.0.1.1", "embargo")
