"""Write ``data/feeds/<snapshot>.ranges`` (each shipped feed snapshot parsed ahead of time) and
``data/feeds/embedded.index`` (the lookup ranges of ``feeds="embedded"`` built from them).

    python tools/precompile_feed_snapshots.py

Run it after ``tools/refresh_feed_snapshots.py`` (or any parser change): a start then reads
the parsed ranges instead of parsing the snapshots (see ``geofence/reputation/precompiled.py``).
A precompiled file that does not match its snapshot is ignored at start (the snapshot is parsed
instead), and tests/reputation/test_precompiled.py fails until this tool is run again.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from geofence.embedded import data_dir
from geofence.reputation import precompiled
from geofence.reputation.feedset import open_feeds
from geofence.reputation.parsers import parse_feed
from geofence.vocab.feeds import CATALOG


def precompile(folder: Path) -> list[str]:
    """Write the precompiled file of every catalog snapshot in ``folder``; their names."""
    written = []
    for spec in CATALOG.values():
        if spec.snapshot is None:
            continue
        path = folder / spec.snapshot
        raw = path.read_bytes()
        body = gzip.decompress(raw) if path.suffix == ".gz" else raw
        fmt = spec.snapshot_format or spec.format
        parsed = parse_feed(fmt, body, spec.select)
        target = path.with_name(path.name + precompiled.SUFFIX)
        target.write_bytes(precompiled.dump(parsed, precompiled.digest(fmt, spec.select, raw)))
        written.append(f"{target.name}: {len(parsed.ranges)} ranges")
    return written


def build_index(folder: Path) -> str:
    """Write the built ranges of the embedded feed set (on the shipped snapshots)."""
    with open_feeds("embedded") as feeds:  # type: ignore[union-attr]
        loaded = list(feeds._feeds.values())
        key = precompiled.index_key(
            [f.spec.name for f in loaded], [f.snapshot_digest for f in loaded]
        )
        assert key is not None, "every embedded feed comes from its snapshot"
        ranges = feeds._state.ranges
        (folder / precompiled.INDEX).write_bytes(precompiled.dump_index(ranges, key))
    return f"{precompiled.INDEX}: {ranges!r}"


def main() -> int:
    folder = data_dir() / "feeds"
    for line in precompile(folder):
        print(line)
    print(build_index(folder))  # after the snapshots: the index is keyed by their ranges
    return 0


if __name__ == "__main__":
    sys.exit(main())
