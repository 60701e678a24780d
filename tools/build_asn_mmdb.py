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
import hashlib
import ipaddress
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import maxminddb
from mmdb_writer import MMDBWriter
from netaddr import IPAddress, IPRange, IPSet

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE_DIR = REPO.parent / "shared" / "data" / "geodata"
DEFAULT_OUTPUT = REPO / "data" / "asn.mmdb"
DATABASE_TYPE = "geofence-asn"
PACKAGE = "@ip-location-db/asn"
INPUTS = (("asn-ipv4.csv", 4), ("asn-ipv6.csv", 6))
# ip-location-db versions are MAJOR.MINOR.YYYYMMDDHH: the last part is the data's build hour.
VERSION_RE = re.compile(r"^\d+\.\d+\.(\d{10})$")

Record = dict[str, Any]
Span = tuple[int, int, Record]


class ReproducibleWriter(MMDBWriter):
    """An ``MMDBWriter`` whose ``build_epoch`` is fixed instead of read from the clock."""

    def __init__(self, *, build_epoch: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.build_epoch = build_epoch

    def _build_meta(self) -> dict[str, Any]:
        # mmdb_writer stamps time.time() here; that one field is all that breaks reproducibility.
        meta: dict[str, Any] = super()._build_meta()
        meta["build_epoch"] = self.build_epoch
        return meta


def source_version(source_dir: Path, given: str | None) -> str:
    """The ``@ip-location-db/asn`` version: as given, from package.json, or from PROVENANCE.md."""
    if given:
        return given
    package_json = source_dir / "package.json"
    if package_json.is_file():
        return str(json.loads(package_json.read_text(encoding="utf-8"))["version"])
    provenance = source_dir / "PROVENANCE.md"
    if provenance.is_file():
        match = re.search(re.escape(PACKAGE) + r"`?\s+(\d+\.\d+\.\d{10})", provenance.read_text())
        if match:
            return match.group(1)
    sys.exit(f"cannot tell the {PACKAGE} version of {source_dir}; pass --source-version")


def build_epoch(version: str) -> int:
    """SOURCE_DATE_EPOCH if set, else the data's build hour encoded in the package version."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    match = VERSION_RE.match(version)
    if not match:
        sys.exit(f"version {version!r} is not MAJOR.MINOR.YYYYMMDDHH; set SOURCE_DATE_EPOCH")
    stamp = dt.datetime.strptime(match.group(1), "%Y%m%d%H").replace(tzinfo=dt.timezone.utc)
    return int(stamp.timestamp())


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
    writer = ReproducibleWriter(
        build_epoch=epoch,
        ip_version=6,
        ipv4_compatible=True,
        database_type=DATABASE_TYPE,
        languages=["en"],
        description={
            "en": f"IP to ASN from RouteViews, NRO and DB-IP IP to ASN Lite via {PACKAGE} "
            f"{version}; CC BY 4.0; see NOTICE"
        },
        int_type="uint32",  # as in GeoLite2-ASN, whatever the number's size
    )
    summary: dict[str, Any] = {"rows": 0, "ranges": 0, "overlaps": 0}
    for name, ip_version in INPUTS:
        rows = list(read_rows(input_path(source_dir, name), ip_version))
        spans, overlaps = disjoint(rows)
        summary["rows"] += len(rows)
        summary["overlaps"] += overlaps
        for start, end, record in spans:
            writer.insert_network(
                IPSet(IPRange(IPAddress(start, ip_version), IPAddress(end, ip_version))), record
            )
        summary["ranges"] += len(spans)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    writer.to_db_file(str(partial))
    partial.replace(output)
    summary.update(build_epoch=epoch, size=output.stat().st_size, sha256=sha256(output))
    return summary


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    version = source_version(args.source_dir, args.source_version)
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
