"""PackedRanges: the compact list of parsed ranges a feed keeps, read back exactly as stored."""

from __future__ import annotations

import random
import sys

import pytest

from geofence.reputation.range_builder import PackedRanges, parse_range

TEXTS = ["192.0.2.0/24", "2001:db8::/32", "203.0.113.7", "::ffff:198.51.100.0/120",
         "10.0.0.1-10.0.0.9", "2001:db8::1-2001:db8::ff", "0.0.0.0/0", "::/0"]  # fmt: skip


def test_packed_ranges_keep_order_values_and_list_behaviour() -> None:
    triples = [parse_range(t) for t in TEXTS]
    packed = PackedRanges(triples)
    assert list(packed) == triples
    assert packed == triples
    assert triples == packed  # list == PackedRanges, as a test of geofeed places compares
    assert len(packed) == len(triples)
    for i in range(-len(triples), len(triples)):
        assert packed[i] == triples[i]
    assert packed[1:3] == triples[1:3]
    assert set(packed) == set(triples)
    with pytest.raises(IndexError):
        packed[len(triples)]
    packed.append((4, 1, 2))
    assert packed[-1] == (4, 1, 2)
    assert packed != triples


def test_packed_ranges_hold_a_fraction_of_the_tuples_they_replace() -> None:
    rng = random.Random(5)
    triples = []
    for _ in range(10_000):
        first = rng.getrandbits(32)
        triples.append((4, first, min(first + rng.getrandbits(8), 2**32 - 1)))
    packed = PackedRanges(triples)
    assert list(packed) == triples
    as_tuples = sys.getsizeof(triples) + sum(
        sys.getsizeof(t) + sys.getsizeof(t[1]) + sys.getsizeof(t[2]) for t in triples
    )
    as_packed = sys.getsizeof(packed._v4) + sys.getsizeof(packed._kinds)
    assert as_packed * 8 < as_tuples
