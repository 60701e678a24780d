"""Where a request is, for the travel signal: coordinates, else the country's centroid.

City-level data (a GeoIP2 City database, the embedded region layer) gives coordinates. Without
them, a country's centroid stands in, computed once from the Natural Earth 1:110m outlines in
``data/world`` (the main landmass of each country, so France is not pulled towards Guiana).
That fallback is coarse: a centroid can be up to half the country's extent from the real
place (about 2,500 km in the United States or Russia, under 500 km in most of Europe), plus
the outlines' 0.36-degree grid (about 40 km). So travel between neighbouring countries is
often not seen at all, which errs towards not flagging; the 500 km floor keeps a border
crossing from ever looking like a jet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

__all__ = ["EARTH_KM", "centroids", "haversine_km"]

EARTH_KM = 6371.0088
_STEP = re.compile(r"([Mlz])\s*(-?\d+(?:\.\d+)?)?\s*(-?\d+(?:\.\d+)?)?")
_DEGREES_PER_UNIT = 360 / 1000  # the outlines' equirectangular 1000 x 500 grid


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def _rings(path: str) -> list[list[tuple[float, float]]]:
    rings: list[list[tuple[float, float]]] = []
    x = y = 0.0
    for command, a, b in _STEP.findall(path):
        if command == "M":
            x, y = float(a), float(b)
            rings.append([(x, y)])
        elif command == "l" and rings:
            x, y = x + float(a), y + float(b)
            rings[-1].append((x, y))
    return rings


def _ring_centroid(ring: list[tuple[float, float]]) -> tuple[float, float, float]:
    """``(area, cx, cy)`` of a closed ring (shoelace); a degenerate ring averages its points."""
    area = cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        area += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if abs(area) < 1e-9:
        n = len(ring)
        return 0.0, sum(p[0] for p in ring) / n, sum(p[1] for p in ring) / n
    return abs(area) / 2, cx / (3 * area), cy / (3 * area)


def centroids(outlines: Mapping[str, str]) -> dict[str, tuple[float, float]]:
    """``(latitude, longitude)`` of each country's largest outline, by ISO 3166-1 alpha-2,
    from SVG path data on the equirectangular 1000 x 500 grid (``geofence.geo.world``)."""
    out: dict[str, tuple[float, float]] = {}
    for code, path in outlines.items():
        rings = [r for r in _rings(path) if len(r) >= 3]
        if not rings:
            continue
        _, x, y = max((_ring_centroid(r) for r in rings), key=lambda c: c[0])
        out[code] = (90 - y * _DEGREES_PER_UNIT, x * _DEGREES_PER_UNIT - 180)
    return out
