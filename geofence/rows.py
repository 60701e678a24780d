"""The uncached lookup of the common source shapes, as one function building a ``FactsRow``.

The generic path asks each source for a ``GeoRecord`` and merges them (``CompositeGeo``): a
handful of Python calls and tuples per source, which is most of an uncached ``evaluate()``
beyond the raw ``Reader.get()`` calls themselves. The embedded data, and the usual MaxMind
pairing, have a shape where that work can be done in one function with the same result:

- a location database (DB-IP/ip-location-db flat country, GeoIP2/GeoLite2 Country or City),
- optionally then an ASN database (GeoLite2-ASN, GeoIP2-ISP, flat ASN),
- optionally then the embedded region layer (``geofence-regions``),
- optionally then a ``FeedSet`` (tags).

Their ``provides`` hardly overlap, so "the first source that knows a fact wins" is simply
"each fact from the source that provides it", but for the region layer, whose place is taken
under ``CompositeGeo``'s rule (its country agrees, or it names an occupied territory), and the
territory rule applied last. Anything else (other schemas, other orders,
custom sources) uses the generic path. A maker raises on anything unusual (a closed reader,
an IPv4-only database asked about IPv6, a corrupt record): the engine then takes the generic
path, which explains and recovers.

When a precompiled interval table of the same files is ready (geo/interval_table.py,
geo/table_cache.py), ``_tabled`` reads the mmdb facts from it with one bisect instead; its rows
were made by this very maker, so the facts are the same.
"""

from __future__ import annotations

import socket
import sys
from bisect import bisect_right as _bisect
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any, cast

from geofence.facts import EMPTY_TAGS, FactsRow, GeoRecord
from geofence.geo.composite import CompositeGeo
from geofence.geo.mmdb import MMDBSource
from geofence.geo.schemas import (
    ASN,
    FLAT_ASN,
    FLAT_COUNTRY,
    GEOIP2_CITY,
    GEOIP2_COUNTRY,
    ISP,
    REGION_LAYER,
)
from geofence.geo.source import GeoSource
from geofence.geo.table_cache import TableSlot, tables_mode
from geofence.geo.territory import SPECIAL_CODES, settle
from geofence.net import Address, Via
from geofence.reputation.feedset import FeedSet

__all__ = ["RowMaker", "row_maker"]

RowMaker = Callable[[Address, tuple[str, ...]], FactsRow]
"""``(address, data versions) -> FactsRow``; raises when the generic path must decide."""

_LOCATION = (FLAT_COUNTRY, GEOIP2_COUNTRY, GEOIP2_CITY)
_AS = (ASN, ISP, FLAT_ASN)
_DIRECT = Via.DIRECT
_NAMES_MAX = 200_000  # distinct AS organisation names kept shared (the embedded data: ~80k)


def row_maker(geo: GeoSource) -> RowMaker | None:
    """A fused lookup for ``geo`` when its sources have the shape above, else ``None``."""
    sources = geo.sources if isinstance(geo, CompositeGeo) else (geo,)
    location = sources[0]
    if not isinstance(location, MMDBSource) or location.schema not in _LOCATION:
        return None
    rest = list(sources[1:])
    numbers = _take(rest, lambda s: isinstance(s, MMDBSource) and s.schema in _AS)
    places = _take(rest, lambda s: isinstance(s, MMDBSource) and s.schema is REGION_LAYER)
    feeds = _take(rest, lambda s: isinstance(s, FeedSet))
    if rest:
        return None
    fused = _make(location, numbers, places, feeds)
    if tables_mode() == "off":
        return fused
    return _tabled(fused, location, numbers, places, feeds)


def _facts_of(
    location: MMDBSource, numbers: MMDBSource | None, places: MMDBSource | None
) -> Callable[[Sequence[Any]], Callable[[str], tuple[Any, ...]]]:
    """The row-build path over a snapshot of the readers, giving the facts a table stores."""

    def over(readers: Sequence[Any]) -> Callable[[str], tuple[Any, ...]]:
        frozen = iter(readers)
        parts: list[Any] = [
            None if s is None else cast(Any, SimpleNamespace(reader=next(frozen), schema=s.schema))
            for s in (location, numbers, places)
        ]
        make = _make(parts[0], parts[1], parts[2], None)

        def facts(text: str) -> tuple[Any, ...]:
            version = 6 if ":" in text else 4
            family = socket.AF_INET6 if version == 6 else socket.AF_INET
            packed = socket.inet_pton(family, text)
            row = make(Address(text, version, packed, text, _DIRECT), ())
            return (*row[1:8], *row[15:18])

        return facts

    return over


