"""``StaticGeo``: a real ``GeoSource`` answering from a mapping, for tests without a database.

Like ``httpx.MockTransport``, it is not a mock: it implements the source protocol, so a
``Geofence`` built on it runs the whole request path (normalisation, cache, policy).

>>> geo = StaticGeo({"1.0.0.0/8": {"country": "CN"}, "1.2.3.4": {"country": "CN", "tags": ["vpn"]}})
>>> geo.lookup("1.2.3.4").tags, geo.lookup("1.9.9.9").country, geo.lookup("9.9.9.9").country
(frozenset({'vpn'}), 'CN', None)
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from geofence.errors import ConfigurationError, DataError
from geofence.facts import EMPTY_TAGS, GeoRecord
from geofence.geo.source import FACT_KINDS
from geofence.policy.models import _asn  # the one AS number parser, shared with policies
from geofence.vocab import codes
from geofence.vocab.tags import check_tag

__all__ = ["FactsInput", "StaticGeo", "StaticReputation", "geo_record"]

FactsInput = Mapping[str, Any] | GeoRecord
"""Facts as a ``GeoRecord`` or a mapping of its field names (``country``, ``tags``, ...)."""

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def geo_record(facts: FactsInput, where: str = "facts") -> GeoRecord:
    """A validated ``GeoRecord`` from a mapping; codes are checked the way policies check them.

    >>> geo_record({"country": "gb", "regions": ["GB-ENG"], "asn": "AS2856"}).asn
    2856
    """
    if isinstance(facts, GeoRecord):
        return facts
    unknown = set(facts) - set(GeoRecord._fields)
    if unknown:
        known = ", ".join(GeoRecord._fields)
        raise ConfigurationError(f"{where}: unknown fact {sorted(unknown)[0]!r} (known: {known})")
    try:
        return _record(facts)
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _code(value: object) -> str | None:
    return None if value is None else codes.country_code(str(value).upper())


def _record(facts: Mapping[str, Any]) -> GeoRecord:
    continent = facts.get("continent")
    asn = facts.get("asn")
    tags = facts.get("tags") or ()
    if isinstance(tags, str):
        tags = (tags,)
    regions = facts.get("regions") or ()
    if isinstance(regions, str):
        regions = (regions,)
    return GeoRecord(
        country=_code(facts.get("country")),
        registered_country=_code(facts.get("registered_country")),
        represented_country=_code(facts.get("represented_country")),
        regions=tuple(codes.region_code(str(r).upper()) for r in regions),
        continent=None if continent is None else codes.continent_code(str(continent).upper()),
        asn=None if asn is None else _asn(asn),
        as_org=None if facts.get("as_org") is None else str(facts["as_org"]),
        tags=frozenset(check_tag(str(t)) for t in tags) or EMPTY_TAGS,
    )


def _network(text: str) -> _Network:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ConfigurationError(f"static geo: {text!r} is not an address or CIDR: {exc}") from None


class StaticGeo:
    """A ``GeoSource`` from ``{address or CIDR: facts}``; the longest matching prefix wins.

    ``provides`` defaults to every fact kind, so any policy is accepted; narrow it to test
    what a ``Geofence`` does with a source that lacks, say, regions. ``add()`` changes the data
    like a replaced database file: ``check_reload()`` then reports it once.
    """

    def __init__(
        self,
        entries: Mapping[str, FactsInput] | Iterable[tuple[str, FactsInput]] = (),
        *,
        name: str = "static",
        provides: Iterable[str] = FACT_KINDS,
        version: str | None = None,
    ) -> None:
        self.name = name
        self.provides: frozenset[str] = frozenset(provides)
        if not self.provides <= FACT_KINDS:
            extra = ", ".join(sorted(self.provides - FACT_KINDS))
            raise ConfigurationError(f"static geo {name!r}: unknown fact kinds: {extra}")
        self._version = version or f"{name} static"
        self._lock = threading.Lock()
        # Per family: prefix length -> {network int: record}, lengths longest first.
        self._tables: dict[int, dict[int, dict[int, GeoRecord]]] = {4: {}, 6: {}}
        self._lengths: dict[int, tuple[int, ...]] = {4: (), 6: ()}
        self._changed = False
        self._closed = False
        items = entries.items() if isinstance(entries, Mapping) else entries
        for network, facts in items:
            self._put(network, facts)
        self._changed = False

    def add(self, network: str, facts: FactsInput | None = None, **fields: Any) -> StaticGeo:
        """Add or replace the facts of ``network``; returns ``self`` for chaining.

        >>> StaticGeo().add("8.8.8.0/24", country="US").lookup("8.8.8.8").country
        'US'
        """
        self._put(
            network,
            {**(facts._asdict() if isinstance(facts, GeoRecord) else facts or {}), **fields},
        )
        return self

    def _put(self, network: str, facts: FactsInput) -> None:
        net = _network(network)
        record = geo_record(facts, f"static geo {self.name!r}, {network}")
        with self._lock:
            table = self._tables[net.version].setdefault(net.prefixlen, {})
            table[int(net.network_address)] = record
            self._lengths[net.version] = tuple(sorted(self._tables[net.version], reverse=True))
            self._changed = True

    def lookup(self, ip: str) -> GeoRecord:
        """The facts of the longest listed prefix containing ``ip``; a miss is ``GeoRecord()``."""
        if self._closed:
            raise DataError(f"static geo {self.name!r} is closed")
        address = ipaddress.ip_address(ip)
        value, version = int(address), address.version
        bits = 32 if version == 4 else 128
        tables = self._tables[version]
        for length in self._lengths[version]:
            record = tables[length].get(value >> (bits - length) << (bits - length))
            if record is not None:
                return record
        return GeoRecord()

    @property
    def version(self) -> str:
        """``"<name> static"`` unless given."""
        return self._version

    def check_reload(self) -> bool:
        """True once after ``add()`` changed the data (as a replaced file would be)."""
        with self._lock:
            changed, self._changed = self._changed, False
        return changed

    def close(self) -> None:
        """Later lookups raise ``DataError``, as with a closed database."""
        self._closed = True

    def __repr__(self) -> str:
        count = sum(len(t) for family in self._tables.values() for t in family.values())
        return f"StaticGeo(name={self.name!r}, networks={count})"


class StaticReputation(StaticGeo):
    """A reputation source: ``{address or CIDR: tags}``, providing only ``tags``.

    >>> StaticReputation({"185.220.101.0/24": ["tor"]}).lookup("185.220.101.7").tags
    frozenset({'tor'})
    """

    def __init__(
        self,
        entries: Mapping[str, Iterable[str]] = {},  # read only
        *,
        name: str = "static-reputation",
        version: str | None = None,
    ) -> None:
        super().__init__(
            {net: {"tags": list(tags)} for net, tags in entries.items()},
            name=name,
            provides=("tags",),
            version=version,
        )
