"""Facts: everything known about one client address, with where each fact came from."""

from __future__ import annotations

from typing import Any, NamedTuple

from geofence.net import Address, Via

__all__ = [
    "EMPTY_TAGS",
    "ROW_ATTRIBUTED",
    "ROW_LATITUDE",
    "ROW_LONGITUDE",
    "ROW_ORIGINAL",
    "ROW_PACKED",
    "ROW_SIZE",
    "ROW_VERSION",
    "ROW_VIA",
    "Facts",
    "FactsRow",
    "GeoRecord",
    "address_fields",
    "facts_of_row",
    "facts_row",
    "location_fields",
]

EMPTY_TAGS: frozenset[str] = frozenset()


class GeoRecord(NamedTuple):
    """What one data source knows about an address; ``None`` / empty means "unknown".

    A tuple rather than a dataclass because one is built per uncached lookup.
    """

    country: str | None = None
    """ISO 3166-1 alpha-2 code of where the address is (``"GB"``)."""
    registered_country: str | None = None
    """ISO 3166-1 alpha-2 code of where the network is registered."""
    represented_country: str | None = None
    """Country the users of the network represent (e.g. a military base abroad)."""
    regions: tuple[str, ...] = ()
    """ISO 3166-2 codes, largest first (``("GB-ENG",)``)."""
    continent: str | None = None
    """Two-letter continent code: AF AN AS EU NA OC SA."""
    asn: int | None = None
    """Autonomous system number."""
    as_org: str | None = None
    """Organisation that holds the AS."""
    tags: frozenset[str] = EMPTY_TAGS
    """Reputation tags such as ``"vpn"``, ``"tor"``, ``"hosting"``."""
    latitude: float | None = None
    """Coarse latitude of the address's location, degrees (the embedded layer: the centroid of
    the subdivision)."""
    longitude: float | None = None
    """Coarse longitude of the address's location, degrees."""
    attributed_country: str | None = None
    """The country the database named when the territory rule (``geo.territory``) changed
    ``country``: ``"RU"`` for a Crimean network DB-IP files under RU; else ``None``."""


class Facts(NamedTuple):
    """Everything known about a client address, merged from every source, with provenance."""

    address: Address | None
    """The normalised client address, or ``None`` when it could not be determined."""
    country: str | None = None
    """ISO 3166-1 alpha-2 code of the location country, ``None`` when unknown."""
    registered_country: str | None = None
    """ISO 3166-1 alpha-2 code of the registered country, ``None`` when unknown."""
    represented_country: str | None = None
    """ISO 3166-1 alpha-2 code of the represented country, ``None`` when unknown."""
    regions: tuple[str, ...] = ()
    """ISO 3166-2 subdivision codes."""
    continent: str | None = None
    """Continent code."""
    asn: int | None = None
    """Autonomous system number."""
    as_org: str | None = None
    """AS organisation."""
    tags: frozenset[str] = EMPTY_TAGS
    """Reputation tags from anonymizer databases and feeds."""
    sources: tuple[str, ...] = ()
    """Provenance of the data consulted, e.g. ``("dbip-country 2026-06-01", ...)``."""
    errors: tuple[str, ...] = ()
    """Lookups that failed (a corrupt record, say): the facts they would give are unknown."""
    latitude: float | None = None
    """Coarse latitude, degrees, ``None`` when unknown (for impossible-travel signals)."""
    longitude: float | None = None
    """Coarse longitude, degrees, ``None`` when unknown."""
    attributed_country: str | None = None
    """The country the database named, when it differs from ``country`` because the address
    is in a territory the database attributes elsewhere (``geofence.geo.territory``)."""

    @property
    def ip(self) -> str | None:
        """Canonical normalised address text, or ``None``."""
        return None if self.address is None else self.address.text


FactsRow = tuple[Any, ...]
"""``Facts`` in the form the engine caches: one flat, exact ``tuple`` of atomic values.

Positions 1-10 are those of ``Facts`` (empty tags as ``()``); position 0 is the normalised
address *text* (or ``None``), and the rest of the address follows at ``ROW_VERSION``,
``ROW_PACKED``, ``ROW_ORIGINAL`` and ``ROW_VIA`` (the ``Via`` value as text); the later
``Facts`` fields come last, at ``ROW_LATITUDE``, ``ROW_LONGITUDE`` and ``ROW_ATTRIBUTED``. CPython's
collector stops tracking an exact tuple of atomic values at its first pass, so a cache of tens
of thousands of rows costs the full collections nothing: cached ``Facts`` named tuples (never
untracked) cost ~1 us per uncached lookup in collector time, and a nested address tuple kept
every row tracked one pass longer. Readers of facts on the request path (policy checks,
``Decision``) read by position and accept a ``Facts`` too (``address_fields`` reads either).
"""

ROW_VERSION, ROW_PACKED, ROW_ORIGINAL, ROW_VIA = 11, 12, 13, 14
ROW_LATITUDE, ROW_LONGITUDE, ROW_ATTRIBUTED = 15, 16, 17
ROW_SIZE = 18

_new = tuple.__new__
_VIA_BY_TEXT: dict[str, Via] = {via.value: via for via in Via}


def facts_row(
    address: Address,
    record: GeoRecord,
    sources: tuple[str, ...],
    errors: tuple[str, ...] = (),
) -> FactsRow:
    """The row of an address's facts: ``address`` plus one source's (or a merged) record."""
    via = address[4]
    country, registered, represented, regions, continent, asn, as_org, tags = record[:8]
    return (
        address[0],
        country,
        registered,
        represented,
        regions,
        continent,
        asn,
        as_org,
        tags or (),
        sources,
        errors,
        address[1],
        address[2],
        address[3],
        "direct" if via is _DIRECT else via.value,
        *record[8:11],
    )


def address_fields(facts: FactsRow) -> tuple[str, int, bytes, str, str] | None:
    """``(text, version, packed, original, via text)`` of a row or a ``Facts``; ``None`` when
    the address is unknown."""
    address = facts[0]
    if address is None:
        return None
    if type(address) is str:
        return address, facts[ROW_VERSION], facts[ROW_PACKED], facts[ROW_ORIGINAL], facts[ROW_VIA]
    via = address[4]
    return address[0], address[1], address[2], address[3], via if type(via) is str else via.value


def facts_of_row(row: FactsRow) -> Facts:
    """The ``Facts`` a row stands for (a ``Facts`` is returned as it is)."""
    if type(row) is Facts:
        return row
    address = row[0]
    if address is not None:
        via = _VIA_BY_TEXT[row[ROW_VIA]]
        fields = (address, row[ROW_VERSION], row[ROW_PACKED], row[ROW_ORIGINAL], via)
        address = _new(Address, fields)
    return _new(Facts, (address, *row[1:8], row[8] or EMPTY_TAGS, *row[9:11], *row[15:18]))


def location_fields(facts: FactsRow) -> tuple[float | None, float | None, str | None]:
    """``(latitude, longitude, attributed_country)`` of a row or a ``Facts``."""
    if type(facts) is Facts:
        return facts[11], facts[12], facts[13]
    return facts[ROW_LATITUDE], facts[ROW_LONGITUDE], facts[ROW_ATTRIBUTED]


_DIRECT = Via.DIRECT
