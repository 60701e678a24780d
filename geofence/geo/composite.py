"""``CompositeGeo``: several geo sources answering as one, and ``open_geo`` to build sources."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Union

from geofence.errors import ConfigurationError, DataError
from geofence.facts import EMPTY_TAGS, GeoRecord
from geofence.geo.mmdb import MMDBSource
from geofence.geo.source import GeoSource

__all__ = ["CompositeGeo", "GeoSpec", "open_geo"]

_MISS = GeoRecord()

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

    def lookup(self, ip: str) -> GeoRecord:
        """The merged facts; raises ``DataError`` if any source failed (see ``lookup_partial``)."""
        record, errors = self.lookup_partial(ip)
        if errors:
            raise DataError("; ".join(errors))
        return record

    def lookup_partial(self, ip: str) -> tuple[GeoRecord, tuple[str, ...]]:
        """The facts merged from the sources that answered, and why the others failed."""
        records: list[GeoRecord] = []
        errors: list[str] = []
        for source in self.sources:
            try:
                record = source.lookup(ip)
            except DataError as exc:
                errors.append(f"{source.name}: {exc}")
                continue
            if record != _MISS:
                records.append(record)
        return _merge(records), tuple(errors)

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


def _merge(records: Sequence[GeoRecord]) -> GeoRecord:
    if not records:
        return _MISS
    if len(records) == 1:
        return records[0]
    fields = [next((v for v in values if v), None) for values in zip(*records, strict=True)]
    tags = [r.tags for r in records if r.tags]
    fields[7] = frozenset().union(*tags) if tags else EMPTY_TAGS
    if fields[3] is None:
        fields[3] = ()
    return GeoRecord._make(fields)


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
        return MMDBSource(item)
    if isinstance(item, GeoSource):
        return item
    raise ConfigurationError(f"geo: expected a path or a GeoSource, got {item!r}")
