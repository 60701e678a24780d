"""Compatibility name for ``geofence.vocab.codes`` (the ISO code vocabulary moved there)."""

from geofence.vocab.codes import (
    CONTINENTS,
    EXTRA_COUNTRIES,
    continent_code,
    country_code,
    country_codes,
    region_code,
    region_codes,
    suggest_country,
)

__all__ = [
    "CONTINENTS",
    "EXTRA_COUNTRIES",
    "continent_code",
    "country_code",
    "country_codes",
    "region_code",
    "region_codes",
    "suggest_country",
]
