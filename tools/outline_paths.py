"""SVG path data for the audit map's outlines, shared by build_world_outlines.py (countries) and
build_us_states.py (US states): longitude/latitude rings projected equirectangularly onto the
map's 1000 x 500 box, rounded to a grid, in relative moves; and the compact JSON file that
``geofence.geo.world`` reads them from.
"""

from __future__ import annotations

import json
from pathlib import Path

Ring = list[tuple[float, float]]


def path_of(rings: list[Ring], steps_per_unit: int = 1) -> str:
    """x = (lon + 180) * 1000 / 360, y = (90 - lat) * 500 / 180, rounded to 1/steps_per_unit
    of a unit; consecutive duplicate points and rings of fewer than 3 points dropped."""
    out = []
    for ring in rings:
        points: list[tuple[int, int]] = []  # in grid steps
        for lon, lat in ring:
            point = (
                round((lon + 180) * 1000 * steps_per_unit / 360),
                round((90 - lat) * 500 * steps_per_unit / 180),
            )
            if not points or points[-1] != point:
                points.append(point)
        if len(points) > 1 and points[0] == points[-1]:
            points.pop()
        if len(points) < 3:
            continue
        x, y = points[0]
        moves = [f"M{x / steps_per_unit:g} {y / steps_per_unit:g}"]
        for nx, ny in points[1:]:
            moves.append(f"l{(nx - x) / steps_per_unit:g} {(ny - y) / steps_per_unit:g}")
            x, y = nx, ny
        out.append("".join(moves) + "z")
    return "".join(out)


def write_outlines(out: Path, source: str, key: str, paths: dict[str, str]) -> int:
    """Write ``{"source", "projection", key: {code: path}}`` (codes sorted); its size in bytes."""
    document = {
        "source": source,
        "projection": "equirectangular, 1000 x 500, x = (lon + 180) * 1000 / 360",
        key: dict(sorted(paths.items())),
    }
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    return out.stat().st_size
