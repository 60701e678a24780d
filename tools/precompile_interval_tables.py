"""Build the interval tables (geofence/geo/interval_table.py) of sets of .mmdb files, once.

    python tools/precompile_interval_tables.py [--embedded] [PATHS...]

Without arguments: the embedded data (country + ASN + region layer, what ``Geofence()`` loads),
country + ASN, and the embedded country database alone (the benchmarks' shapes). With paths:
the table of those files, in that order (as ``geo=[...]``). Tables go to geofence's cache dir
(``$GEOFENCE_TABLES_DIR``, else ``~/.cache/geofence/tables``), keyed by the SHA-256 of
the files, where every later process maps them (``GEOFENCE_TABLES=cached``, the default).
Run it at image or package build time, and after replacing a database file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

os.environ["GEOFENCE_TABLES"] = "build"  # before geofence reads it

from geofence.embedded import default_geo_paths
from geofence.geo import open_geo
from geofence.geo.table_cache import cache_dir
from geofence.rows import row_maker


def precompile(paths: Sequence[str]) -> float:
    """Build (or find) the table of ``paths``; the seconds it took."""
    start = time.perf_counter()
    geo = open_geo(list(paths))
    make = row_maker(geo)
    slot = getattr(make, "slot", None)
    if slot is None:
        raise SystemExit(f"{', '.join(paths)}: not a shape the interval table serves")
    if not slot.ready.wait(3600):
        raise SystemExit(f"{', '.join(paths)}: the table build did not finish (see the log)")
    geo.close()
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="*", help=".mmdb files, in geo= order")
    args = parser.parse_args(argv)
    country, asn, regions = (str(p) for p in default_geo_paths())
    sets = [args.paths] if args.paths else [[country, asn, regions], [country, asn], [country]]
    for paths in sets:
        took = precompile(paths)
        print(f"{' + '.join(os.path.basename(p) for p in paths)}: {took:.1f} s", file=sys.stderr)
    print(cache_dir())
    return 0


if __name__ == "__main__":
    sys.exit(main())
