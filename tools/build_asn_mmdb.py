"""Build ``data/asn.mmdb`` from the ip-location-db ASN CSVs.

Input: ``asn-ipv4.csv[.gz]`` and ``asn-ipv6.csv[.gz]`` (``start_ip,end_ip,asn,org``) from the npm
package ``@ip-location-db/asn``. Output: one IPv6 MaxMind DB (IPv4 in ``::/96``) whose records have
the GeoLite2-ASN shape ``{"autonomous_system_number": int, "autonomous_system_organization": str}``
and whose ``database_type`` is ``geofence-asn`` (not a MaxMind product, so it must not say so).

The build is reproducible: the same input gives byte-identical output. ``build_epoch`` comes from
``SOURCE_DATE_EPOCH`` if set, else from the source package version (``2.3.2026061719`` is
2026-06-17 19:00 UTC), never from the clock.

Usage::

    python tools/build_asn_mmdb.py [--source-dir DIR] [--output data/asn.mmdb]
        [--source-version 2.3.2026061719]

Needs the ``build-data`` extra (``mmdb-writer``, ``netaddr``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import ipaddress
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import maxminddb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mmdb_build import (
    build_epoch,
    insert_span,
    new_writer,
    sha256,
    source_version,
    write_atomically,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE_DIR = REPO.parent / "shared" / "data" / "geodata"
DEFAULT_OUTPUT = REPO / "data" / "asn.mmdb"
DATABASE_TYPE = "geofence-asn"
PACKAGE = "@ip-location-db/asn"
INPUTS = (("asn-ipv4.csv", 4), ("asn-ipv6.csv", 6))

Record = dict[str, Any]
Span = tuple[int, int, Record]


def input_path(source_dir: Path, name: str) -> Path:
    """``name.gz`` (as kept in ../shared) or ``name`` (as the npm package may ship it)."""
    for path in (source_dir / f"{name}.gz", source_dir / name):
        if path.is_file():
            return path
    sys.exit(f"{source_dir}: neither {name}.gz nor {name} exists")


def check_sums(source_dir: Path) -> None:
    """Refuse inputs that differ from the SHA256SUMS recorded beside them (when there is one)."""
    sums_file = source_dir / "SHA256SUMS"
    if not sums_file.is_file():
        return
    expected = {}
    for line in sums_file.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            expected[name.lstrip("*")] = digest
    for name, _ in INPUTS:
        path = input_path(source_dir, name)
        if path.name in expected and sha256(path) != expected[path.name]:
            sys.exit(f"{path}: sha256 differs from {sums_file}")


def read_rows(path: Path, version: int) -> Iterator[Span]:
    """Yield ``(first, last, record)`` per CSV row, one shared record per distinct (asn, org)."""
    records: dict[tuple[int, str], Record] = {}
    parse = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), 1):
            if len(row) != 4:
                sys.exit(f"{path}:{lineno}: expected start_ip,end_ip,asn,org, got {row!r}")
            start, end, asn, org = row
            key = (int(asn), org)
            record = records.get(key)
            if record is None:
                record = {"autonomous_system_number": key[0], "autonomous_system_organization": org}
                records[key] = record
            yield int(parse(start)), int(parse(end)), record


def disjoint(spans: Iterable[Span]) -> tuple[list[Span], int]:
    """Make ranges disjoint: in an overlap the later-starting (or, tied, narrower) range wins.

    The tree would otherwise resolve overlaps by insertion order, which is an accident of the
    file; this states the rule. Returns the spans and how many overlaps were resolved.
    """
    out: list[Span] = []
    overlaps = 0
    for start, end, record in sorted(spans, key=lambda s: (s[0], -s[1])):
        tail: Span | None = None
        while out and out[-1][1] >= start:
            overlaps += 1
            prev_start, prev_end, prev_record = out.pop()
            if prev_start < start:
                out.append((prev_start, start - 1, prev_record))
            if prev_end > end:
                tail = (end + 1, prev_end, prev_record)
        out.append((start, end, record))
        if tail:
            out.append(tail)
    return out, overlaps


def build(source_dir: Path, output: Path, version: str) -> dict[str, Any]:
    """Write the database to ``output`` (atomically) and return a summary of the build."""
    epoch = build_epoch(version)
    writer = new_writer(
        epoch,
        DATABASE_TYPE,
        f"IP to ASN from RouteViews, NRO and DB-IP IP to ASN Lite via {PACKAGE} {version}; "
        "CC BY 4.0; see NOTICE",
        int_type="uint32",  # as in GeoLite2-ASN, whatever the number's size
    )
    summary: dict[str, Any] = {"rows": 0, "ranges": 0, "overlaps": 0}
    for name, ip_version in INPUTS:
        rows = list(read_rows(input_path(source_dir, name), ip_version))
        spans, overlaps = disjoint(rows)
        summary["rows"] += len(rows)
        summary["overlaps"] += overlaps
        for start, end, record in spans:
            insert_span(writer, start, end, ip_version, record)
        summary["ranges"] += len(spans)
    summary.update(build_epoch=epoch, **write_atomically(writer, output))
    return summary


def verify(output: Path, epoch: int) -> int:
    """Open the result with the reader users will use; return its node count."""
    with maxminddb.open_database(str(output)) as reader:
        meta = reader.metadata()
        if meta.database_type != DATABASE_TYPE or meta.build_epoch != epoch:
            sys.exit(f"{output}: unexpected metadata {meta.database_type} {meta.build_epoch}")
        return int(meta.node_count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-dir", type=Path, default=DEFAULT_SOURCE_DIR)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--source-version", help=f"{PACKAGE} version (default: found beside data)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    check_sums(args.source_dir)
    version = source_version(args.source_dir, args.source_version, PACKAGE)
    summary = build(args.source_dir, args.output, version)
    summary["node_count"] = verify(args.output, summary["build_epoch"])
    summary["seconds"] = round(time.monotonic() - began, 1)
    stamp = dt.datetime.fromtimestamp(summary["build_epoch"], dt.timezone.utc).isoformat()
    print(f"{args.output}: {PACKAGE} {version}, build_epoch {summary['build_epoch']} ({stamp})")
    for key in ("rows", "ranges", "overlaps", "node_count", "size", "sha256", "seconds"):
        print(f"  {key}: {summary[key]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
