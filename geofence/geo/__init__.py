"""Geo sources: facts about an address (country, regions, ASN, anonymizer tags) from .mmdb files."""

from __future__ import annotations

from geofence.geo.composite import CompositeGeo, GeoSpec, open_geo
from geofence.geo.mmdb import MMDBSource
from geofence.geo.schemas import Schema, detect_schema
from geofence.geo.source import FACT_KINDS, GeoSource

__all__ = [
    "FACT_KINDS",
    "CompositeGeo",
    "GeoSource",
    "GeoSpec",
    "MMDBSource",
    "Schema",
    "detect_schema",
    "open_geo",
]
