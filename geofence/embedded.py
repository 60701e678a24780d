"""Find the data geofence ships with: the default GeoIP databases, example policies and NOTICE.

An installed wheel carries the data as ``geofence/_data`` (pyproject.toml force-includes the
top-level ``data/`` there); a source checkout, editable installs included, has it in
``<repo>/data``.

>>> country, asn, regions = default_geo_paths()
>>> country.name, asn.name, regions.name
('dbip-country.mmdb', 'asn.mmdb', 'regions.mmdb')
"""

from __future__ import annotations

import re
from pathlib import Path

from geofence.errors import DataError

__all__ = ["data_dir", "default_geo_paths", "example_policy_path", "notice_text"]

COUNTRY_DB = "dbip-country.mmdb"
"""DB-IP IP to Country Lite: records ``{"country_code": "XX"}``."""

ASN_DB = "asn.mmdb"
"""RouteViews + NRO + DB-IP IP to ASN Lite, built by ``tools/build_asn_mmdb.py``."""

REGIONS_DB = "regions.mmdb"
"""The region layer: DB-IP IP to City Lite reduced to country, first-level ISO 3166-2 code and
one coordinate per subdivision (its address-weighted centroid), built by
``tools/build_regions.py``."""

NOTICE = "NOTICE"

_PACKAGE_DIR = Path(__file__).resolve().parent
# NOTICE marks a real data directory: a stray ``data/`` next to an installed package (in
# site-packages, say) must not be mistaken for ours.
_CANDIDATES = (_PACKAGE_DIR / "_data", _PACKAGE_DIR.parent / "data")
_POLICY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def data_dir() -> Path:
    """The directory holding the embedded data: ``geofence/_data`` if installed, else ``data/``."""
    for candidate in _CANDIDATES:
        if (candidate / NOTICE).is_file():
            return candidate
    tried = ", ".join(str(c) for c in _CANDIDATES)
    raise DataError(
        f"geofence's embedded data is missing (looked in {tried}); reinstall the package, or "
        "pass geo= and a policy path explicitly"
    )


def default_geo_paths() -> tuple[Path, Path, Path]:
    """The embedded ``(country, asn, regions)`` databases, each checked to exist.

    In this order they make the embedded composite: the country database decides the country,
    the region layer adds ISO 3166-2 codes and a coarse location where its country agrees (or
    the territory rule applies, ``geofence.geo.territory``).
    """
    base = data_dir()
    paths = (base / COUNTRY_DB, base / ASN_DB, base / REGIONS_DB)
    for path in paths:
        if not path.is_file():
            raise DataError(
                "embedded database is missing; rebuild it as tools/README.md describes",
                path=str(path),
            )
    return paths


def example_policy_path(name: str = "default") -> Path:
    """The shipped example policy ``policies/<name>.yaml``: ``"default"``, ``"report-mode"``..."""
    policies = data_dir() / "policies"
    path = policies / f"{name}.yaml"
    # A name is a file stem, never a path: refuse anything that could step out of policies/.
    if not _POLICY_NAME.fullmatch(name) or not path.is_file():
        known = ", ".join(sorted(p.stem for p in policies.glob("*.yaml"))) or "none"
        raise DataError(f"no example policy {name!r} (known: {known})", path=str(path))
    return path


def notice_text() -> str:
    """The attribution notice that must accompany the embedded data (CC BY 4.0)."""
    return (data_dir() / NOTICE).read_text(encoding="utf-8")
