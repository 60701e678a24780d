"""Facts: everything known about one client address, with where each fact came from."""

from __future__ import annotations

from typing import Any, NamedTuple

from geofence.net import Address, Via

__all__ = ["EMPTY_TAGS", "Facts", "FactsRow", "GeoRecord", "facts_of_row", "facts_row"]

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

    @property
    def ip(self) -> str | None:
        """Canonical normalised address text, or ``None``."""
        return None if self.address is None else self.address.text


FactsRow = tuple[Any, ...]
"""``Facts`` in the form the engine caches: the same positions, but an exact ``tuple`` whose
every member is atomic (the address as ``(text, version, packed, original, via text)``, empty
tags as ``()``). CPython's collector stops tracking such a tuple at its first pass, so a cache
of tens of thousands of rows adds nothing to the full collections: cached ``Facts`` named
tuples (never untracked) cost ~1 us per uncached lookup in collector time. Every reader of
facts on the request path (policy checks, ``Decision``) reads by position, so a ``Facts``
is a valid row too."""

_new = tuple.__new__
_VIA_BY_TEXT: dict[str, Via] = {via.value: via for via in Via}


def facts_row(address: Address, record: GeoRecord, sources: tuple[str, ...]) -> FactsRow:
    """The row of an address's facts: ``address`` plus one source's (or a merged) record."""
    via = address[4]
    country, registered, represented, regions, continent, asn, as_org, tags = record
    return (
        (address[0], address[1], address[2], address[3], "direct" if via is _DIRECT else via.value),
        country,
        registered,
        represented,
        regions,
        continent,
        asn,
        as_org,
        tags or (),
        sources,
        (),
    )


def facts_of_row(row: FactsRow) -> Facts:
    """The ``Facts`` a row stands for (a ``Facts`` is returned as it is)."""
    if type(row) is Facts:
        return row
    address = row[0]
    if address is not None and type(address) is not Address:
        text, version, packed, original, via = address
        address = _new(Address, (text, version, packed, original, _VIA_BY_TEXT[via]))
    return _new(Facts, (address, *row[1:8], row[8] or EMPTY_TAGS, row[9], row[10]))


_DIRECT = Via.DIRECT
