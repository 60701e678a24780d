"""Schema detection and record extraction, on records shaped like each vendor's."""

from __future__ import annotations

from typing import Any

import pytest

from geofence.facts import GeoRecord
from geofence.geo import FACT_KINDS, detect_schema

CITY_RECORD: dict[str, Any] = {
    "city": {"geoname_id": 2643743, "names": {"en": "London"}},
    "continent": {"code": "EU", "geoname_id": 6255148},
    "country": {"geoname_id": 2635167, "iso_code": "GB"},
    "registered_country": {"geoname_id": 6252001, "iso_code": "US"},
    "subdivisions": [{"geoname_id": 6269131, "iso_code": "ENG"}, {"iso_code": "WBK"}],
}


@pytest.mark.parametrize(
    ("database_type", "kind"),
    [
        ("GeoIP2-Country", "geoip2-country"),
        ("GeoLite2-Country", "geoip2-country"),
        ("GeoIP2-Country-Shield", "geoip2-country"),
        ("DBIP-Country-Lite", "geoip2-country"),
        ("GeoIP2-City", "geoip2-city"),
        ("GeoLite2-City", "geoip2-city"),
        ("DBIP-City-Lite", "geoip2-city"),
        ("GeoIP2-Enterprise", "geoip2-enterprise"),
        ("GeoIP2-Precision-Enterprise", "geoip2-enterprise"),
        ("GeoLite2-ASN", "asn"),
        ("GeoIP2-ISP", "isp"),
        ("GeoIP2-Anonymous-IP", "anonymous-ip"),
        ("GeoIP-Anonymous-Plus", "anonymous-plus"),
        ("GeoIP-Residential-Proxy", "residential-proxy"),
    ],
)
def test_vendor_types_pick_the_schema_without_records(database_type: str, kind: str) -> None:
    schema = detect_schema(database_type, [])
    assert schema is not None
    assert schema.kind == kind
    assert schema.provides <= FACT_KINDS


@pytest.mark.parametrize(
    ("database_type", "records", "kind", "provides"),
    [
        ("country", [{"country_code": "US"}], "flat-country", {"country"}),
        ("ip-location-db", [{"country_code": "DE"}], "flat-country", {"country"}),
        (
            "ip-location-db-asn",
            [{"autonomous_system_number": 13335, "autonomous_system_organization": "CF"}],
            "flat-asn",
            {"asn", "as_org"},
        ),
        (
            "ipinfo generic_country_asn_free.mmdb",
            [{"country": "US", "continent": "NA", "asn": "AS13335", "as_name": "Cloudflare"}],
            "flat",
            {"country", "continent", "asn", "as_org"},
        ),
        (
            "ipinfo lite.mmdb",
            [{"country_code": "US", "continent_code": "NA", "asn": "AS1", "as_name": "X"}],
            "flat",
            {"country", "continent", "asn", "as_org"},
        ),
        (
            "my-geo",
            [CITY_RECORD],
            "geoip2",
            {"country", "registered_country", "continent", "regions"},
        ),
        ("my-anon", [{"is_anonymous": True, "is_tor_exit_node": True}], "anonymous-ip", {"tags"}),
        # A vendor name whose records disagree with it is read by its records.
        ("GeoLite2-Country", [{"country_code": "FR"}], "flat-country", {"country"}),
    ],
)
def test_unknown_types_are_recognised_by_their_records(
    database_type: str, records: list[dict[str, Any]], kind: str, provides: set[str]
) -> None:
    schema = detect_schema(database_type, records)
    assert schema is not None
    assert (schema.kind, schema.provides) == (kind, frozenset(provides))


@pytest.mark.parametrize(
    ("database_type", "records"),
    [
        ("Test", []),
        ("GeoIP2-Connection-Type", [{"connection_type": "Cable/DSL"}]),
        ("GeoIP2-Domain", [{"domain": "example.com"}]),
        ("MaxMind DB String Value Entries", ["a string record"]),
        ("Test", [{"ip": "1.1.1.1"}]),
        ("country", [{"country_code": 7}]),
    ],
)
def test_unrecognised_schemas_give_none(database_type: str, records: list[Any]) -> None:
    assert detect_schema(database_type, records) is None


