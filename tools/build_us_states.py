"""Build data/world/us-states-10m.json: US state outlines for ``geofence audit --map``.

Source: the npm package ``us-atlas`` (ISC licence for the packaging, Mike Bostock), whose
``states-10m.json`` is TopoJSON derived from the U.S. Census Bureau's cartographic boundary
files, 2017 edition (public domain, a work of the U.S. Government)::

    cd /tmp && npm pack us-atlas && mkdir -p us-atlas && tar -xzf us-atlas-*.tgz -C us-atlas
    python tools/build_us_states.py /tmp/us-atlas/package/states-10m.json

The unprojected (longitude/latitude) file is used, so the states sit on the same
equirectangular 1000 x 500 box as the world outlines (``build_world_outlines.py``). Because a
state is small at that scale, coordinates keep one decimal (0.036 degrees) rather than whole
units. Each state's FIPS code is mapped to ISO 3166-2 through its name and pycountry; a name
pycountry does not know stops the build (never a guess).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pycountry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from outline_paths import Ring, path_of, write_outlines

OUT = Path(__file__).resolve().parents[1] / "data" / "world" / "us-states-10m.json"
# The two Census names that differ from pycountry's (ISO's) English names; pycountry gives the code.
CENSUS_NAMES = {
    "Commonwealth of the Northern Mariana Islands": "Northern Mariana Islands",
    "United States Virgin Islands": "Virgin Islands, U.S.",
}


def decode_arcs(topology: dict[str, object]) -> list[Ring]:
    """Absolute longitude/latitude points of each arc (TopoJSON quantised, delta-encoded)."""
    transform = topology["transform"]
    assert isinstance(transform, dict)
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    arcs = topology["arcs"]
    assert isinstance(arcs, list)
    out = []
    for arc in arcs:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        out.append(points)
    return out


def ring_of(indexes: list[int], arcs: list[Ring]) -> Ring:
    """Join a ring's arcs; ``~i`` is arc ``i`` reversed; each arc repeats the last point."""
    points: Ring = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def iso_code(name: str) -> str:
    """ISO 3166-2 code of a state or territory, by its Census name (pycountry)."""
    name = CENSUS_NAMES.get(name, name)
    for subdivision in pycountry.subdivisions.get(country_code="US") or ():
        if subdivision.name == name:
            return str(subdivision.code)
    raise SystemExit(f"no ISO 3166-2 code for {name!r} in pycountry: add it to the builder")


def main(source: str) -> None:
    topology = json.loads(Path(source).read_text(encoding="utf-8"))
    arcs = decode_arcs(topology)
    states: dict[str, str] = {}
    for geometry in topology["objects"]["states"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings = [ring_of(ring, arcs) for polygon in polygons for ring in polygon]
        states[iso_code(geometry["properties"]["name"])] = path_of(rings, 10)  # tenths
    source = "U.S. Census Bureau cartographic boundaries 2017 (public domain), via npm us-atlas"
    size = write_outlines(OUT, f"{source} states-10m.json", "subdivisions", states)
    print(f"{OUT}: {len(states)} states and territories, {size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
