"""The shipped world outlines (``data/world``): countries from Natural Earth 1:110m and US states
from the U.S. Census Bureau (via npm ``us-atlas``), both public domain.

Read by the audit map (``geofence audit --map``) and, for country centroids, by the travel
signal when the geo data has no coordinates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache

from geofence.embedded import data_dir
from geofence.errors import DataError

__all__ = ["outlines", "subdivision_outlines"]


@lru_cache(maxsize=1)
def outlines() -> Mapping[str, str]:
    """SVG path data per ISO 3166-1 alpha-2 code (equirectangular, 1000 x 500)."""
    countries: dict[str, str] = _read("countries-110m.json")["countries"]
    return countries


# Files of first-level subdivision outlines, each on the same projection as the countries.
_SUBDIVISION_FILES = ("us-states-10m.json",)


@lru_cache(maxsize=1)
def subdivision_outlines() -> Mapping[str, str]:
    """SVG path data per ISO 3166-2 code, for the subdivisions with shipped outlines."""
    out: dict[str, str] = {}
    for name in _SUBDIVISION_FILES:
        out.update(_read(name)["subdivisions"])
    return out


def _read(name: str) -> dict[str, dict[str, str]]:
    path = data_dir() / "world" / name
    try:
        document: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the world outlines: {exc}", path=str(path)) from None
    return document
