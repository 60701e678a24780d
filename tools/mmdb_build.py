"""What the MaxMind DB builders in tools/ share: a reproducible writer, the package version and
build time, atomic output and its checksum.

``build_asn_mmdb.py`` and ``build_regions.py`` both write an IPv6 tree with IPv4 at ``::/96``
from an ip-location-db npm package, stamped with the data's build hour (so the same input gives
the same bytes) rather than the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPAddress, IPRange, IPSet

# ip-location-db versions are MAJOR.MINOR.YYYYMMDDHH: the last part is the data's build hour.
VERSION_RE = re.compile(r"^\d+\.\d+\.(\d{10})$")


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


def new_writer(epoch: int, database_type: str, description: str, **types: str) -> MMDBWriter:
    """An IPv6 tree with IPv4 at ``::/96``, English names; ``types`` as ``int_type`` etc."""
    return ReproducibleWriter(
        build_epoch=epoch,
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description={"en": description},
        **types,
    )


def insert_span(writer: MMDBWriter, first: int, last: int, version: int, record: Any) -> None:
    """Insert the CIDR blocks that cover ``first``..``last`` exactly."""
    span = IPRange(IPAddress(first, version), IPAddress(last, version))
    writer.insert_network(IPSet(span), record)


def write_atomically(writer: MMDBWriter, output: Path) -> dict[str, Any]:
    """Write through ``output.partial`` (a failed build leaves no half file); size and sha256."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    writer.to_db_file(str(partial))
    partial.replace(output)
    return {"size": output.stat().st_size, "sha256": sha256(output)}


def source_version(source_dir: Path, given: str | None, package: str) -> str:
    """The package version: as given, from package.json, or from a PROVENANCE.md beside it."""
    if given:
        return given
    package_json = source_dir / "package.json"
    if package_json.is_file():
        return str(json.loads(package_json.read_text(encoding="utf-8"))["version"])
    provenance = source_dir / "PROVENANCE.md"
    if provenance.is_file():
        match = re.search(re.escape(package) + r"`?\s+(\d+\.\d+\.\d{10})", provenance.read_text())
        if match:
            return match.group(1)
    sys.exit(f"cannot tell the {package} version of {source_dir}; pass --source-version")


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


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
