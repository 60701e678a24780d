"""``RangeSet``: an immutable set of labelled IPv4 and IPv6 ranges with a bisect ``match``.

Each family is stored as sorted, disjoint intervals in parallel arrays (start, end, label-set
index): IPv4 in ``array("I")`` (12 bytes per range), IPv6 in lists of ints. Overlapping or
adjacent entries with the same labels are merged; where entries with different labels
overlap, the overlap becomes its own interval carrying the union of the labels. Lookups are
one ``bisect`` in C, so a million ranges cost the same few hundred nanoseconds as ten.

Membership is decided on the address given: pass a normalised ``Address`` (``net.py``) so the
IPv4-mapped, 6to4, NAT64 and Teredo forms of a listed IPv4 address match it.

>>> rs = RangeSet.build([("192.0.2.0/24", "tor")])
>>> rs.match(normalize("::ffff:192.0.2.7"))
('192.0.2.0/24', frozenset({'tor'}))
"""

from __future__ import annotations

import socket
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, TypeVar

from geofence.errors import AddressError
from geofence.net import Address, normalize

T = TypeVar("T")

__all__ = ["RangeSet", "RangeSetBuilder", "parse_range"]

_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_inet_pton = socket.inet_pton

_V4_MAX = (1 << 32) - 1
_V6_MAX = (1 << 128) - 1
_EMPTY: frozenset[str] = frozenset()
# IPv6 text whose address may embed an IPv4 one (top 32 bits): ::/32 (IPv4-mapped and
# -compatible), Teredo 2001::/32, NAT64 64:ff9b::/32; and 6to4 2002::/16 (top 16 bits).
_EMBEDDING_32 = frozenset({0x0000_0000, 0x2001_0000, 0x0064_FF9B})
_SIXTOFOUR_16 = 0x2002


def parse_range(text: str) -> tuple[int, int, int]:
    """``(version, first, last)`` of a CIDR, a single address or ``first-last``.

    Host bits in a CIDR are cleared (feeds publish ``1.2.3.4/24`` now and then). An IPv4-mapped
    IPv6 range is stored as IPv4, as normalised lookups would look it up. Raises ``AddressError``.
    """
    text = text.strip()
    slash = text.find("/")
    try:
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
        parts: dict[int, list[_Family]] = {4: [], 6: []}
        for labels, lists in self._keys.items():
            if labels not in index:
                index[labels] = len(label_sets)
                label_sets.append(labels)
            for version, keys in ((4, lists[0]), (6, lists[1])):
                if keys:
                    parts[version].append(_merge(keys, version, index[labels]))
        families: list[_Family] = []
        for version in (4, 6):
            if len(parts[version]) == 1:
                families.append(parts[version][0])
                continue
            joined = [t for part in parts[version] for t in zip(*part, strict=True)]
            families.append(_pack(_disjoint(joined, label_sets, index), version))
        return RangeSet(families[0], families[1], tuple(label_sets))


class _Family(NamedTuple):
    starts: Sequence[int]
    ends: Sequence[int]
    labels: Sequence[int]


