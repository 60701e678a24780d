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

__all__ = ["Family", "RangeSet"]

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


class Family(NamedTuple):
    """One address family's intervals: parallel sorted starts, ends and label-set indexes."""

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

    def __init__(self, v4: Family, v6: Family, label_sets: tuple[frozenset[str], ...]) -> None:
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
        from geofence.reputation.range_builder import RangeSetBuilder

        builder = RangeSetBuilder()
        for text, labels in entries:
            builder.add_text(text, frozenset((labels,) if isinstance(labels, str) else labels))
        return builder.build()

    @classmethod
    def empty(cls) -> RangeSet:
        """A set that matches nothing."""
        from geofence.reputation.range_builder import RangeSetBuilder

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


def __getattr__(name: str) -> object:
    # RangeSetBuilder and parse_range live in range_builder.py, which imports this module;
    # read lazily here so the old import path keeps working without an import cycle.
    if name in ("RangeSetBuilder", "parse_range"):
        from geofence.reputation import range_builder

        return getattr(range_builder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
