"""Country, region and continent codes: validation, normalisation and "did you mean" hints.

pycountry takes a noticeable time to load its tables, so every lookup set is built once, on
first use, and kept.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

import pycountry

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

CONTINENTS: Mapping[str, str] = MappingProxyType(
    {
        "AF": "Africa",
        "AN": "Antarctica",
        "AS": "Asia",
        "EU": "Europe",
        "NA": "North America",
        "OC": "Oceania",
        "SA": "South America",
    }
)
"""The continent codes used by GeoIP databases, with their names."""

EXTRA_COUNTRIES: Mapping[str, str] = MappingProxyType({"XK": "Kosovo"})
"""User-assigned codes in wide use (GeoIP databases return XK) that ISO 3166-1 lacks."""

# Codes and names people write that are not the ISO alpha-2 code they mean.
_COUNTRY_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "UK": "GB",
        "EL": "GR",  # the EU's code for Greece
        "XKX": "XK",
        "RKS": "XK",
        "KOSOVO": "XK",
        "RUSSIA": "RU",
        "BRITAIN": "GB",
        "GREAT BRITAIN": "GB",
        "ENGLAND": "GB",
        "SCOTLAND": "GB",
        "WALES": "GB",
        "NORTHERN IRELAND": "GB",
        "AMERICA": "US",
        "UNITED STATES OF AMERICA": "US",
        "HOLLAND": "NL",
        "TURKEY": "TR",
        "IVORY COAST": "CI",
        "BURMA": "MM",
        "SWAZILAND": "SZ",
        "MACEDONIA": "MK",
        "CAPE VERDE": "CV",
        "CZECH REPUBLIC": "CZ",
    }
)

_CONTINENT_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        **{name.upper(): code for code, name in CONTINENTS.items()},
        "AUSTRALIA": "OC",
        "AUSTRALASIA": "OC",
        "EUROPA": "EU",
    }
)


@cache
def country_codes() -> frozenset[str]:
    """Every accepted ISO 3166-1 alpha-2 code (plus ``XK``)."""
    return frozenset(c.alpha_2 for c in pycountry.countries) | frozenset(EXTRA_COUNTRIES)


@cache
def region_codes() -> frozenset[str]:
    """Every ISO 3166-2 subdivision code, e.g. ``GB-ENG``, ``UA-43``."""
    return frozenset(s.code.upper() for s in pycountry.subdivisions)


@cache
def _country_lookup() -> dict[str, str]:
    """Upper-case alpha-3, numeric codes and names (full and short forms) -> alpha-2."""
    table: dict[str, str] = {}
    ambiguous: set[str] = set()
    for c in pycountry.countries:
        table[c.alpha_3] = c.alpha_2
        table[c.numeric] = c.alpha_2
        for attr in ("name", "official_name", "common_name"):
            name = getattr(c, attr, None)
            if not name:
                continue
            for key in {name.upper(), name.split(",")[0].split("(")[0].strip().upper()}:
                if table.setdefault(key, c.alpha_2) != c.alpha_2:
                    ambiguous.add(key)  # "KOREA" is two countries: suggest neither
    for key in ambiguous:
        del table[key]
    table.update(_COUNTRY_ALIASES)
    return table


@cache
def _region_names() -> dict[str, str]:
    """Upper-case subdivision name -> code, for names that are unique worldwide."""
    table: dict[str, str] = {}
    ambiguous: set[str] = set()
    for s in pycountry.subdivisions:
        if table.setdefault(s.name.upper(), s.code.upper()) != s.code.upper():
            ambiguous.add(s.name.upper())
    for key in ambiguous:
        del table[key]
    return table


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return country.name if country is not None else EXTRA_COUNTRIES.get(code, code)


def suggest_country(text: str) -> str | None:
    """The alpha-2 code ``text`` most likely means (``UK`` -> ``GB``, ``Germany`` -> ``DE``)."""
    key = " ".join(text.upper().replace("_", " ").split())
    lookup = _country_lookup()
    if key in lookup:
        return lookup[key]
    if len(key) < 4:
        return None  # every short code is "close" to dozens of others
    names = [k for k in lookup if len(k) > 3 and not k.isdigit()]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.8)
    return lookup[close[0]] if close else None


def country_code(text: str) -> str:
    """Normalise a country code to upper case; raise ``ValueError`` with a hint if unknown."""
    code = text.upper()
    if code in country_codes():
        return code
    guess = suggest_country(text)
    if guess is not None:
        hint = f"; did you mean {guess!r} ({_country_name(guess)})?"
    elif code.replace("_", "-") in region_codes():
        hint = f"; it is an ISO 3166-2 region: put {code!r} under regions"
    elif code in CONTINENTS or code in _CONTINENT_ALIASES:
        continent = code if code in CONTINENTS else _CONTINENT_ALIASES[code]
        hint = f"; for the continent use continents: [{continent}]"
    else:
        hint = ""
    raise ValueError(f"{text!r} is not an ISO 3166-1 alpha-2 country code{hint}")


_REGION_SHAPE = re.compile(r"([A-Z]{2})[-_ ]?([A-Z0-9]{1,3})")


def region_code(text: str) -> str:
    """Normalise an ISO 3166-2 code to upper case; raise ``ValueError`` with a hint if unknown."""
    code = text.upper()
    if code in region_codes():
        return code
    hint = ""
    shape = _REGION_SHAPE.fullmatch(code)
    named = _region_names().get(" ".join(code.split()))
    if named is not None:
        hint = f"; did you mean {named!r} ({text.strip()})?"
    elif shape and f"{shape[1]}-{shape[2]}" in region_codes():
        hint = f"; did you mean '{shape[1]}-{shape[2]}'?"
    elif code in country_codes():
        hint = f"; {code!r} is a country: put it under countries"
    elif shape and shape[1] in country_codes():
        same = sorted(r for r in region_codes() if r.startswith(shape[1] + "-"))
        close = difflib.get_close_matches(f"{shape[1]}-{shape[2]}", same, n=3, cutoff=0.6)
        if close:
            hint = "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        elif not same:
            hint = f"; {shape[1]} has no ISO 3166-2 subdivisions"
    raise ValueError(f"{text!r} is not an ISO 3166-2 region code{hint}")


def continent_code(text: str) -> str:
    """Normalise a continent code (AF AN AS EU NA OC SA); raise ``ValueError`` with a hint."""
    code = text.upper()
    if code in CONTINENTS:
        return code
    key = " ".join(code.replace("_", " ").replace("-", " ").split())
    guess = _CONTINENT_ALIASES.get(key)
    if guess is None and len(key) > 3:
        close = difflib.get_close_matches(key, list(_CONTINENT_ALIASES), n=1, cutoff=0.7)
        guess = _CONTINENT_ALIASES[close[0]] if close else None
    hint = f"; did you mean {guess!r} ({CONTINENTS[guess]})?" if guess else ""
    known = " ".join(CONTINENTS)
    raise ValueError(f"{text!r} is not a continent code ({known}){hint}")
