"""Build data/world/countries-110m.json: simplified country outlines for ``geofence audit --map``.

Source: Natural Earth 1:110m Admin 0 - Countries (public domain), as bundled by the PyPI wheel
``geopandas==0.14.4`` in ``geopandas/datasets/naturalearth_lowres/`` (the last release that
ships it)::

    pip download --no-deps -d /tmp/ne "geopandas==0.14.4"
    unzip -o /tmp/ne/geopandas-0.14.4-py3-none-any.whl 'geopandas/datasets/*' -d /tmp/ne
    python tools/build_world_outlines.py /tmp/ne/geopandas/datasets/naturalearth_lowres

The shapefile is read with the standard library (polygons only, as this file has). Coordinates
are projected equirectangularly onto a 1000 x 500 box (x = (lon + 180) * 1000 / 360, y = (90 -
lat) * 500 / 180), rounded to whole units (0.36 degrees), consecutive duplicates dropped, and
rings that collapse to fewer than 3 points dropped. Countries are keyed by ISO 3166-1 alpha-2
(from ISO_A3 via pycountry; the few "-99" rows by name).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pycountry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from outline_paths import Ring, path_of, write_outlines

OUT = Path(__file__).resolve().parents[1] / "data" / "world" / "countries-110m.json"
# Rows whose ISO_A3 is -99 in this edition (disputed or partly recognised), by NAME.
BY_NAME = {"Kosovo": "XK", "N. Cyprus": None, "Somaliland": None, "France": "FR", "Norway": "NO"}


def read_dbf(path: Path) -> list[dict[str, str]]:
    cpg = path.with_suffix(".cpg")
    encoding = cpg.read_text().strip() if cpg.exists() else "latin-1"
    data = path.read_bytes()
    count, header_len, record_len = struct.unpack("<IHH", data[4:12])
    fields = []
    for offset in range(32, header_len - 1, 32):
        name = data[offset : offset + 11].split(b"\0")[0].decode()
        fields.append((name, data[offset + 16]))
    rows = []
    for i in range(count):
        start = header_len + i * record_len + 1  # skip the deletion flag
        row, pos = {}, start
        for name, length in fields:
            row[name] = data[pos : pos + length].decode(encoding).strip()
            pos += length
        rows.append(row)
    return rows


def read_polygons(path: Path) -> list[list[Ring]]:
    data = path.read_bytes()
    pos, shapes = 100, []
    while pos < len(data):
        (length,) = struct.unpack(">i", data[pos + 4 : pos + 8])
        content = data[pos + 8 : pos + 8 + 2 * length]
        pos += 8 + 2 * length
        (kind,) = struct.unpack("<i", content[:4])
        if kind != 5:
            raise SystemExit(f"shape type {kind} is not a polygon")
        parts_n, points_n = struct.unpack("<ii", content[36:44])
        parts = list(struct.unpack(f"<{parts_n}i", content[44 : 44 + 4 * parts_n]))
        base = 44 + 4 * parts_n
        points = [
            struct.unpack("<dd", content[base + 16 * i : base + 16 * i + 16])
            for i in range(points_n)
        ]
        bounds = [*parts, points_n]
        shapes.append([points[bounds[i] : bounds[i + 1]] for i in range(parts_n)])
    return shapes


def alpha2(row: dict[str, str]) -> str | None:
    if row["name"] in BY_NAME:
        return BY_NAME[row["name"]]
    country = pycountry.countries.get(alpha_3=row["iso_a3"])
    return None if country is None else str(country.alpha_2)


def main(folder: str) -> None:
    base = Path(folder) / "naturalearth_lowres"
    rows, shapes = read_dbf(base.with_suffix(".dbf")), read_polygons(base.with_suffix(".shp"))
    outlines: dict[str, str] = {}
    for row, rings in zip(rows, shapes, strict=True):
        code = alpha2(row)
        if code is None:
            print(f"skipped: {row['name']} ({row['iso_a3']})", file=sys.stderr)
            continue
        outlines[code] = outlines.get(code, "") + path_of(rings)
    source = "Natural Earth 1:110m Admin 0 - Countries (public domain), via geopandas 0.14.4"
    size = write_outlines(OUT, source, "countries", outlines)
    print(f"{OUT}: {len(outlines)} countries, {size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
