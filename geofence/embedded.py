"""Find the data geofence ships with: the default GeoIP databases, example policies and NOTICE.

An installed wheel carries the data as ``geofence/_data`` (pyproject.toml force-includes the
top-level ``data/`` there); a source checkout, editable installs included, has it in
``<repo>/data``.

>>> country, asn = default_geo_paths()
>>> country.name, asn.name
('dbip-country.mmdb', 'asn.mmdb')
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


def default_geo_paths() -> tuple[Path, Path]:
    """The embedded ``(country, asn)`` databases, both checked to exist."""
    base = data_dir()
    paths = (base / COUNTRY_DB, base / ASN_DB)
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
