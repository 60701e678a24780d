"""RangeSet: parsing, merging, labels across overlaps, embeddings, and size/speed at 1M ranges."""

from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geofence.errors import AddressError
from geofence.net import Normalizer, normalize
from geofence.reputation.range_builder import RangeSetBuilder, parse_range
from geofence.reputation.ranges import RangeSet


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.0/24", (4, 0xC0000200, 0xC00002FF)),
        ("192.0.2.77/24", (4, 0xC0000200, 0xC00002FF)),  # host bits cleared, as feeds need
        (" 198.51.100.1\t", (4, 0xC6336401, 0xC6336401)),
        ("10.0.0.5-10.0.0.9", (4, 0x0A000005, 0x0A000009)),
        (
            "2001:0470:0001:0908:0000:0000:0000:9001",
            (
                6,
                0x20010470000109080000000000009001,
            )
            * 1
            + (0x20010470000109080000000000009001,),
        ),
        ("::ffff:192.0.2.0/120", (4, 0xC0000200, 0xC00002FF)),
        ("0.0.0.0/0", (4, 0, 2**32 - 1)),
    ],
)
def test_parse_range(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_range(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "10.0.0.256",
        "10.0.0.0/33",
        "10.0.0.0/-1",
        "2001:db8::/129",
        "10.0.0.9-10.0.0.1",
        "10.0.0.1-2001:db8::1",
        "010.0.0.1",
        "hello",
        "1.2.3.4/24/8",
        "10.0.0.0/ 8",
    ],
)
def test_parse_range_rejects(text: str) -> None:
    with pytest.raises(AddressError):
        parse_range(text)


def test_match_returns_network_and_labels_and_misses() -> None:
    rs = RangeSet.build([("192.0.2.0/24", "tor"), ("2001:db8::/32", "vpn")])
    assert rs.match("192.0.2.7") == ("192.0.2.0/24", frozenset({"tor"}))
    assert rs.match("2001:db8:1::5") == ("2001:db8::/32", frozenset({"vpn"}))
    assert rs.match("192.0.3.0") is None
    assert rs.match("2001:db9::") is None
    assert "192.0.2.255" in rs
    assert "192.0.1.255" not in rs
    assert "garbage" not in rs
    assert len(rs) == 2


def test_every_ipv6_embedding_of_a_listed_ipv4_matches() -> None:
    rs = RangeSet.build([("185.220.101.1", "tor")])
    normalizer = Normalizer(["2001:db8:64::/96"])
    for form in (
        "185.220.101.1",
        "::ffff:185.220.101.1",
        "2002:b9dc:6501::1",  # 6to4
        "64:ff9b::b9dc:6501",  # NAT64 well-known
        "2001:db8:64::185.220.101.1",  # NAT64 configured prefix
        "2001:0:4136:e378:8000:63bf:4623:9afe",  # Teredo: 0xb9dc6501 ^ 0xffffffff
    ):
        address = normalizer.normalize(form)
        assert rs.match(address) == ("185.220.101.1/32", frozenset({"tor"})), form
        assert address in rs, form
        if form != "2001:db8:64::185.220.101.1":  # the default normaliser does not know it
            assert form in rs, form
    assert rs.match(normalize("2002:b9dc:6502::1")) is None


def test_overlaps_merge_within_a_label_and_split_across_labels() -> None:
    rs = RangeSet.build(
        [
            ("10.0.0.0/25", "a"),
            ("10.0.0.128/25", "a"),  # adjacent: merged
            ("10.0.0.64/26", "a"),  # inside: absorbed
            ("10.0.0.100-10.0.1.10", "b"),  # overlaps a, runs past it
            ("10.0.2.0/24", ["a", "c"]),
        ]
    )
    assert rs.intervals(4) == [
        (0x0A000000, 0x0A000063, frozenset({"a"})),
        (0x0A000064, 0x0A0000FF, frozenset({"a", "b"})),
        (0x0A000100, 0x0A00010A, frozenset({"b"})),
        (0x0A000200, 0x0A0002FF, frozenset({"a", "c"})),
    ]
    assert rs.match("10.0.0.99") == ("10.0.0.96/30", frozenset({"a"}))  # 10.0.0.0-99 holds .96-.99
    assert rs.labels == frozenset({"a", "b", "c"})
    assert rs.address_count(4) == 256 + 11 + 256


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("185.220.101.1", True),
        ("185.220.101.2", False),
        ("185.220.101.1:8080", True),  # odd spellings go through the normaliser
        ("[::ffff:185.220.101.1]:443", True),
        ("::ffff:b9dc:6501", True),
        ("64:ff9b:1:b9dc:65:100::", True),  # NAT64 /48
        ("2001:db8:1::5", True),
        ("2001:db8:2::5", False),
        ("2001:0:4136:e378:8000:63bf:4623:9afe", True),  # Teredo
        ("2001:4860::1", False),  # 2001::/16 but not Teredo
        ("fe80::1%eth0", False),
        ("010.0.0.1", False),
        ("185.220.101.1\x00", False),
        ("", False),
        ("x" * 500, False),
    ],
)
def test_string_membership_fast_path_agrees_with_normalising(text: str, expected: bool) -> None:
    rs = RangeSet.build([("185.220.101.1", "tor"), ("2001:db8:1::/48", "vpn")])
    assert (text in rs) is expected
    try:
        slow = rs.labels_packed(normalize(text).packed) is not None
    except AddressError:
        slow = False
    assert slow is expected


