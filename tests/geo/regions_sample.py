"""The real DB-IP City Lite networks in ``tests/data/regions`` and test databases built from them.

``dbip-city-sample.csv`` holds every network DB-IP places in the occupied parts of Ukraine
(under UA or RU) and every n-th network of a few other regions, with DB-IP's own fields
(``tools/build_regions.py --sample`` wrote it; provenance in that directory's PROVENANCE.md).
The helpers write them out the way third-party databases ship them: ip-location-db's flat City
files, and GeoIP2-City-shaped files whose subdivisions carry names and no ``iso_code``.
"""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from geofence.geo.subdivisions import code_for

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "regions" / "dbip-city-sample.csv"


class Network(NamedTuple):
    """One row of the sample."""

    network: str
    country_code: str
    state1: str
    city: str
    latitude: float
    longitude: float

    @property
    def code(self) -> str | None:
        """The first-level ISO 3166-2 code DB-IP's name maps to."""
        return code_for(self.country_code, self.state1)

    def addresses(self) -> tuple[str, str]:
        """The first and the last address of the network."""
        net = ipaddress.ip_network(self.network)
        return str(net[0]), str(net[-1])


def networks() -> list[Network]:
    """Every row of the sample, in its order."""
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return [
            Network(
                r["network"],
                r["country_code"],
                r["state1"],
                r["city"],
                float(r["latitude"]),
                float(r["longitude"]),
            )
            for r in rows
        ]


def flat_city(net: Network) -> dict[str, Any]:
    """The record as ip-location-db's ``dbip-city-ipv{4,6}.mmdb`` has it."""
    return {
        "city": net.city,
        "country_code": net.country_code,
        "latitude": net.latitude,
        "longitude": net.longitude,
        "postcode": "",
        "state1": net.state1,
        "state2": "",
        "timezone": "",
    }


def city_by_name(net: Network) -> dict[str, Any]:
    """A GeoIP2-City-shaped record whose subdivision has a name and no ``iso_code``."""
    return {
        "city": {"names": {"en": net.city}},
        "continent": {"code": "EU" if net.country_code in ("UA", "RU") else "NA"},
        "country": {"iso_code": net.country_code, "names": {"en": net.country_code}},
        "location": {"latitude": net.latitude, "longitude": net.longitude},
        "subdivisions": [{"names": {"en": net.state1}}],
    }


def entries(
    shape: Callable[[Network], dict[str, Any]], rows: list[Network] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(cidr, record)`` pairs for ``make_mmdb``."""
    for net in networks() if rows is None else rows:
        yield net.network, shape(net)
