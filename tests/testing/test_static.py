"""StaticGeo and StaticReputation: real GeoSources, used through a Geofence."""

from __future__ import annotations

import pytest

from geofence import ConfigurationError, DataError, Geofence, GeoRecord, GeoSource, PolicyError
from geofence.testing import StaticGeo, StaticReputation, geo_record

POLICY = {
    "name": "p",
    "default": "allow",
    "rules": [
        {"name": "crimea", "action": "deny", "regions": ["UA-43"]},
        {"name": "embargoed", "action": "deny", "countries": ["CU"]},
        {"name": "tor", "action": "deny", "status": 403, "tags": ["tor"]},
    ],
}


def test_longest_prefix_wins_for_both_families() -> None:
    geo = StaticGeo(
        {
            "10.0.0.0/8": {"country": "US"},
            "10.1.0.0/16": {"country": "CA"},
            "10.1.2.3": {"country": "MX"},
            "2001:db8::/32": {"country": "DE"},
            "2001:db8:1::/48": {"country": "FR"},
        }
    )
    assert geo.lookup("10.9.9.9").country == "US"
    assert geo.lookup("10.1.9.9").country == "CA"
    assert geo.lookup("10.1.2.3").country == "MX"
    assert geo.lookup("10.1.2.4").country == "CA"
    assert geo.lookup("2001:db8:1::5").country == "FR"
    assert geo.lookup("2001:db8:2::5").country == "DE"
    assert geo.lookup("11.0.0.1") == GeoRecord()
    assert geo.lookup("::1") == GeoRecord()


def test_is_a_geo_source_and_drives_a_geofence() -> None:
    geo = StaticGeo(
        {
            "152.206.0.0/16": {"country": "CU"},
            "185.220.101.0/24": {"country": "DE", "tags": ["tor"]},
            "193.19.84.0/24": {"country": "UA", "regions": ["UA-43"]},
        }
    )
    assert isinstance(geo, GeoSource)
    gf = Geofence(POLICY, geo=geo, reload_interval=None)
    assert gf.evaluate("152.206.3.4").rule == "embargoed"
    tor = gf.evaluate("185.220.101.7")
    assert (tor.rule, tor.status, tor.country) == ("tor", 403, "DE")
    assert gf.evaluate("193.19.84.10").rule == "crimea"
    assert gf.evaluate("8.8.8.8").rule is None
    assert gf.data_versions == ("static static",)


def test_facts_are_validated_like_policy_codes() -> None:
    record = geo_record({"country": "gb", "asn": "AS2856", "tags": "vpn", "regions": "gb-eng"})
    assert record == GeoRecord(country="GB", regions=("GB-ENG",), asn=2856, tags=frozenset({"vpn"}))
    with pytest.raises(ConfigurationError, match=r"did you mean 'GB'"):
        StaticGeo({"1.0.0.0/8": {"country": "UK"}})
    with pytest.raises(ConfigurationError, match=r"unknown fact 'city'"):
        StaticGeo({"1.0.0.0/8": {"city": "Paris"}})
    with pytest.raises(ConfigurationError, match=r"not a known tag; did you mean 'public_proxy'"):
        StaticGeo({"1.0.0.0/8": {"tags": ["proxy"]}})
    with pytest.raises(ConfigurationError, match=r"not an address or CIDR"):
        StaticGeo({"1.0.0.1/8": {"country": "US"}})
    with pytest.raises(ConfigurationError, match=r"unknown fact kinds: cities"):
        StaticGeo(provides=["country", "cities"])


def test_provides_is_checked_by_the_geofence() -> None:
    geo = StaticGeo({"1.0.0.0/8": {"country": "CN"}}, provides=["country"])
    with pytest.raises(PolicyError, match=r"rule 'crimea'.*uses regions"):
        Geofence(POLICY, geo=geo)


def test_add_is_seen_through_reload_like_a_replaced_file() -> None:
    geo = StaticGeo({"152.206.0.0/16": {"country": "US"}})
    gf = Geofence(POLICY, geo=geo, reload_interval=0.0)
    assert gf.evaluate("152.206.3.4").action == "allow"
    geo.add("152.206.0.0/16", country="CU")
    assert gf.evaluate("152.206.3.4").rule == "embargoed"
    assert geo.check_reload() is False  # reported once, already consumed by the Geofence


def test_reputation_composes_with_a_country_source() -> None:
    reputation = StaticReputation({"185.220.101.0/24": ["tor"]}, name="tor-exits")
    assert reputation.provides == frozenset({"tags"})
    gf = Geofence(
        POLICY,
        geo=[StaticGeo({"185.0.0.0/8": {"country": "NL"}}), reputation],
        reload_interval=None,
    )
    decision = gf.evaluate("185.220.101.7")
    assert (decision.rule, decision.country, decision.tags) == ("tor", "NL", frozenset({"tor"}))
    assert gf.evaluate("185.220.102.7").rule is None


def test_closed_source_raises_data_error() -> None:
    geo = StaticGeo({"1.0.0.0/8": {"country": "CN"}})
    geo.close()
    with pytest.raises(DataError, match="closed"):
        geo.lookup("1.0.0.1")
