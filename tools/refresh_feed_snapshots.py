"""Rebuild the feed snapshots in ``data/feeds/`` from the catalog's upstream URLs.

    python tools/refresh_feed_snapshots.py                 # every catalog feed with a snapshot
    python tools/refresh_feed_snapshots.py tor-exits aws   # only these
    python tools/refresh_feed_snapshots.py --url tor-exits=http://127.0.0.1:8000/list  # a mirror

Each download is parsed with the feed's own parser before anything is written: a body that is
not the format, yields nothing, or shrank by more than the feed's ``max_shrink`` against the
shipped snapshot is refused and the old snapshot stays. An accepted body is written byte for
byte, gzip-compressed like ``gzip -9n`` (no name, no timestamp: the same bytes give the same
file), via a temporary file and ``os.replace``. The tool prints, per feed, the lines to update
in ``data/feeds/PROVENANCE.md`` (bytes, sha256) and the ``snapshot_date`` for
``geofence/reputation/catalog.py``; it edits neither. Feeds whose snapshot comes from a mirror in
another format (``snapshot_format``, e.g. Apple's relay list) are skipped with a note.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from geofence.embedded import data_dir
from geofence.reputation.parsers import FeedFormatError, parse_feed
from geofence.vocab.feeds import CATALOG, FeedSpec

MAX_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Outcome:
    """What happened to one feed's snapshot."""

    name: str
    written: bool
    message: str
    entries: int = 0
    bad: int = 0
    size: int = 0
    sha256: str = ""


def gzip_bytes(body: bytes) -> bytes:
    """``gzip -9n``: level 9, no file name, mtime 0 (reproducible)."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=out, mtime=0) as f:
        f.write(body)
    return out.getvalue()


def _old_entries(spec: FeedSpec, path: Path) -> int:
    if not path.is_file():
        return 0
    try:
        return len(parse_feed(spec.format, gzip.decompress(path.read_bytes()), spec.select).ranges)
    except (OSError, FeedFormatError, EOFError):
        return 0


def _download(client: httpx.Client, url: str) -> bytes:
    with client.stream("GET", url) as response:
        response.raise_for_status()
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_BYTES:
                raise ValueError(f"larger than {MAX_BYTES} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def refresh_snapshot(
    spec: FeedSpec, output: Path, client: httpx.Client, url: str | None = None
) -> Outcome:
    """Download one feed and, if it parses and did not shrink too far, write its snapshot."""
    url = url or spec.url
    if not spec.snapshot or not url:
        return Outcome(spec.name, False, "skipped: no snapshot or no url")
    if spec.snapshot_format not in (None, spec.format):
        return Outcome(spec.name, False, f"skipped: the snapshot is {spec.snapshot_format} "
                       f"from a mirror, the feed is {spec.format}")  # fmt: skip
    try:
        body = _download(client, url)
        parsed = parse_feed(spec.format, body, spec.select)
    except (httpx.HTTPError, ValueError, FeedFormatError) as exc:
        return Outcome(spec.name, False, f"refused: {exc}")
    target = output / spec.snapshot
    old = _old_entries(spec, target)
    if old and len(parsed.ranges) < (1 - spec.max_shrink) * old:
        return Outcome(spec.name, False, f"refused: {len(parsed.ranges)} entries against "
                       f"{old} in the current snapshot (max_shrink {spec.max_shrink})")  # fmt: skip
    data = gzip_bytes(body)
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output, prefix=f".{spec.snapshot}.", delete=False) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, target)
    return Outcome(spec.name, True, "written", len(parsed.ranges), parsed.bad, len(data),
                   hashlib.sha256(data).hexdigest())  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="catalog feeds (default: all with a snapshot)")
    parser.add_argument("--output", type=Path, default=data_dir() / "feeds")
    parser.add_argument("--url", action="append", default=[], metavar="NAME=URL",
                        help="download NAME from URL instead (a mirror)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.url)
    unknown = [n for n in [*args.names, *overrides] if n not in CATALOG]
    if unknown:
        parser.error(f"not in the catalog: {', '.join(unknown)}")
    specs = [CATALOG[n] for n in args.names] or [s for s in CATALOG.values() if s.snapshot]
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    failed = 0
    with httpx.Client(timeout=args.timeout, follow_redirects=True) as client:
        for spec in specs:
            result = refresh_snapshot(spec, args.output, client, overrides.get(spec.name))
            failed += result.message.startswith("refused")
            print(f"{result.name}: {result.message}")
            if result.written:
                print(f"  {result.entries} entries, {result.bad} bad; PROVENANCE.md: "
                      f"| `{spec.snapshot}` | {spec.url} | {today} | ... | {result.size} | "
                      f"{result.sha256} |; catalog: snapshot_date={today}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
