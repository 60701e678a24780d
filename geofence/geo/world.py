"""The shipped world outlines (Natural Earth 1:110m, public domain; ``data/world``).

Read by the audit map (``geofence audit --map``) and, for country centroids, by the travel
signal when the geo data has no coordinates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache

from geofence.embedded import data_dir
from geofence.errors import DataError

__all__ = ["outlines"]


@lru_cache(maxsize=1)
def outlines() -> Mapping[str, str]:
    """SVG path data per ISO 3166-1 alpha-2 code (equirectangular, 1000 x 500)."""
    path = data_dir() / "world" / "countries-110m.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the world outlines: {exc}", path=str(path)) from None
    countries: dict[str, str] = document["countries"]
    return countries