def _extract(database_type: str, record: dict[str, Any]) -> GeoRecord:
    schema = detect_schema(database_type, [record])
    assert schema is not None
    return schema.extract(record)


@pytest.mark.parametrize(
    ("database_type", "record", "expected"),
    [
        (
            "GeoIP2-Country",
            CITY_RECORD,
            GeoRecord(country="GB", registered_country="US", continent="EU"),
        ),
        (
            "GeoIP2-City",
            CITY_RECORD,
            GeoRecord("GB", "US", None, ("GB-ENG", "GB-WBK"), "EU"),
        ),
        (
            "GeoIP2-City",
            {
                "country": {"iso_code": "PH"},
                "represented_country": {"iso_code": "US", "type": "military"},
            },
            GeoRecord(country="PH", represented_country="US"),
        ),
        # Malformed subdivision codes are dropped, never passed on as regions.
        (
            "GeoIP2-City",
            {
                "country": {"iso_code": "GB"},
                "subdivisions": [
                    {"iso_code": "eng"},
                    {"iso_code": "ENGL"},
                    {},
                    {"iso_code": "SCT"},
                ],
            },
            GeoRecord(country="GB", regions=("GB-SCT",)),
        ),
        # No country: subdivisions cannot be qualified, so no regions.
        ("GeoIP2-City", {"city": {}, "subdivisions": [{"iso_code": "ENG"}]}, GeoRecord()),
        (
            "GeoIP2-Enterprise",
            {
                "country": {"iso_code": "US"},
                "traits": {
                    "autonomous_system_number": 14671,
                    "autonomous_system_organization": "FairPoint Communications",
                    "is_anonymous": True,
                    "is_hosting_provider": True,
                },
            },
            GeoRecord(
                country="US",
                asn=14671,
                as_org="FairPoint Communications",
                tags=frozenset({"anonymous", "hosting"}),
            ),
        ),
        (
            "GeoLite2-ASN",
            {"autonomous_system_number": 1221, "autonomous_system_organization": "Telstra Pty Ltd"},
            GeoRecord(asn=1221, as_org="Telstra Pty Ltd"),
        ),
        (
            "GeoIP2-Anonymous-IP",
            {
                "is_anonymous": True,
                "is_anonymous_vpn": True,
                "is_hosting_provider": True,
                "is_public_proxy": True,
                "is_residential_proxy": True,
                "is_tor_exit_node": True,
            },
            GeoRecord(
                tags=frozenset(
                    {"anonymous", "vpn", "hosting", "public_proxy", "residential_proxy", "tor"}
                )
            ),
        ),
        ("GeoIP2-Anonymous-IP", {"is_anonymous": False}, GeoRecord()),
        (
            "GeoIP-Residential-Proxy",
            {"provider_name": "quickshift", "anonymizer_confidence": 82},
            GeoRecord(tags=frozenset({"residential_proxy"})),
        ),
        ("country", {"country_code": "US"}, GeoRecord(country="US")),
        (
            "ipinfo",
            {"country": "US", "continent": "NA", "asn": "AS13335", "as_name": "Cloudflare, Inc."},
            GeoRecord(country="US", continent="NA", asn=13335, as_org="Cloudflare, Inc."),
        ),
        # IPinfo leaves unknown fields empty; an ASN that is not "AS<digits>" is unknown.
        ("ipinfo", {"country": "", "asn": "", "as_name": ""}, GeoRecord()),
        ("ipinfo", {"country": "NL", "asn": "ASX"}, GeoRecord(country="NL")),
        ("ipinfo", {"country_code": "JP", "asn": "as7"}, GeoRecord(country="JP", asn=7)),
    ],
)
def test_extraction(database_type: str, record: dict[str, Any], expected: GeoRecord) -> None:
    assert _extract(database_type, record) == expected


def test_flat_country_records_are_shared_per_code() -> None:
    first = _extract("country", {"country_code": "SE"})
    assert first is _extract("country", {"country_code": "SE"})
