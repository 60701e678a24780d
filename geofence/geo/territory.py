"""The territory rule: an address in an occupied territory is in the territory's country.

Databases disagree on who a territory belongs to. DB-IP City Lite files most Crimean networks
under ``RU`` (subdivision "Crimea" or "Sebastopol City"); MaxMind, and ISO 3166, under ``UA``.
A policy that denies ``regions: [UA-43]`` must deny those networks whichever database serves,
and ``countries:`` and ``regions:`` rules must agree about them. So once a source has named the
subdivision, the subdivision decides the country:

- a region code in ``TERRITORIES`` (the parts of Ukraine occupied since 2014 and 2022) makes
  ``country`` the territory's ISO 3166 country (``UA``), and the database's own country is kept
  as ``attributed_country`` (``RU``), shown in ``Decision.attributed_country``, ``to_dict()``
  and the reasons;
- codes that Russian-attributed data uses for these territories (``RU-CR``, ``RU-SEV``: not ISO
  3166-2) are read as the ISO codes; subdivision *names* reach the same codes through the alias
  table (``RU,Crimea`` -> ``UA-43``, see ``geofence.geo.subdivisions``).

A ``countries: [RU]`` rule therefore does not match Crimea; ``regions: [UA-43, UA-40]`` does.
"""

from __future__ import annotations

from collections.abc import Mapping

from geofence.facts import GeoRecord

__all__ = ["ATTRIBUTED_CODES", "SPECIAL_CODES", "TERRITORIES", "settle"]

TERRITORIES: Mapping[str, str] = {
    "UA-43": "Autonomous Republic of Crimea",
    "UA-40": "Sevastopol",
    "UA-14": "Donetsk Oblast",
    "UA-09": "Luhansk Oblast",
    "UA-23": "Zaporizhzhia Oblast",
    "UA-65": "Kherson Oblast",
}
"""ISO 3166-2 codes of occupied territories -> name; the country is the code's prefix."""

ATTRIBUTED_CODES: Mapping[str, str] = {"RU-CR": "UA-43", "RU-SEV": "UA-40"}
"""Non-ISO codes some databases give these territories -> the ISO 3166-2 code."""

SPECIAL_CODES: frozenset[str] = frozenset(TERRITORIES) | frozenset(ATTRIBUTED_CODES)
"""The codes ``settle`` acts on: a record without any of them is returned as it is."""

_new = tuple.__new__


def settle(record: GeoRecord) -> GeoRecord:
    """``record`` with the territory rule applied (the same object when it does not apply)."""
    regions = record[3]
    if not regions:
        return record
    for code in regions:
        if code in SPECIAL_CODES:
            break
    else:
        return record
    codes = tuple(dict.fromkeys(ATTRIBUTED_CODES.get(code, code) for code in regions))
    territory = next(code for code in codes if code in TERRITORIES)
    country = territory[:2]
    attributed = record[0] if record[0] != country else record[10]
    fields = list(record)
    fields[0] = country
    # A code of the attributing country next to the territory's (RU-KDA with UA-43) is the
    # database's view of the same place: the territory's country keeps only its own codes.
    fields[3] = tuple(code for code in codes if code[:3] == territory[:3])
    fields[10] = attributed
    return _new(GeoRecord, fields)
