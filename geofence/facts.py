"""Facts: everything known about one client address, with where each fact came from."""

from __future__ import annotations

from typing import NamedTuple

from geofence.net import Address

__all__ = ["EMPTY_TAGS", "Facts", "GeoRecord"]

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
