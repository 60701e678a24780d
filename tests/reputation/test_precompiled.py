"""The shipped precompiled feed files: current with their snapshots, and only ever a shortcut."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from geofence.embedded import data_dir
from geofence.reputation import feed_index, precompiled
from geofence.reputation.feed_files import parse_snapshot
from geofence.reputation.feedset import open_feeds
from geofence.reputation.parsers import parse_feed
from geofence.vocab.feeds import CATALOG, FeedSpec

SNAPSHOTS = [spec for spec in CATALOG.values() if spec.snapshot is not None]
FIX = "run python tools/precompile_feed_snapshots.py"


@pytest.mark.parametrize("spec", SNAPSHOTS, ids=lambda s: s.name)
def test_each_shipped_precompiled_file_is_a_fresh_parse_of_its_snapshot(spec: FeedSpec) -> None:
    path = data_dir() / "feeds" / str(spec.snapshot)
    fmt = spec.snapshot_format or spec.format
    raw = path.read_bytes()
    stored = precompiled.load(path.with_name(path.name + precompiled.SUFFIX),
                              precompiled.digest(fmt, spec.select, raw))  # fmt: skip
    assert stored is not None, f"{spec.name}: the precompiled file is stale or missing: {FIX}"
    fresh = parse_feed(fmt, gzip.decompress(raw), spec.select)
    assert list(stored.ranges) == list(fresh.ranges)
    assert (stored.places, stored.bad, stored.bad_samples, stored.meta) == (
        fresh.places,
        fresh.bad,
        fresh.bad_samples,
        fresh.meta,
    )


def test_the_shipped_index_is_the_embedded_feed_sets_own_build() -> None:
    with open_feeds("embedded") as feeds:  # type: ignore[union-attr]
        loaded = list(feeds._feeds.values())
        shipped = feed_index._shipped_ranges(loaded)
        assert shipped is not None, f"the embedded feed index is stale or missing: {FIX}"
        built = feed_index._build_ranges(loaded)
        assert shipped.label_sets == built.label_sets
        for version in (4, 6):
            assert shipped.intervals(version) == built.intervals(version)
        assert feeds._state.ranges is not built  # in service: the shipped one, not a rebuild


def test_a_snapshot_without_a_matching_precompiled_file_is_parsed(tmp_path: Path) -> None:
    spec = CATALOG["tor-exits"]
    assert spec.snapshot is not None
    source = data_dir() / "feeds" / spec.snapshot
    snapshot = tmp_path / spec.snapshot
    shutil.copy(source, snapshot)
    stale = tmp_path / (spec.snapshot + precompiled.SUFFIX)
    shutil.copy(source.with_name(source.name + precompiled.SUFFIX), stale)
    expected = parse_feed(spec.format, gzip.decompress(source.read_bytes()))
    # A refreshed snapshot (one line more) with the old precompiled file beside it.
    body = gzip.decompress(snapshot.read_bytes()) + b"\n198.51.100.77\n"
    snapshot.write_bytes(gzip.compress(body))
    parsed, _ = parse_snapshot(snapshot, spec.format, spec.select)
    assert len(parsed.ranges) == len(expected.ranges) + 1
    assert (4, 3325256781, 3325256781) in set(parsed.ranges)
    real = stale.read_bytes()
    for damage in (b"", b"not gzip", gzip.compress(b'{"sha256": 1}\n'), real[:-9], real):
        stale.write_bytes(damage)
        assert precompiled.load(stale, "anything") is None
        assert precompiled.load_index(stale, "anything") is None
