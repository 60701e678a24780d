"""The ``GeoSource`` protocol every geo data source implements, and the fact kinds it names."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from geofence.facts import GeoRecord

__all__ = ["FACT_KINDS", "GeoSource"]

FACT_KINDS: frozenset[str] = frozenset(
    {
        "country",
        "registered_country",
        "represented_country",
        "regions",
        "continent",
        "asn",
        "as_org",
        "tags",
        "latitude",
        "longitude",
    }
)
"""The kinds of fact a source may provide (the ``GeoRecord`` fields)."""


@runtime_checkable
class GeoSource(Protocol):
    """Something that answers "what is known about this address?" from geo data."""

    name: str
    """Short name, e.g. ``"dbip-country"``."""
    provides: frozenset[str]
    """The fact kinds (a subset of ``FACT_KINDS``) this source can ever know."""

    def lookup(self, ip: str) -> GeoRecord:
        """Facts for ``Address.text``; a miss is ``GeoRecord()``; raises only ``DataError``."""
        ...

    @property
    def version(self) -> str:
        """Name and build date of the data in service, e.g. ``"dbip-country 2026-06-01"``."""
        ...

    def check_reload(self) -> bool:
        """Swap in a replaced data file if there is a good one; True when something was swapped."""
        ...

    def close(self) -> None:
        """Release the data files; later lookups raise ``DataError``."""
        ...