def test_empty_set_matches_nothing() -> None:
    rs = RangeSet.empty()
    assert rs.match("1.2.3.4") is None
    assert rs.labels_packed(b"\x01\x02\x03\x04") is None
    assert rs.labels_packed(bytes(16)) is None
    assert len(rs) == 0


_v4 = st.integers(0, 2**32 - 1)


@st.composite
def _ranges(draw: st.DrawFn) -> tuple[str, str]:
    value = draw(_v4)
    length = draw(st.integers(8, 32))
    net = ipaddress.IPv4Network((value, length), strict=False)
    return str(net), draw(st.sampled_from(["tor", "vpn", "hosting"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(_ranges(), max_size=25), st.lists(_v4, min_size=1, max_size=30))
def test_matches_a_linear_scan(entries: list[tuple[str, str]], probes: list[int]) -> None:
    rs = RangeSet.build(entries)
    nets = [(ipaddress.IPv4Network(n), label) for n, label in entries]
    # Probe random addresses and every range's edges.
    points = (
        probes
        + [int(n.network_address) for n, _ in nets]
        + [
            int(n.broadcast_address) + d
            for n, _ in nets
            for d in (0, 1)
            if int(n.broadcast_address) + d < 2**32
        ]
    )
    for point in points:
        address = ipaddress.IPv4Address(point)
        expected = frozenset(label for n, label in nets if address in n)
        got = rs.match(str(address))
        # The string fast path of ``in`` and the normalised Address agree with the scan.
        assert (str(address) in rs) is bool(expected)
        assert (f"::ffff:{address}" in rs) is bool(expected)
        assert (normalize(str(address)) in rs) is bool(expected)
        if not expected:
            assert got is None
            continue
        assert got is not None
        network, labels = got
        assert labels == expected
        assert address in ipaddress.IPv4Network(network)
        # The reported network lies inside the listed ranges with exactly these labels.
        first, last = ipaddress.IPv4Network(network)[0], ipaddress.IPv4Network(network)[-1]
        for edge in (first, last):
            edge_match = rs.match(str(edge))
            assert edge_match is not None
            assert edge_match[1] == expected


def test_a_million_ranges_fit_in_12_bytes_each_and_match_correctly() -> None:
    rnd = random.Random(7)
    builder = RangeSetBuilder()
    labels = frozenset({"hosting"})
    starts = [rnd.getrandbits(24) << 8 for _ in range(1_000_000)]
    for start in starts:
        builder.add(4, start, start + 255, labels)
    # How fast the build is belongs to benchmarks/ranges.py, not to a timed assertion here.
    rs = builder.build()
    distinct = len(set(starts))  # duplicate /24s merge; adjacent ones join
    assert 0 < len(rs) <= distinct
    assert rs.address_count(4) == distinct * 256
    # Three 4-byte arrays per IPv4 interval, plus the bucket index (under 2 bytes a range).
    assert 12 < rs.nbytes() / len(rs) < 14
    for start in starts[:2000]:
        assert rs.labels_packed((start + 17).to_bytes(4, "big")) == labels
    listed = set(starts)
    for _ in range(2000):
        value = rnd.getrandbits(32)
        assert (rs.labels_packed(value.to_bytes(4, "big")) is not None) == (
            value >> 8 << 8 in listed
        )
