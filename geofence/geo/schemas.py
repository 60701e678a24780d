"""Turn one raw ``.mmdb`` record into a ``GeoRecord``, per database schema.

A schema is chosen once per file (from the metadata ``database_type``, else by looking at
records) and its extractor is then called per lookup, so extractors never ask which schema
they are reading. Extractors assume the record has the schema's shape; a record that does not
raises (``AttributeError``, ``TypeError``...), which ``MMDBSource`` reports as ``DataError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from geofence.facts import EMPTY_TAGS, GeoRecord
from geofence.geo.places import (
    NAMES_NOTE,
    REGION_LAYER_TYPE,
    flat_city,
    location_of,
    region_layer,
    regions_of,
    subdivision_kind,
)
from geofence.geo.territory import settle

__all__ = ["FLAG_TAGS", "Record", "Schema", "detect_schema", "refine"]

Record = Mapping[str, Any]

FLAG_TAGS: tuple[tuple[str, str], ...] = (
    ("is_anonymous", "anonymous"),
    ("is_anonymous_vpn", "vpn"),
    ("is_hosting_provider", "hosting"),
    ("is_public_proxy", "public_proxy"),
    ("is_residential_proxy", "residential_proxy"),
    ("is_tor_exit_node", "tor"),
)
"""MaxMind anonymizer flags and the tag each one sets."""

_LOCATION = frozenset({"country", "registered_country", "represented_country", "continent"})
_COORDINATES = frozenset({"latitude", "longitude"})
_ASN = frozenset({"asn", "as_org"})
_TAGS = frozenset({"tags"})
_RESIDENTIAL = GeoRecord(tags=frozenset({"residential_proxy"}))
# tuple.__new__ is a C call; GeoRecord(...) runs the generated Python __new__ (~0.1 us more).
_new = tuple.__new__
_BY_COUNTRY: dict[object, GeoRecord] = {}
_BY_COUNTRY_MAX = 4096  # a few hundred codes exist; the bound only guards against odd data


class Schema(NamedTuple):
    """How to read one kind of database: its name, what it provides, and the extractor."""

    kind: str
    """e.g. ``"geoip2-city"``, ``"flat-country"``."""
    provides: frozenset[str]
    """The fact kinds the extractor can fill."""
    extract: Callable[[Record], GeoRecord]
    """Raw record -> ``GeoRecord``; called per lookup hit."""
    note: str = ""
    """What the data's version adds about how facts are read (``NAMES_NOTE``), or nothing."""


def _iso(rec: Record, key: str) -> str | None:
    part = rec.get(key)
    return part.get("iso_code") if part else None


def _continent(rec: Record) -> str | None:
    part = rec.get("continent")
    return part.get("code") if part else None


def _flag_tags(flags: Record) -> frozenset[str]:
    tags = [tag for flag, tag in FLAG_TAGS if flags.get(flag)]
    return frozenset(tags) if tags else EMPTY_TAGS


def _geoip2_country(rec: Record) -> GeoRecord:
    return _new(
        GeoRecord,
        (
            _iso(rec, "country"),
            _iso(rec, "registered_country"),
            _iso(rec, "represented_country"),
            (),
            _continent(rec),
            None,
            None,
            EMPTY_TAGS,
            None,
            None,
            None,
        ),
    )


def _geoip2_city(rec: Record) -> GeoRecord:
    country = _iso(rec, "country")
    record = _new(
        GeoRecord,
        (
            country,
            _iso(rec, "registered_country"),
            _iso(rec, "represented_country"),
            regions_of(country, rec.get("subdivisions")),
            _continent(rec),
            None,
            None,
            EMPTY_TAGS,
            *location_of(rec),
            None,
        ),
    )
    return settle(record)


def _geoip2_enterprise(rec: Record) -> GeoRecord:
    country = _iso(rec, "country")
    traits = rec.get("traits") or {}
    record = _new(
        GeoRecord,
        (
            country,
            _iso(rec, "registered_country"),
            _iso(rec, "represented_country"),
            regions_of(country, rec.get("subdivisions")),
            _continent(rec),
            traits.get("autonomous_system_number"),
            traits.get("autonomous_system_organization"),
            _flag_tags(traits),
            *location_of(rec),
            None,
        ),
    )
    return settle(record)


