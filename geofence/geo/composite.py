"""``CompositeGeo``: several geo sources answering as one, and ``open_geo`` to build sources."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Union

from geofence.errors import ConfigurationError, DataError
from geofence.facts import GeoRecord
from geofence.geo.mmdb import MMDBSource
from geofence.geo.schemas import REGION_LAYER
from geofence.geo.source import GeoSource
from geofence.geo.territory import settle

__all__ = ["CompositeGeo", "GeoSpec", "open_geo"]

_MISS = GeoRecord()
_new = tuple.__new__

GeoSpec = Union[
    None, str, "os.PathLike[str]", GeoSource, Sequence[Union[str, "os.PathLike[str]", GeoSource]]
]


class CompositeGeo:
    """Sources in order: per fact the first source that knows it wins; tags are unioned."""

    def __init__(self, sources: Iterable[GeoSource]) -> None:
        self.sources: tuple[GeoSource, ...] = tuple(sources)
        if not self.sources:
            raise ConfigurationError("CompositeGeo needs at least one geo source")
        self.name: str = "+".join(s.name for s in self.sources)
        self.provides: frozenset[str] = frozenset().union(*(s.provides for s in self.sources))
        self._pair = self.sources if len(self.sources) == 2 else None
        # The region layer places an address only where its country agrees (see _merge).
        self._layers = tuple(
            isinstance(s, MMDBSource) and s.schema is REGION_LAYER for s in self.sources
        )

    def lookup(self, ip: str) -> GeoRecord:
        """The merged facts; raises ``DataError`` if any source failed (see ``lookup_partial``)."""
        try:
            if self._pair is not None:  # the embedded country + ASN case, without a loop
                records: Sequence[GeoRecord] = (self._pair[0].lookup(ip), self._pair[1].lookup(ip))
            else:
                records = [source.lookup(ip) for source in self.sources]
        except DataError:
            errors = self.lookup_partial(ip)[1]
            raise DataError("; ".join(errors) or "a geo source failed") from None
        return _merge(records, self._layers)

    def lookup_partial(self, ip: str) -> tuple[GeoRecord, tuple[str, ...]]:
        """The facts merged from the sources that answered, and why the others failed."""
        records: list[GeoRecord] = []
        layers: list[bool] = []
        errors: list[str] = []
        for source, layer in zip(self.sources, self._layers, strict=True):
            try:
                records.append(source.lookup(ip))
                layers.append(layer)
            except DataError as exc:
                errors.append(f"{source.name}: {exc}")
        return (_merge(records, layers) if records else _MISS), tuple(errors)

    @property
    def generation(self) -> int:
        """The sum of the sources' swap counters: it changes whenever any source swaps."""
        return sum(getattr(s, "generation", 0) for s in self.sources)

    @property
    def version(self) -> str:
        """The versions of every source, comma-separated."""
        return ", ".join(s.version for s in self.sources)

    @property
    def versions(self) -> tuple[str, ...]:
        """The version of each source, in order."""
        return tuple(s.version for s in self.sources)

    def check_reload(self) -> bool:
        """Let every source check its file; True when any swapped."""
        swapped = [s.check_reload() for s in self.sources]  # all of them: no short circuit
        return any(swapped)

    def close(self) -> None:
        """Close every source."""
        for source in self.sources:
            source.close()

    def __enter__(self) -> CompositeGeo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CompositeGeo({list(self.sources)!r})"


def _merge(records: Sequence[GeoRecord], layers: Sequence[bool]) -> GeoRecord:
    # Unrolled by field: this runs per uncached lookup, and a zip/generator version cost ~2 us.
    if len(records) == 2:  # a miss in either of two sources needs no merging
        if records[1] is _MISS:
            return records[0]
        if records[0] is _MISS:
            return records[1]
    country, registered, represented, regions, continent, asn, as_org, tags = records[0][:8]
    lat, lon, attributed = records[0][8:]
    for record, layer in zip(records[1:], layers[1:], strict=True):
        if country is None:
            country = record[0]
        # Where the region layer places the address is believed only when its country agrees
        # with the sources before it, or when it names an occupied territory (the territory
        # rule decides): its City Lite data need not agree with a Country database.
        here = not layer or record[0] in (None, country) or record[10] is not None
        if not regions and here:
            regions = record[3]
        if lat is None and here:
            lat, lon = record[8], record[9]
        if attributed is None and here:
            attributed = record[10]
        if registered is None:
            registered = record[1]
        if represented is None:
            represented = record[2]
        if continent is None:
            continent = record[4]
        if asn is None:
            asn = record[5]
        if as_org is None:
            as_org = record[6]
        if record[7]:
            tags = tags | record[7] if tags else record[7]
    fields = (country, registered, represented, regions, continent, asn, as_org, tags)
    return settle(_new(GeoRecord, (*fields, lat, lon, attributed)))


def open_geo(spec: GeoSpec) -> GeoSource:
    """One ``GeoSource`` from a path, a source, or a sequence of them (None: embedded data)."""
    if spec is None:
        from geofence.embedded import default_geo_paths  # lazily: embedded imports nothing here

        spec = default_geo_paths()
    items: object = spec
    if isinstance(items, (str, os.PathLike, GeoSource)):
        return _one(items)
    if isinstance(items, (bytes, bytearray)) or not isinstance(items, Sequence):
        raise ConfigurationError(f"geo: expected a path, a GeoSource or a list of them: {spec!r}")
    opened: list[GeoSource] = []
    try:
        for item in items:
            opened.append(_one(item))
    except BaseException:
        for source in opened:
            if source not in items:  # close only what this call opened
                source.close()
        raise
    if not opened:
        raise ConfigurationError("geo: an empty list of sources")
    return opened[0] if len(opened) == 1 else CompositeGeo(opened)


def _one(item: object) -> GeoSource:
    if isinstance(item, (str, os.PathLike)):
        return MMDBSource(item, shared=_is_embedded(item))
    if isinstance(item, GeoSource):
        return item
    raise ConfigurationError(f"geo: expected a path or a GeoSource, got {item!r}")


def _is_embedded(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is one of the data files installed with the package: those are never
    rewritten in place, so every worker can map the file itself (see ``MMDBSource``)."""
    from geofence.embedded import data_dir  # lazily: embedded imports nothing here

    try:
        return os.path.dirname(os.path.realpath(path)) == str(data_dir().resolve())
    except Exception:  # no embedded data at all: then this path is not part of it
        return False