class RangeSet:
    """Immutable labelled IPv4/IPv6 ranges; build with ``RangeSet.build`` or ``from_intervals``."""

    __slots__ = (
        "_label_sets",
        "_v4",
        "_v4_ends",
        "_v4_index",
        "_v4_shift",
        "_v4_starts",
        "_v6",
        "_v6_ends",
        "_v6_starts",
        "labels_packed",
    )

    def __init__(self, v4: _Family, v6: _Family, label_sets: tuple[frozenset[str], ...]) -> None:
        self._v4 = v4
        self._v6 = v6
        self._label_sets = label_sets
        # The hot paths read these directly (an attribute each, no tuple unpacking).
        self._v4_starts = v4.starts
        self._v4_ends = v4.ends
        self._v4_shift, self._v4_index = _bucket_index(v4.starts)
        self._v6_starts = v6.starts
        self._v6_ends = v6.ends
        self.labels_packed: Callable[[bytes], frozenset[str] | None] = self.packed_lookup(
            label_sets, None
        )
        """The labels of the range holding these 4 or 16 bytes, or ``None``: the hot path."""

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def build(cls, entries: Iterable[tuple[str, str | Iterable[str]]]) -> RangeSet:
        """From ``(range_text, label or labels)`` pairs; raises ``AddressError`` on a bad range."""
        builder = RangeSetBuilder()
        for text, labels in entries:
            builder.add_text(text, frozenset((labels,) if isinstance(labels, str) else labels))
        return builder.build()

    @classmethod
    def empty(cls) -> RangeSet:
        """A set that matches nothing."""
        return RangeSetBuilder().build()

    # -- queries --------------------------------------------------------------------------

    def _find4(self, value: int) -> int:
        """The index of the IPv4 interval holding ``value``, or -1."""
        # The bucket of the top bits narrows the bisect to a few intervals: fewer probes,
        # each of which boxes an array item into an int.
        index = self._v4_index
        bucket = value >> self._v4_shift
        i = bisect_right(self._v4_starts, value, index[bucket], index[bucket + 1]) - 1
        return i if i >= 0 and value <= self._v4_ends[i] else -1

    def _find6(self, value: int) -> int:
        """The index of the IPv6 interval holding ``value``, or -1."""
        i = bisect_right(self._v6_starts, value) - 1
        return i if i >= 0 and value <= self._v6_ends[i] else -1

    def packed_lookup(self, values: Sequence[T], miss: T) -> Callable[[bytes], T]:
        """A function from the 4 or 16 bytes of an address to ``values[k]``, where ``k`` is
        the number of the label set (``label_sets[k]``) of the range holding it, or ``miss``.

        The hot path: one call, the arrays bound as locals (a ``FeedSet`` maps label sets to
        the tags they give this way).
        """
        starts4, ends4, labels4 = self._v4_starts, self._v4_ends, self._v4.labels
        shift, index = self._v4_shift, self._v4_index
        starts6, ends6, labels6 = self._v6_starts, self._v6_ends, self._v6.labels
        from_bytes = int.from_bytes

        def lookup(packed: bytes) -> T:
            value = from_bytes(packed, "big")
            if len(packed) == 4:
                bucket = value >> shift
                i = bisect_right(starts4, value, index[bucket], index[bucket + 1]) - 1
                return values[labels4[i]] if i >= 0 and value <= ends4[i] else miss
            i = bisect_right(starts6, value) - 1
            return values[labels6[i]] if i >= 0 and value <= ends6[i] else miss

        return lookup

    def match(self, address: Address | str) -> tuple[str, frozenset[str]] | None:
        """``(network, labels)`` for the range holding ``address``, or ``None``.

        ``network`` is the largest CIDR around the address inside the (merged) range it fell
        in. A ``str`` is normalised first (raises ``AddressError``).
        """
        if isinstance(address, str):
            address = normalize(address)
        value = int.from_bytes(address.packed, "big")
        if address.version == 4:
            family, i, bits = self._v4, self._find4(value), 32
        else:
            family, i, bits = self._v6, self._find6(value), 128
        if i < 0:
            return None
        network = _cidr_around(value, family.starts[i], family.ends[i], bits)
        return network, self._label_sets[family.labels[i]]

    def __contains__(self, address: object) -> bool:
        """Whether the address (``Address`` or text) is in a range.

        Plain dotted quads and plain IPv6 text are parsed with one ``inet_pton``; only the
        IPv6 forms that may carry an IPv4 address (and odd spellings: brackets, zone ids,
        ports) go through the full normaliser, so their embedded IPv4 address is checked.
        """
        if type(address) is str:
            if ":" not in address:
                try:
                    value = int.from_bytes(_inet_pton(_AF_INET, address), "big")
                except (OSError, ValueError):
                    return self._contains_normalised(address)
                index = self._v4_index
                bucket = value >> self._v4_shift
                i = bisect_right(self._v4_starts, value, index[bucket], index[bucket + 1]) - 1
                return i >= 0 and value <= self._v4_ends[i]
            try:
                value = int.from_bytes(_inet_pton(_AF_INET6, address), "big")
            except (OSError, ValueError):
                return self._contains_normalised(address)
            if value >> 96 in _EMBEDDING_32 or value >> 112 == _SIXTOFOUR_16:
                return self._contains_normalised(address)
            i = bisect_right(self._v6_starts, value) - 1
            return i >= 0 and value <= self._v6_ends[i]
        if isinstance(address, Address):
            return self.labels_packed(address.packed) is not None
        if isinstance(address, str):
            return self._contains_normalised(address)
        return False

    def _contains_normalised(self, text: str) -> bool:
        try:
            return self.labels_packed(normalize(text).packed) is not None
        except AddressError:
            return False

    def __len__(self) -> int:
        """The number of disjoint intervals stored (after merging)."""
        return len(self._v4.starts) + len(self._v6.starts)

    @property
    def label_sets(self) -> tuple[frozenset[str], ...]:
        """Every distinct label set an interval carries."""
        return self._label_sets

    @property
    def labels(self) -> frozenset[str]:
        """Every label in the set."""
        return frozenset().union(*self._label_sets)

    def intervals(self, version: int) -> list[tuple[int, int, frozenset[str]]]:
        """The stored ``(first, last, labels)`` intervals of one family, in order."""
        family = self._v4 if version == 4 else self._v6
        sets = self._label_sets
        return [
            (s, e, sets[i])
            for s, e, i in zip(family.starts, family.ends, family.labels, strict=True)
        ]

    def address_count(self, version: int) -> int:
        """How many addresses the family's ranges hold."""
        family = self._v4 if version == 4 else self._v6
        return sum(e - s + 1 for s, e in zip(family.starts, family.ends, strict=True))

    def nbytes(self) -> int:
        """Approximate bytes held by the interval arrays (IPv4 arrays are exact)."""
        total = 0
        for family in (self._v4, self._v6):
            for seq in family:
                if isinstance(seq, array):
                    total += seq.itemsize * len(seq)
                else:
                    total += 8 * len(seq) + sum(v.__sizeof__() for v in seq)
        return total + self._v4_index.itemsize * len(self._v4_index)

    def __repr__(self) -> str:
        return f"<RangeSet {len(self._v4.starts)} IPv4 + {len(self._v6.starts)} IPv6 ranges>"


