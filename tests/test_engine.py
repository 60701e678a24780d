"""Geofence.evaluate(): inputs, normalisation, spoofing, policy and data wiring, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from geofence import Geofence, PolicyError, Request, default_geo_paths
from geofence.errors import ConfigurationError

MAXMIND = Path(__file__).parent / "data" / "maxmind" / "test-data"
CITY = MAXMIND / "GeoIP2-City-Test.mmdb"
ANON = MAXMIND / "GeoIP2-Anonymous-IP-Test.mmdb"
ASN = MAXMIND / "GeoLite2-ASN-Test.mmdb"

POLICY: dict[str, Any] = {
    "name": "test-policy",
    "default": "deny",
    "unknown": "deny",
    "rules": [
        {"name": "office", "action": "allow", "networks": ["203.0.113.0/24"]},
        {"name": "embargoed", "action": "deny", "countries": ["CU", "IR", "KP", "SY", "CN"]},
        {"name": "supported", "action": "allow", "countries": ["US", "GB", "DE", "AU"]},
    ],
}


@pytest.fixture(scope="module")
def embedded() -> Geofence:
    return Geofence(POLICY, reload_interval=None)


# 8.8.8.8 is US in DB-IP, 1.0.1.1 is CN; each embedding of them must decide the same.
@pytest.mark.parametrize(
    ("given", "ip", "via", "action", "rule"),
    [
        ("8.8.8.8", "8.8.8.8", "direct", "allow", "supported"),
        ("1.0.1.1", "1.0.1.1", "direct", "deny", "embargoed"),
        ("::ffff:1.0.1.1", "1.0.1.1", "ipv4-mapped", "deny", "embargoed"),
        ("::FFFF:1.0.1.1", "1.0.1.1", "ipv4-mapped", "deny", "embargoed"),
        ("2002:100:101::1", "1.0.1.1", "6to4", "deny", "embargoed"),
        ("64:ff9b::1.0.1.1", "1.0.1.1", "nat64", "deny", "embargoed"),
        ("64:ff9b:1:100:1:100::", "1.0.1.1", "nat64", "deny", "embargoed"),
        # Teredo: the client address is the last 32 bits inverted (1.0.1.1 -> fe:fffe:fefe).
        ("2001:0:4136:e378:8000:63bf:feff:fefe", "1.0.1.1", "teredo", "deny", "embargoed"),
        ("[::ffff:1.0.1.1]:443", "1.0.1.1", "ipv4-mapped", "deny", "embargoed"),
        ("1.0.1.1:5678", "1.0.1.1", "direct", "deny", "embargoed"),
        ("[2a03:2880::1]:443", "2a03:2880::1", "direct", "allow", "supported"),
        ("203.0.113.7", "203.0.113.7", "direct", "allow", "office"),
        ("2002:cb00:7107::", "203.0.113.7", "6to4", "allow", "office"),
    ],
)
def test_every_form_of_an_address_decides_alike(
    embedded: Geofence, given: str, ip: str, via: str, action: str, rule: str
) -> None:
    d = embedded.evaluate(given)
    assert (d.ip, d.via, d.action.value, d.rule) == (ip, via, action, rule)
    assert d.allowed is (action == "allow")


def test_embedded_data_gives_country_and_asn(embedded: Geofence) -> None:
    d = embedded.evaluate("8.8.8.8")
    assert (d.country, d.asn) == ("US", 15169)
    assert d.as_org
    assert "Google" in d.as_org
    assert d.status == 200
    denied = embedded.evaluate("1.0.1.1")
    assert denied.status == 451
    assert any("CN" in r for r in denied.reasons)
    assert len(d.data_versions) >= 1


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        42,
        b"8.8.8.8",
        "",
        "8.8.8.8 ",
        "010.0.0.1",
        "127.1",
        "0x7f.0.0.1",
        "1.2.3.4:99999",
        "x" * 10_000,
        "\x00",
        "٣.٣.٣.٣",
        {},
        {"type": "lifespan"},
        [],
        object(),
    ],
)
def test_garbage_is_an_unknown_decision_not_an_exception(embedded: Geofence, garbage: Any) -> None:
    d = embedded.evaluate(garbage)
    assert d.action.value == "deny"
    assert not d.allowed
    assert d.ip is None
    assert d.rule is None


def test_spoofed_forwarding_headers_from_untrusted_peer_are_ignored() -> None:
    gf = Geofence(POLICY, trusted_proxies=["10.0.0.0/8"], reload_interval=None)
    for header in ("x-forwarded-for", "x-real-ip", "forwarded", "cf-connecting-ip"):
        value = "for=8.8.8.8" if header == "forwarded" else "8.8.8.8"
        d = gf.evaluate(Request(ip="1.0.1.1", headers={header: value}))
        assert (d.ip, d.ip_source, d.action.value) == ("1.0.1.1", "peer", "deny")


def test_trusted_proxy_chain_is_walked_right_to_left() -> None:
    gf = Geofence(POLICY, trusted_proxies=["10.0.0.0/8", "loopback"], reload_interval=None)
    # The leftmost entry is whatever the client claimed; the first untrusted hop from the right
    # is the address the trusted proxy saw.
    req = Request(ip="127.0.0.1", headers=[("X-Forwarded-For", "8.8.8.8, 1.0.1.1, 10.1.2.3")])
    d = gf.evaluate(req)
    assert (d.ip, d.ip_source, d.action.value) == ("1.0.1.1", "x-forwarded-for", "deny")
    two_lines = Request(
        ip="10.0.0.1",
        headers=[("x-forwarded-for", "1.0.1.1"), ("x-forwarded-for", "8.8.8.8, 10.0.0.2")],
    )
    assert gf.evaluate(two_lines).ip == "8.8.8.8"


def test_invalid_hop_makes_the_client_unknown() -> None:
    gf = Geofence(POLICY, trusted_proxies=["private"], reload_interval=None)
    d = gf.evaluate(Request(ip="10.0.0.1", headers={"x-forwarded-for": "8.8.8.8, 127.1"}))
    assert d.ip is None
    assert d.action.value == "deny"
    assert not d.allowed
    assert d.ip_problem


def test_asgi_scope_and_wsgi_environ() -> None:
    gf = Geofence(POLICY, trusted_proxies=["loopback"], reload_interval=None)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/messages",
        "client": ("127.0.0.1", 50000),
        "headers": [(b"x-forwarded-for", b"1.0.1.1")],
    }
    assert gf.evaluate(scope).ip == "1.0.1.1"
    ws_scope = {**scope, "type": "websocket"}
    assert gf.evaluate(ws_scope).action.value == "deny"
    environ = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "8.8.8.8", "PATH_INFO": "/"}
    assert gf.evaluate(environ).ip == "8.8.8.8"
    broken_scope = {"type": "http", "client": 12, "headers": [(1, 2)]}
    assert gf.evaluate(broken_scope).ip is None


def test_path_and_method_rules_use_the_request_not_the_cache() -> None:
    policy = {
        "name": "paths",
        "default": "deny",
        "rules": [
            {"name": "health", "action": "allow", "paths": ["/healthz"], "methods": ["GET"]},
            {"name": "supported", "action": "allow", "countries": ["US"]},
        ],
    }
    gf = Geofence(policy, reload_interval=None)
    assert gf.evaluate(Request(ip="1.0.1.1", path="/healthz")).rule == "health"
    assert gf.evaluate(Request(ip="1.0.1.1", path="/v1")).action.value == "deny"
    assert gf.evaluate(Request(ip="1.0.1.1", path="/healthz", method="POST")).action.value == "deny"
    assert gf.evaluate(Request(ip="8.8.8.8", path="/v1")).rule == "supported"


def test_report_mode_decides_but_allows() -> None:
    gf = Geofence({**POLICY, "mode": "report"}, reload_interval=None)
    d = gf.evaluate("1.0.1.1")
    assert d.action.value == "deny"
    assert d.allowed
    assert d.mode.value == "report"


def test_composed_maxmind_databases_give_regions_tags_and_asn() -> None:
    policy = {
        "name": "full",
        "default": "allow",
        "rules": [
            {"name": "anonymizers", "action": "deny", "status": 403, "tags": ["tor", "vpn"]},
            {"name": "england", "action": "challenge", "regions": ["GB-ENG"]},
        ],
    }
    gf = Geofence(policy, geo=[CITY, ASN, ANON], reload_interval=None)
    d = gf.evaluate("81.2.69.160")
    assert (d.country, d.registered_country, d.regions, d.continent) == (
        "GB",
        "US",
        ("GB-ENG",),
        "EU",
    )
    assert "tor" in d.tags
    assert (d.action.value, d.rule, d.status) == ("deny", "anonymizers", 403)
    assert gf.evaluate("2.125.160.216").rule == "england"
    assert gf.evaluate("2.125.160.216").status == 403


def test_policy_needing_regions_from_country_only_data_is_refused() -> None:
    policy = {"name": "r", "rules": [{"name": "occupied", "action": "deny", "regions": ["UA-43"]}]}
    country_only = default_geo_paths()[0]
    with pytest.raises(PolicyError, match=r"occupied.*regions.*region layer"):
        Geofence(policy, geo=country_only)
    with Geofence(policy, reload_interval=None) as gf:  # the embedded data has a region layer
        assert gf.evaluate("8.8.8.8").regions


def test_bad_configuration_fails_at_construction() -> None:
    with pytest.raises(ConfigurationError):
        Geofence(POLICY, trusted_proxies=["10.0.0.1/8"])
    with pytest.raises(ConfigurationError):
        Geofence(POLICY, trusted_proxies=["everyone"])
    with pytest.raises(ConfigurationError):
        Geofence(POLICY, nat64_prefixes=["2001:db8::/33"])
    with pytest.raises(ConfigurationError):
        Geofence(POLICY, geo=MAXMIND / "does-not-exist.mmdb")


def test_configured_nat64_prefix() -> None:
    gf = Geofence(POLICY, nat64_prefixes=["2001:db8:64::/96"], reload_interval=None)
    d = gf.evaluate("2001:db8:64::1.0.1.1")
    assert (d.ip, d.via, d.rule) == ("1.0.1.1", "nat64", "embargoed")


def test_decision_is_immutable_and_serialisable(embedded: Geofence) -> None:
    import json

    d = embedded.evaluate("8.8.8.8")
    with pytest.raises(AttributeError):
        d.action = "deny"  # type: ignore[misc]
    record = json.loads(json.dumps(d.to_dict()))
    assert record["country"] == "US"
    assert record["decision_id"] == d.decision_id
    assert embedded.evaluate("8.8.8.8").decision_id != d.decision_id


def test_lookup_returns_facts(embedded: Geofence) -> None:
    facts = embedded.lookup("::ffff:8.8.8.8")
    assert (facts.ip, facts.country, facts.asn) == ("8.8.8.8", "US", 15169)


def test_framework_request_objects() -> None:
    from types import SimpleNamespace

    from starlette.requests import Request as StarletteRequest
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request as WerkzeugRequest

    gf = Geofence(POLICY, trusted_proxies=["loopback"], reload_interval=None)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"x-forwarded-for", b"1.0.1.1")],
        "client": ("127.0.0.1", 1234),
    }
    assert gf.evaluate(StarletteRequest(scope)).ip == "1.0.1.1"
    environ = EnvironBuilder(
        path="/", headers={"X-Forwarded-For": "8.8.8.8"}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    ).get_environ()
    assert gf.evaluate(WerkzeugRequest(environ)).ip == "8.8.8.8"
    # Django's HttpRequest keeps the WSGI environ as META; building a real one needs settings,
    # which would leak into the Django example app's tests, so only its shape is used here.
    django_request = SimpleNamespace(
        META={"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "1.0.1.1"}
    )
    assert gf.evaluate(django_request).ip == "1.0.1.1"
