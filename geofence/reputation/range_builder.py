"""Building a ``RangeSet``: parsing range text, merging, and making label sets disjoint.

``RangeSetBuilder`` collects ``(version, first, last, labels)``; ``build()`` sorts and merges
each label set's ranges (adjacent or overlapping ones become one), then, where ranges of
different label sets overlap, sweeps the overlap into its own interval carrying the union of
the labels, so the finished set is sorted and disjoint and a lookup is one bisect.
"""

from __future__ import annotations

import socket
from array import array
from collections.abc import Iterable, Iterator
from typing import overload

from geofence.errors import AddressError
from geofence.reputation.ranges import Family, RangeSet

__all__ = ["PackedRanges", "RangeSetBuilder", "parse_range"]

_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_inet_pton = socket.inet_pton
_V4_MAX = (1 << 32) - 1
_LOW64 = (1 << 64) - 1
_V4_HOSTS = tuple((1 << (32 - n)) - 1 for n in range(33))  # host bits per prefix length
_from_bytes = int.from_bytes
_EMPTY: frozenset[str] = frozenset()


def parse_range(text: str) -> tuple[int, int, int]:
    """``(version, first, last)`` of a CIDR, a single address or ``first-last``.

    Host bits in a CIDR are cleared (feeds publish ``1.2.3.4/24`` now and then). An IPv4-mapped
    IPv6 range is stored as IPv4, as normalised lookups would look it up. Raises ``AddressError``.
    """
    text = text.strip()
    slash = text.find("/")
    try:
        if ":" not in text and "-" not in text:  # IPv4, most feed lines: without the helpers
            if slash < 0:
                value = _from_bytes(_inet_pton(_AF_INET, text), "big")
                return 4, value, value
            length = text[slash + 1 :]
            if not (length.isascii() and length.isdigit() and int(length) <= 32):
                raise ValueError(f"bad prefix length {length!r}")
            value = _from_bytes(_inet_pton(_AF_INET, text[:slash]), "big")
            host = _V4_HOSTS[int(length)]
            return 4, value & ~host, value | host
        if slash >= 0:
            version, value = _parse_ip(text[:slash])
            bits = 32 if version == 4 else 128
            length = text[slash + 1 :]
            if not (length.isascii() and length.isdigit() and int(length) <= bits):
                raise ValueError(f"bad prefix length {length!r}")
            host = (1 << (bits - int(length))) - 1
            return _unmap(version, value & ~host, value | host)
        if "-" in text:
            low, _, high = text.partition("-")
            version, first = _parse_ip(low.strip())
            version_high, last = _parse_ip(high.strip())
            if version != version_high or first > last:
                raise ValueError("the range is empty or mixes IPv4 and IPv6")
            return _unmap(version, first, last)
        version, value = _parse_ip(text)
        return _unmap(version, value, value)
    except (OSError, ValueError) as exc:
        raise AddressError(f"not an address, CIDR or range: {exc}", text=text[:128]) from None


def _parse_ip(text: str) -> tuple[int, int]:
    if ":" in text:
        return 6, int.from_bytes(_inet_pton(_AF_INET6, text), "big")
    return 4, int.from_bytes(_inet_pton(_AF_INET, text), "big")


def _unmap(version: int, first: int, last: int) -> tuple[int, int, int]:
    if version == 6 and first >> 32 == 0xFFFF and last >> 32 == 0xFFFF:
        return 4, first & _V4_MAX, last & _V4_MAX
    return version, first, last


Range = tuple[int, int, int]
"""``(version, first, last)``: an IP version and the first and last address as ints."""