def _merge(keys: list[int], version: int, label: int) -> _Family:
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
        return _Family(array("I", starts), array("I", ends), array("I", [label]) * len(starts))
    return _Family(starts, ends, array("I", [label]) * len(starts))


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


def _pack(items: list[tuple[int, int, int]], version: int) -> _Family:
    starts = [s for s, _, _ in items]
    ends = [e for _, e, _ in items]
    labels = array("I", [i for _, _, i in items])
    if version == 6:  # 128-bit values do not fit an array
        return _Family(starts, ends, labels)
    return _Family(array("I", starts), array("I", ends), labels)


def _bucket_index(starts: Sequence[int]) -> tuple[int, array[int]]:
    """``(shift, index)``: ``index[b]`` is the first interval starting at or after bucket
    ``b`` (the top bits of an IPv4 address, ``value >> shift``); about 2 intervals a bucket,
    so the index costs under 2 bytes a range."""
    bits = max(4, min(16, len(starts).bit_length() - 1))
    shift = 32 - bits
    index = array("I", [bisect_left(starts, b << shift) for b in range((1 << bits) + 1)])
    return shift, index


def _cidr_around(value: int, first: int, last: int, bits: int) -> str:
    """The largest aligned block holding ``value`` within ``[first, last]``, as CIDR text."""
    k = (last - first + 1).bit_length() - 1
    while k > 0:
        base = value >> k << k
        if base >= first and base + (1 << k) - 1 <= last:
            break
        k -= 1
    base = value >> k << k
    family = socket.AF_INET if bits == 32 else socket.AF_INET6
    text = socket.inet_ntop(family, base.to_bytes(bits // 8, "big"))
    return f"{text}/{bits - k}"
