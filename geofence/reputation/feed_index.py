"""The lookup index of a feed set: every feed's ranges in one ``RangeSet``, labelled.

A range's labels are the feed names listing it (and ``geofeed:<place>`` for geofeed rows,
with overlaps resolved as RFC 8805 says: the more specific prefix wins); each label set maps to
one prebuilt ``GeoRecord`` carrying each feed's category tag plus ``feed:<name>``, so a lookup
is one bisect and one dict read whatever the number of feeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from geofence.errors import DataError
from geofence.facts import GeoRecord
from geofence.reputation import precompiled
from geofence.reputation.feed_files import Feed
from geofence.reputation.range_builder import RangeSetBuilder
from geofence.reputation.ranges import RangeSet
from geofence.vocab.tags import FEED_PREFIX, GEOFEED_PREFIX

__all__ = ["MISS", "FeedIndex", "build_index"]

MISS = GeoRecord()


class FeedIndex(NamedTuple):
    """What lookups read, swapped as one reference: ranges, a record per label set."""

    ranges: RangeSet
    records: dict[frozenset[str], GeoRecord]
    always: GeoRecord
    tags_packed: Callable[[bytes], frozenset[str]]  # see FeedSet.tags_packed


def build_index(feeds: Iterable[Feed], stale: frozenset[str], on_stale: str) -> FeedIndex:
    """The index of ``feeds`` as they are now; ``stale`` feeds per ``on_stale``."""
    feeds = list(feeds)
    by_name = {feed.spec.name: feed for feed in feeds}
    included = [f for f in feeds if not (on_stale == "open" and f.spec.name in stale)]
    ranges = _shipped_ranges(included) or _build_ranges(included)
    always: frozenset[str] = frozenset()
    if on_stale == "closed":
        always = frozenset().union(*(_tags_of(by_name, frozenset({n})) for n in stale))
    records = {
        labels: GeoRecord(tags=_tags_of(by_name, labels) | always) for labels in ranges.label_sets
    }
    always_record = MISS if not always else GeoRecord(tags=always)
    tags = ranges.packed_lookup([records[ls].tags for ls in ranges.label_sets], always)
    return FeedIndex(ranges, records, always_record, tags)


def _build_ranges(feeds: Sequence[Feed]) -> RangeSet:
    builder = RangeSetBuilder()
    for feed in feeds:
        labels = frozenset({feed.spec.name})
        for version, first, last in feed.ranges:
            builder.add(version, first, last, labels)
        _add_places(builder, feed)
    return builder.build()


def _shipped_ranges(feeds: Sequence[Feed]) -> RangeSet | None:
    """The ranges built ahead of time for exactly these feeds on the shipped snapshots (see
    reputation/precompiled.py), or None: any other set or data is built here."""
    if not feeds or any(feed.source != "snapshot" for feed in feeds):
        return None
    from geofence.embedded import data_dir  # lazily: embedded imports nothing here

    key = precompiled.index_key([f.spec.name for f in feeds], [f.snapshot_digest for f in feeds])
    if key is None:
        return None
    try:
        path = data_dir() / "feeds" / precompiled.INDEX
    except DataError:
        return None
    return precompiled.load_index(path, key)


def _tags_of(feeds: Mapping[str, Feed], labels: frozenset[str]) -> frozenset[str]:
    """Tags for range labels: a feed name gives its tag and ``feed:<name>``, a geofeed
    label (``geofeed:GB``) is the tag itself."""
    tags: set[str] = set()
    for label in labels:
        if label.startswith(GEOFEED_PREFIX):
            tags.add(label)
        else:
            tags.update((feeds[label].spec.tag, FEED_PREFIX + label))
    return frozenset(tags)


def _add_places(builder: RangeSetBuilder, feed: Feed) -> None:
    """A geofeed's rows again, labelled also ``geofeed:<country>`` (and ``geofeed:<region>``):
    the builder unions them with the feed's own label over the same ranges."""
    name = feed.spec.name
    labels: dict[tuple[str, str | None], frozenset[str]] = {}  # one frozenset per place
    for version, first, last, country, region in _most_specific(feed.places):
        key = (country, region)
        found = labels.get(key)
        if found is None:
            tags = {name, GEOFEED_PREFIX + country}
            if region is not None:
                tags.add(GEOFEED_PREFIX + region)
            found = labels[key] = frozenset(tags)
        builder.add(version, first, last, found)


_Place = tuple[int, int, int, str, "str | None"]


def _most_specific(places: Sequence[_Place]) -> list[_Place]:
    """The places with overlaps resolved as RFC 8805 asks: a more specific prefix wins over
    the one it sits in (a /24 listed as US inside a /22 listed as GB is US). Of two rows for
    the same prefix, the later wins."""
    out: list[_Place] = []
    for version in (4, 6):
        out += _split_nested([p for p in places if p[0] == version])
    return out


def _split_nested(places: list[_Place]) -> list[_Place]:
    # Prefixes nest or are disjoint, so one sweep, outer before inner, with a stack of the open
    # prefixes ([next value not yet given out, last value, place]) splits each around those
    # inside it.
    out: list[_Place] = []
    stack: list[list[Any]] = []

    def close(before: int) -> None:
        while stack and stack[-1][1] < before:
            cursor, last, place = stack.pop()
            if cursor <= last:
                out.append((place[0], cursor, last, place[3], place[4]))
            if stack:
                stack[-1][0] = max(stack[-1][0], last + 1)

    for place in sorted(places, key=lambda p: (p[1], -p[2])):
        first = place[1]
        close(first)
        if stack and stack[-1][0] < first:  # the outer prefix up to this one
            outer = stack[-1]
            out.append((place[0], outer[0], first - 1, outer[2][3], outer[2][4]))
            outer[0] = first
        stack.append([first, place[2], place])
    close(1 << 128)
    return out