def _asn(rec: Record) -> GeoRecord:
    return _new(
        GeoRecord,
        (
            None,
            None,
            None,
            (),
            None,
            rec.get("autonomous_system_number"),
            rec.get("autonomous_system_organization"),
            EMPTY_TAGS,
            None,
            None,
            None,
        ),
    )


def _anonymous(rec: Record) -> GeoRecord:
    return GeoRecord(tags=_flag_tags(rec))


def _residential(rec: Record) -> GeoRecord:
    # Every network in a Residential-Proxy database is one; the record only says whose.
    return _RESIDENTIAL


def _flat_country_code(rec: Record) -> GeoRecord:
    # DB-IP / ip-location-db is the default data: one shared record per code, no allocation.
    code = rec.get("country_code")
    record = _BY_COUNTRY.get(code)
    if record is None:
        record = GeoRecord(code)
        if len(_BY_COUNTRY) < _BY_COUNTRY_MAX:
            _BY_COUNTRY[code] = record
    return record


def _parse_asn(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value[:2].upper() == "AS" and value[2:].isdigit():
        return int(value[2:])
    return None


def _flat(rec: Record) -> GeoRecord:
    # IPinfo (``country``/``asn: "AS13335"``/``as_name``), IPinfo Lite (``country_code``,
    # ``continent_code``) and other flat layouts; empty strings mean unknown.
    return GeoRecord(
        country=rec.get("country_code") or rec.get("country") or None,
        continent=rec.get("continent_code") or rec.get("continent") or None,
        asn=_parse_asn(rec.get("asn") or rec.get("autonomous_system_number")),
        as_org=rec.get("as_name") or rec.get("autonomous_system_organization") or None,
    )


GEOIP2_COUNTRY = Schema("geoip2-country", _LOCATION, _geoip2_country)
GEOIP2_CITY = Schema("geoip2-city", _LOCATION | _COORDINATES | {"regions"}, _geoip2_city)
GEOIP2_ENTERPRISE = Schema(
    "geoip2-enterprise",
    _LOCATION | _COORDINATES | {"regions"} | _ASN | _TAGS,
    _geoip2_enterprise,
)
ASN = Schema("asn", _ASN, _asn)
ISP = Schema("isp", _ASN, _asn)
ANONYMOUS_IP = Schema("anonymous-ip", _TAGS, _anonymous)
ANONYMOUS_PLUS = Schema("anonymous-plus", _TAGS, _anonymous)
RESIDENTIAL_PROXY = Schema("residential-proxy", _TAGS, _residential)
FLAT_COUNTRY = Schema("flat-country", frozenset({"country"}), _flat_country_code)
FLAT_ASN = Schema("flat-asn", _ASN, _asn)
_PLACE = frozenset({"country", "regions", "latitude", "longitude"})
REGION_LAYER = Schema(REGION_LAYER_TYPE, _PLACE, region_layer)
FLAT_CITY = Schema("flat-city", _PLACE, flat_city)

# MaxMind and DB-IP name their databases "<vendor>-<product>"; the product picks the schema.
_VENDOR = re.compile(r"(?:GeoIP2|GeoLite2|GeoIP|DBIP)-(?P<product>.+)")
_PRODUCTS: tuple[tuple[re.Pattern[str], Schema, frozenset[str]], ...] = (
    # (product pattern, schema, top-level keys at least one sampled record must have)
    (re.compile(r".*Enterprise"), GEOIP2_ENTERPRISE, frozenset({"country", "continent", "traits"})),
    (re.compile(r"(Precision-)?City"), GEOIP2_CITY, frozenset({"country", "continent", "city"})),
    (re.compile(r"(Precision-)?Country"), GEOIP2_COUNTRY, frozenset({"country", "continent"})),
    (re.compile(r"Anonymous-Plus"), ANONYMOUS_PLUS, frozenset(f for f, _ in FLAG_TAGS)),
    (re.compile(r"Anonymous-IP"), ANONYMOUS_IP, frozenset(f for f, _ in FLAG_TAGS)),
    (re.compile(r"Residential-Proxy"), RESIDENTIAL_PROXY, frozenset()),
    (re.compile(r"ASN"), ASN, frozenset({"autonomous_system_number"})),
    (re.compile(r"ISP"), ISP, frozenset({"autonomous_system_number", "isp"})),
)


def detect_schema(database_type: str, samples: Sequence[object]) -> Schema | None:
    """The schema for a database, from its ``database_type`` and some of its records.

    A vendor type (``GeoIP2-City``, ``DBIP-Country-Lite``...) decides when the sampled records
    agree with it; other types (``ip-location-db`` says ``country``) are recognised by their
    records. ``None`` when neither tells.
    """
    records = [rec for rec in samples if isinstance(rec, Mapping)]
    if len(records) < len(samples):
        return None
    if database_type == REGION_LAYER_TYPE:
        return REGION_LAYER
    vendor = _VENDOR.fullmatch(database_type)
    if vendor:
        for pattern, schema, keys in _PRODUCTS:
            if pattern.match(vendor["product"]):
                if not keys or not records or any(not keys.isdisjoint(r) for r in records):
                    return schema
                break
    return _probe(records)


def refine(schema: Schema, records: Sequence[Record]) -> Schema:
    """``schema`` as a file's first ``records`` bear it out: ``regions`` stays only where
    subdivisions give ISO 3166-2 codes, or names that map to them (then ``note`` says so)."""
    if "regions" not in schema.provides or schema is REGION_LAYER:
        return schema
    if schema is FLAT_CITY:
        kind = "names" if any(flat_city(r).regions for r in records) else None
    else:
        kind = subdivision_kind(records)
    if kind == "codes":
        return schema
    if kind == "names":
        return schema._replace(note=NAMES_NOTE)
    return schema._replace(provides=schema.provides - {"regions"})


def _probe(records: Sequence[Record]) -> Schema | None:
    keys = set().union(*records) if records else set()
    nested = {k for k in ("country", "continent", "registered_country") if _has_map(records, k)}
    if nested or _has_map(records, "traits"):
        return _nested_schema(records)
    if not keys.isdisjoint(f for f, _ in FLAG_TAGS):
        return ANONYMOUS_IP
    if keys == {"country_code"} and all(isinstance(r["country_code"], str) for r in records):
        return FLAT_COUNTRY
    if {"country_code", "state1"} <= keys:  # ip-location-db City (DB-IP City Lite and others)
        return FLAT_CITY
    if keys and keys <= {"autonomous_system_number", "autonomous_system_organization"}:
        return FLAT_ASN
    provides = _flat_provides(records)
    return Schema("flat", provides, _flat) if provides else None


def _has_map(records: Iterable[Record], key: str) -> bool:
    return any(isinstance(r.get(key), Mapping) for r in records)


def _nested_schema(records: Sequence[Record]) -> Schema:
    provides = {kind for kind in _LOCATION if _has_map(records, kind)}
    if any(r.get("subdivisions") for r in records):
        provides.add("regions")
    if _has_map(records, "location"):
        provides |= _COORDINATES
    traits = set().union(*(r["traits"] for r in records if isinstance(r.get("traits"), Mapping)))
    if "autonomous_system_number" in traits:
        provides.add("asn")
    if "autonomous_system_organization" in traits:
        provides.add("as_org")
    if not traits.isdisjoint(f for f, _ in FLAG_TAGS):
        provides.add("tags")
    return Schema("geoip2", frozenset(provides), _geoip2_enterprise)


def _flat_provides(records: Sequence[Record]) -> frozenset[str]:
    def has_text(*keys: str) -> bool:
        return any(isinstance(r.get(k), str) for r in records for k in keys)

    provides = set()
    if has_text("country_code", "country"):
        provides.add("country")
    if has_text("continent_code", "continent"):
        provides.add("continent")
    if has_text("asn") or any(isinstance(r.get("autonomous_system_number"), int) for r in records):
        provides.add("asn")
    if has_text("as_name", "autonomous_system_organization"):
        provides.add("as_org")
    return frozenset(provides)