class PackedRanges:
    """A list of ``Range`` triples, stored compactly: each IPv4 range one 8-byte array item,
    each IPv6 range four.

    A feed keeps its parsed ranges for as long as it serves (a refresh of one feed rebuilds
    the index from all of them); as a list of tuples the embedded feeds' 105k ranges held
    ~17 MB of Python objects in every worker, packed they hold ~1.6 MB. Behaves as the list
    it replaces: append, len, iteration and indexing in insertion order, equality with a list.
    """

    __slots__ = ("_kinds", "_v4", "_v6")

    def __init__(self, ranges: Iterable[Range] = ()) -> None:
        self._v4 = array("Q")  # first << 32 | last
        self._v6 = array("Q")  # per range: first >> 64, first & low, last >> 64, last & low
        self._kinds = bytearray()  # 4 or 6 per range, in insertion order
        for item in ranges:
            self.append(item)

    def append(self, item: Range) -> None:
        """Add one ``(version, first, last)``."""
        version, first, last = item
        if version == 4:
            self._v4.append(first << 32 | last)
        else:
            self._v6.extend((first >> 64, first & _LOW64, last >> 64, last & _LOW64))
        self._kinds.append(version)

    def __len__(self) -> int:
        return len(self._kinds)

    def __iter__(self) -> Iterator[Range]:
        v4, v6 = iter(self._v4), iter(self._v6)
        for kind in self._kinds:
            if kind == 4:
                key = next(v4)
                yield 4, key >> 32, key & _V4_MAX
            else:
                yield 6, next(v6) << 64 | next(v6), next(v6) << 64 | next(v6)

    @overload
    def __getitem__(self, index: int) -> Range: ...
    @overload
    def __getitem__(self, index: slice) -> list[Range]: ...

    def __getitem__(self, index: int | slice) -> Range | list[Range]:
        if isinstance(index, slice):
            return list(self)[index]
        kinds = self._kinds
        kind = kinds[index]  # raises IndexError as a list would
        position = kinds.count(kind, 0, index % len(kinds))  # ranges of its family before it
        if kind == 4:
            key = self._v4[position]
            return 4, key >> 32, key & _V4_MAX
        a, b, c, d = self._v6[4 * position : 4 * position + 4]
        return 6, a << 64 | b, c << 64 | d

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (PackedRanges, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the list it replaces

    def __repr__(self) -> str:
        return f"PackedRanges({len(self)} ranges)"


class RangeSetBuilder:
    """Collects labelled ranges, then ``build()`` merges them into a ``RangeSet``."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        # Per label set, per family: ints ``first << bits | last``, which sort (in C) by first
        # then last, far faster than tuples.
        self._keys: dict[frozenset[str], tuple[list[int], list[int]]] = {}

    def add(self, version: int, first: int, last: int, labels: frozenset[str]) -> None:
        """Add the range ``first..last`` (ints) of IP ``version`` with ``labels``."""
        lists = self._keys.get(labels)
        if lists is None:
            lists = self._keys[labels] = ([], [])
        if version == 4:
            lists[0].append(first << 32 | last)
        else:
            lists[1].append(first << 128 | last)

    def add_text(self, text: str, labels: frozenset[str]) -> None:
        """Add a CIDR, address or ``first-last`` range; raises ``AddressError``."""
        self.add(*parse_range(text), labels)

    def __len__(self) -> int:
        return sum(len(v4) + len(v6) for v4, v6 in self._keys.values())

    def build(self) -> RangeSet:
        """The merged, immutable ``RangeSet``."""
        label_sets: list[frozenset[str]] = []
        index: dict[frozenset[str], int] = {}
        parts: dict[int, list[Family]] = {4: [], 6: []}
        for labels, lists in self._keys.items():
            if labels not in index:
                index[labels] = len(label_sets)
                label_sets.append(labels)
            for version, keys in ((4, lists[0]), (6, lists[1])):
                if keys:
                    parts[version].append(_merge(keys, version, index[labels]))
        families: list[Family] = []
        for version in (4, 6):
            if len(parts[version]) == 1:
                families.append(parts[version][0])
                continue
            joined = [t for part in parts[version] for t in zip(*part, strict=True)]
            families.append(_pack(_disjoint(joined, label_sets, index), version))
        return RangeSet(families[0], families[1], tuple(label_sets))


def _merge(keys: list[int], version: int, label: int) -> Family:
    """Sort and merge overlapping or adjacent ranges of one label set and family."""
    bits = 32 if version == 4 else 128
    mask = (1 << bits) - 1
    keys.sort()
    starts: list[int] = []
    ends: list[int] = []
    cur_s = cur_e = -2
    for key in keys:
        s = key >> bits
        e = key & mask
        if s <= cur_e + 1:
            if e > cur_e:
                cur_e = e
        else:
            if cur_e >= 0:
                starts.append(cur_s)
                ends.append(cur_e)
            cur_s, cur_e = s, e
    if cur_e >= 0:
        starts.append(cur_s)
        ends.append(cur_e)
    if version == 4:
        return Family(array("I", starts), array("I", ends), array("I", [label]) * len(starts))
    return Family(starts, ends, array("I", [label]) * len(starts))


def _disjoint(
    items: list[tuple[int, int, int]],
    label_sets: list[frozenset[str]],
    index: dict[frozenset[str], int],
) -> list[tuple[int, int, int]]:
    """Make intervals of different label sets disjoint: overlaps carry the union of labels."""
    items.sort()
    out: list[tuple[int, int, int]] = []
    cluster: list[tuple[int, int, int]] = []
    cluster_end = -1
    for item in items:
        if cluster and item[0] > cluster_end:
            out.extend(_split(cluster, label_sets, index) if len(cluster) > 1 else cluster)
            cluster = []
        if not cluster or item[1] > cluster_end:
            cluster_end = item[1]
        cluster.append(item)
    if cluster:
        out.extend(_split(cluster, label_sets, index) if len(cluster) > 1 else cluster)
    # Neighbours that ended up with the same labels (after a split) are joined again.
    joined: list[tuple[int, int, int]] = []
    for s, e, i in out:
        if joined and joined[-1][2] == i and joined[-1][1] + 1 == s:
            joined[-1] = (joined[-1][0], e, i)
        else:
            joined.append((s, e, i))
    return joined


def _split(
    cluster: list[tuple[int, int, int]],
    label_sets: list[frozenset[str]],
    index: dict[frozenset[str], int],
) -> list[tuple[int, int, int]]:
    """A sweep over one cluster of overlapping intervals (only across label sets)."""
    events = sorted([(s, 1, i) for s, _, i in cluster] + [(e + 1, -1, i) for _, e, i in cluster])
    active: dict[int, int] = {}
    out: list[tuple[int, int, int]] = []
    prev = events[0][0]
    for pos, delta, i in events:
        if pos > prev and active:
            labels = _EMPTY.union(*(label_sets[j] for j in active))
            if labels not in index:
                index[labels] = len(label_sets)
                label_sets.append(labels)
            out.append((prev, pos - 1, index[labels]))
        prev = pos
        count = active.get(i, 0) + delta
        if count:
            active[i] = count
        else:
            del active[i]
    return out


def _pack(items: list[tuple[int, int, int]], version: int) -> Family:
    starts = [s for s, _, _ in items]
    ends = [e for _, e, _ in items]
    labels = array("I", [i for _, _, i in items])
    if version == 6:  # 128-bit values do not fit an array
        return Family(starts, ends, labels)
    return Family(array("I", starts), array("I", ends), labels)
