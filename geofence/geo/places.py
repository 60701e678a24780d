"""Where an address is below the country: subdivisions and coordinates out of raw records.

City-level databases say it three ways, each read here into ``GeoRecord`` fields:

- GeoIP2/GeoLite2 City and Enterprise: ``subdivisions`` with an ISO 3166-2 ``iso_code``; some
  third-party files in that shape give only ``names``, which are mapped to codes through
  ``geofence.geo.subdivisions`` (the alias table, then pycountry) instead of matching nothing;
- ip-location-db's flat City files (DB-IP City Lite): ``country_code``, ``state1`` (a name),
  ``latitude``, ``longitude``;
- the embedded region layer (``data/regions.mmdb``, built by ``tools/build_regions.py``):
  ``country_code``, ``subdivision_code``, rounded ``latitude``/``longitude``.

Every record then goes through the territory rule (``geofence.geo.territory``). ``refine``
decides, from a file's first records, whether a schema really gives regions and how, so a
City database with neither codes nor mappable names does not claim ``regions``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from geofence.facts import EMPTY_TAGS, GeoRecord
from geofence.geo.subdivisions import code_for
from geofence.geo.territory import settle

__all__ = [
    "NAMES_NOTE",
    "REGION_LAYER_TYPE",
    "flat_city",
    "location_of",
    "region_layer",
    "regions_of",
    "subdivision_kind",
]

REGION_LAYER_TYPE = "geofence-regions"
"""``database_type`` of the embedded region layer."""

NAMES_NOTE = "regions mapped from subdivision names"
"""What a source's version says when its regions come from names, not codes."""

_REGION = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
_new = tuple.__new__
_ONE: dict[str, tuple[str, ...]] = {}  # code -> (code,): one tuple per code, not per lookup


def _one(code: str) -> tuple[str, ...]:
    regions = _ONE.get(code)
    if regions is None:
        regions = _ONE[code] = (code,)
    return regions


def regions_of(country: str | None, subdivisions: Sequence[Any] | None) -> tuple[str, ...]:
    """ISO 3166-2 codes of GeoIP2 ``subdivisions``: ``iso_code`` where given, else the English
    name mapped through the alias table; a malformed code or an unknown name is dropped."""
    if not subdivisions or not country:
        return ()
    codes = []
    for sub in subdivisions:
        iso = sub.get("iso_code")
        if iso is not None:
            code = f"{country}-{iso}"
            if _REGION.fullmatch(code):  # policies compare exact ISO 3166-2 text
                codes.append(code)
            continue
        names = sub.get("names")
        name = names.get("en") if isinstance(names, Mapping) else None
        mapped = code_for(country, name) if isinstance(name, str) else None
        if mapped is not None:
            codes.append(mapped)
    return tuple(codes)


def location_of(rec: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """``(latitude, longitude)`` of a GeoIP2 record's ``location``, ``(None, None)`` if absent."""
    location = rec.get("location")
    if not location:
        return None, None
    lat, lon = location.get("latitude"), location.get("longitude")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        return float(lat), float(lon)
    return None, None


def _coordinates(rec: Mapping[str, Any]) -> tuple[float | None, float | None]:
    lat, lon = rec.get("latitude"), rec.get("longitude")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        return float(lat), float(lon)
    return None, None


def region_layer(rec: Mapping[str, Any]) -> GeoRecord:
    """A record of the embedded region layer."""
    code = rec.get("subdivision_code")
    lat, lon = _coordinates(rec)
    regions = _one(code) if code else ()
    fields = (rec.get("country_code"), None, None, regions, None, None, None, EMPTY_TAGS)
    return settle(_new(GeoRecord, (*fields, lat, lon, None)))


def flat_city(rec: Mapping[str, Any]) -> GeoRecord:
    """A record of ip-location-db's flat City files: the ``state1`` name mapped to a code."""
    country = rec.get("country_code") or None
    name = rec.get("state1")
    code = code_for(country, name) if country and isinstance(name, str) else None
    lat, lon = _coordinates(rec)
    regions = _one(code) if code else ()
    fields = (country, None, None, regions, None, None, None, EMPTY_TAGS)
    return settle(_new(GeoRecord, (*fields, lat, lon, None)))


def subdivision_kind(records: Sequence[Mapping[str, Any]]) -> str | None:
    """How the GeoIP2-shaped ``records`` name subdivisions: ``"codes"`` (some ``iso_code``),
    ``"names"`` (names only, some mapping to a code), or ``None`` (no code can be had)."""
    named = False
    for rec in records:
        country = rec.get("country")
        subs = rec.get("subdivisions")
        if not subs or not isinstance(country, Mapping):
            continue
        if any(isinstance(s, Mapping) and s.get("iso_code") for s in subs):
            return "codes"
        named = named or bool(regions_of(country.get("iso_code"), subs))
    return "names" if named else None