def _tabled(
    fused: RowMaker,
    location: MMDBSource,
    numbers: MMDBSource | None,
    places: MMDBSource | None,
    feeds: FeedSet | None,
) -> RowMaker:
    """``fused`` with the mmdb facts read from the precompiled interval table when one is
    ready for the data in service (table_cache.py): a miss is a bisect, not three gets."""
    sources = [s for s in (location, numbers, places) if s is not None]
    slot = TableSlot(sources, _facts_of(location, numbers, places))
    # The readers the table was made from, checked by identity (cheaper than the sources'
    # generation counters): a reload swaps a source's reader, and then the table is stale.
    _, two, three = (*sources, location, location)[:3]  # padded as TableSlot pads readers

    def make(address: Address, versions: tuple[str, ...]) -> FactsRow:
        table = slot.table
        if table is None or location.closed:
            return fused(address, versions)
        made = slot.readers
        if (
            made[0] is not location.reader
            or made[1] is not two.reader
            or (made[2] is not three.reader)
        ):  # hot reload: the old table is stale; the new one is made off the request path
            slot.refresh()
            return fused(address, versions)
        packed = address[2]
        if len(packed) == 4:  # IntervalTable.v4_id and .row, inlined: the common case
            n = int.from_bytes(packed, "big")
            index = table.index4
            i = _bisect(table.starts4, n, index[n >> 16], index[(n >> 16) + 1])
            facts = table.rows[table.ids4[i - 1]]
            if facts is None:
                facts = table.row(table.ids4[i - 1])
        else:
            facts = table.row(table.v6_id(packed))
        if facts is None:  # a range the table leaves to the row-build path
            return fused(address, versions)
        tags = () if feeds is None else feeds.tags_packed(packed) or ()
        via = address[4]
        country, registered, represented, regions, continent, asn, as_org, lat, lon, attr = facts
        # facts.facts_row's layout written out, as in the fused maker below (a call is ~5% of
        # a miss); tests/geo/test_interval_table.py holds this path equal to the row build.
        return (
            address[0],
            country,
            registered,
            represented,
            regions,
            continent,
            asn,
            as_org,
            tags,
            versions,
            (),
            address[1],
            packed,
            address[3],
            "direct" if via is _DIRECT else via.value,
            lat,
            lon,
            attr,
        )

    make.slot = slot  # type: ignore[attr-defined]  # tests and benchmarks wait on slot.ready
    return make


def _take(rest: list[GeoSource], fits: Callable[[GeoSource], bool]) -> Any:
    # The next source in order if it fits its place in the shape, taken off ``rest``.
    if rest and fits(rest[0]):
        return rest.pop(0)
    return None


def _make(
    location: MMDBSource,
    numbers: MMDBSource | None,
    places: MMDBSource | None,
    feeds: FeedSet | None,
) -> RowMaker:
    flat = location.schema is FLAT_COUNTRY
    extract = location.schema.extract
    place_of = REGION_LAYER.extract
    # Every record read is decoded afresh, so each cached row would hold its own copy of the
    # country code and the AS organisation (~110 bytes a row, ~3 MB per 30k cached addresses).
    # One copy of each distinct value serves all rows: codes are few, so sys.intern; names
    # are as many as the database holds, so a dict that starts over past a bound.
    intern = sys.intern
    names: dict[str, str] = {}
    numbers_seen: dict[object, Any] = {}  # AS numbers: bounded by the database's (~80k)
    # The region layer has a few hundred distinct records: each read once into a GeoRecord
    # that every row of it shares (and its territory rule applied once).
    places_seen: dict[tuple[Any, ...], GeoRecord] = {}

    def make(address: Address, versions: tuple[str, ...]) -> FactsRow:
        text = address[0]
        record: Any = location.reader.get(text)  # read once: a reload swaps the attribute
        lat = lon = attributed = None
        if record is None:
            country = registered = represented = continent = None
            regions: tuple[str, ...] = ()
        elif flat:  # subscripts: a record without the key raises, and the generic path reads it
            country = intern(record["country_code"])
            registered = represented = continent = None
            regions = ()
        else:
            facts = extract(record)
            country, registered, represented, regions, continent = facts[:5]
            lat, lon, attributed = facts[8:]
        asn = as_org = None
        if numbers is not None:
            record = numbers.reader.get(text)
            if record is not None:  # GeoLite2-ASN records may lack the organisation
                asn = record.get("autonomous_system_number")
                if len(numbers_seen) >= _NAMES_MAX:
                    numbers_seen.clear()
                asn = numbers_seen.setdefault(asn, asn)  # one int object per AS number
                as_org = record.get("autonomous_system_organization")
                if as_org is not None:
                    shared = names.get(as_org)
                    if shared is None:
                        if len(names) >= _NAMES_MAX:
                            names.clear()
                        shared = names[as_org] = as_org
                    as_org = shared
        if places is not None:
            record = places.reader.get(text)
            if record is not None:
                get = record.get
                key = (
                    get("country_code"),
                    get("subdivision_code"),
                    get("latitude"),
                    get("longitude"),
                )
                place = places_seen.get(key)
                if place is None:
                    if len(places_seen) >= _NAMES_MAX:
                        places_seen.clear()
                    place = places_seen[key] = place_of(record)
                if country is None:
                    country = place[0]
                if place[0] is None or place[0] == country or place[10] is not None:
                    if not regions:
                        regions = place[3]
                    if lat is None:
                        lat, lon = place[8], place[9]
                    if attributed is None:
                        attributed = place[10]
        for code in regions:
            if code in SPECIAL_CODES:  # the territory rule (rare): as CompositeGeo applies it
                fields = (country, registered, represented, regions, continent, asn, as_org)
                facts = settle(GeoRecord(*fields, EMPTY_TAGS, lat, lon, attributed))
                country, regions, attributed = facts[0], facts[3], facts[10]
                break
        packed = address[2]
        tags = () if feeds is None else feeds.tags_packed(packed) or ()
        via = address[4]
        # facts.facts_row's layout, written out rather than called: a call is ~5% of this
        # path. tests/test_rows.py holds the two equal on every shape this serves.
        return (
            text,
            country,
            registered,
            represented,
            regions,
            continent,
            asn,
            as_org,
            tags,
            versions,
            (),
            address[1],
            packed,
            address[3],
            "direct" if via is _DIRECT else via.value,
            lat,
            lon,
            attributed,
        )

    return make
