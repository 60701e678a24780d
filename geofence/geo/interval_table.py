"""Precompiled interval tables: the address facts of a set of ``.mmdb`` sources as sorted arrays.

An uncached lookup through the fused row maker (rows.py) reads every source (``Reader.get``
per database, a decode per record). The facts of the country, ASN and region databases together
change only at network boundaries, so they can be flattened once per data version into:

- IPv4: ``starts`` (``'I'``, the first address of each interval) and ``ids`` (``'I'``);
- IPv6: ``high``/``low`` (``'Q'``, the two 64-bit halves of each start) and ``ids``;
- a deduplicated row table: per row id, the marshalled facts ``(country, registered,
  represented, regions, continent, asn, as_org, latitude, longitude, attributed_country)``.

A lookup is then one ``bisect`` on the start array and a list read of the (lazily decoded)
facts. The facts of each interval are computed *by the fused row maker itself* on the interval's
first address, so the table can only say what the row-build path says (territory rule, region
layer placement and all). Intervals are walked with ``Reader.get_with_prefix_len``: each step
jumps to the end of the smallest network any source has there, so every interval is uniform in
every source. IPv6 prefixes that embed IPv4 (``::/64``, Teredo, 6to4, NAT64) get ``FALLBACK``:
the normaliser maps nearly all of them to IPv4 first, and the rest take the row-build path.

The file is built once per data version (keyed by the SHA-256 of the source files, see
table_cache.py) and memory-mapped read-only, so separately started workers share its pages.
"""

from __future__ import annotations

import bisect
import marshal
import mmap
import socket
import struct
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["FALLBACK", "IntervalTable", "build_table"]

FALLBACK = 0xFFFFFFFF
"""Row id of an interval the table does not decide: the caller takes the row-build path."""

Facts = tuple[Any, ...]
FactsOf = Callable[[str], Facts]  # canonical address text -> the 10 facts above
Readers = Sequence[Any]  # maxminddb readers, each with get_with_prefix_len

_MAGIC = b"GFIT0002"
_BUCKETS = 1 << 16  # the index: the first interval at or after each value of the top 16 bits
_HEADER = struct.Struct("<8sIIII")  # magic, v4 count, v6 count, row count, blob length
_FULL64 = (1 << 64) - 1
# IPv6 ranges whose records are the IPv4 tree's (aliases) or that the normaliser rewrites to
# IPv4: (first, last) as 128-bit ints.
_V6_ALIASED = (
    (0, (1 << 64) - 1),  # ::/64: IPv4-compatible and IPv4-mapped
    (0x0064FF9B << 96, (0x0064FF9B << 96) | ((1 << 96) - 1)),  # 64:ff9b::/32 (NAT64, both)
    (0x20010000 << 96, (0x20010000 << 96) | ((1 << 96) - 1)),  # 2001::/32 (Teredo)
    (0x2002 << 112, (0x2002 << 112) | ((1 << 112) - 1)),  # 2002::/16 (6to4)
)


def _walk(
    readers: Readers, bits: int, first: int, last: int, text: Callable[[int], str]
) -> list[tuple[int, str]]:
    """(start, address text) of each interval of [first, last] uniform in every reader."""
    out = []
    n = first
    while n <= last:
        address = text(n)
        size = 1 << bits
        for reader in readers:
            _, prefix = reader.get_with_prefix_len(address)
            size = min(size, 1 << (bits - prefix))
        out.append((n, address))
        n = (n // size + 1) * size  # the end of the smallest network here, plus one
    return out


def _v4_text(n: int) -> str:
    return socket.inet_ntoa(n.to_bytes(4, "big"))


def _v6_text(n: int) -> str:
    return socket.inet_ntop(socket.AF_INET6, n.to_bytes(16, "big"))


def _v6_walk(readers: Readers) -> list[tuple[int, str | None]]:
    """The IPv6 intervals, with ``None`` as the text of an aliased range (``FALLBACK``)."""
    out: list[tuple[int, str | None]] = []
    n = 0
    for first, last in _V6_ALIASED:
        if n < first:
            out.extend(_walk(readers, 128, n, first - 1, _v6_text))
        out.append((first, None))
        n = last + 1
    out.extend(_walk(readers, 128, n, (1 << 128) - 1, _v6_text))
    return out


def build_table(readers: Readers, facts_of: FactsOf, *, ipv6: bool) -> bytes:
    """The table file for ``readers``, with ``facts_of`` (the row-build path) giving the facts
    of each interval; ``ipv6``: whether the sources know IPv6 (else all IPv6 falls back)."""
    rows: dict[Facts, int] = {}

    def row_id(address: str | None) -> int:
        if address is None:
            return FALLBACK
        facts = facts_of(address)
        return rows.setdefault(facts, len(rows))

    v4 = _merge([(n, row_id(a)) for n, a in _walk(readers, 32, 0, _FULL64 >> 32, _v4_text)])
    v6_walk = _v6_walk(readers) if ipv6 else [(0, None)]
    v6 = _merge([(n, row_id(a)) for n, a in v6_walk])
    blobs = [marshal.dumps(facts) for facts in rows]
    offsets = [0]
    for blob in blobs:
        offsets.append(offsets[-1] + len(blob))
    blob = b"".join(blobs)
    starts4 = [n for n, _ in v4]
    high6 = [n >> 64 for n, _ in v6]
    parts = [
        _HEADER.pack(_MAGIC, len(v4), len(v6), len(rows), len(blob)),
        struct.pack(f"<{len(v4)}I", *starts4),
        struct.pack(f"<{len(v4)}I", *(i for _, i in v4)),
        _index(starts4, 16),
        _index(high6, 48),
    ]
    pad = (-sum(map(len, parts))) % 8  # the 'Q' arrays start 8-aligned
    parts += [b"\0" * pad]
    parts += [struct.pack(f"<{len(v6)}Q", *high6)]
    parts += [struct.pack(f"<{len(v6)}Q", *(n & _FULL64 for n, _ in v6))]
    parts += [struct.pack(f"<{len(v6)}I", *(i for _, i in v6))]
    parts += [struct.pack(f"<{len(offsets)}I", *offsets), blob]
    return b"".join(parts)


def _index(starts: list[int], shift: int) -> bytes:
    # index[b]: the first interval whose start's top 16 bits are >= b (b = 0 .. 65536), so a
    # lookup bisects only the few intervals of its own bucket.
    marks = [bisect.bisect_left(starts, b << shift) for b in range(_BUCKETS + 1)]
    return struct.pack(f"<{_BUCKETS + 1}I", *marks)


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    # Adjacent intervals with the same row: only the first start is needed.
    out: list[tuple[int, int]] = []
    for start, row in intervals:
        if not out or out[-1][1] != row:
            out.append((start, row))
    return out


class IntervalTable:
    """A table file mapped read-only; ``v4``/``v6`` give the facts of an address or ``None``."""

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(self._map)
        magic, n4, n6, nrows, nblob = _HEADER.unpack_from(view)
        if magic != _MAGIC:
            raise ValueError(f"{path}: not a geofence interval table")
        at = _HEADER.size
        self.starts4 = view[at : at + 4 * n4].cast("I")
        self.ids4 = view[at + 4 * n4 : at + 8 * n4].cast("I")
        at += 8 * n4
        self.index4 = view[at : at + 4 * (_BUCKETS + 1)].cast("I")
        at += 4 * (_BUCKETS + 1)
        self._index6 = view[at : at + 4 * (_BUCKETS + 1)].cast("I")
        at += 4 * (_BUCKETS + 1)
        at += (-at) % 8
        self._high = view[at : at + 8 * n6].cast("Q")
        self._low = view[at + 8 * n6 : at + 16 * n6].cast("Q")
        at += 16 * n6
        self._ids6 = view[at : at + 4 * n6].cast("I")
        at += 4 * n6
        self._offsets = view[at : at + 4 * (nrows + 1)].cast("I")
        at += 4 * (nrows + 1)
        self._blob = view[at : at + nblob]
        if len(self._blob) != nblob:
            raise ValueError(f"{path}: truncated interval table")
        self.rows: list[Facts | None] = [None] * nrows  # decoded on first use: see row()
        self.intervals = n4 + n6

    def row(self, row_id: int) -> Facts | None:
        """The facts of ``row_id``, or ``None`` for ``FALLBACK``."""
        if row_id == FALLBACK:
            return None
        facts = self.rows[row_id]
        if facts is None:
            start, end = self._offsets[row_id], self._offsets[row_id + 1]
            # Written by build_table into our own cache dir: plain tuples of str/int/float.
            facts = self.rows[row_id] = marshal.loads(self._blob[start:end])  # noqa: S302
        return facts

    def v4_id(self, packed: bytes) -> int:
        """The row id of a 4-byte address (rows.py inlines this on the request path)."""
        n = int.from_bytes(packed, "big")
        index = self.index4
        b = n >> 16
        return self.ids4[bisect.bisect_right(self.starts4, n, index[b], index[b + 1]) - 1]

    def v6_id(self, packed: bytes) -> int:
        """The row id of a 16-byte address: the last start <= it, by (high, low)."""
        high, low = self._high, self._low
        h = int.from_bytes(packed[:8], "big")
        b = h >> 48
        first = bisect.bisect_left(high, h, self._index6[b], self._index6[b + 1])
        end = bisect.bisect_right(high, h, first, self._index6[b + 1])
        if first < end:  # intervals start inside this /64: compare the low halves
            i = bisect.bisect_right(low, int.from_bytes(packed[8:], "big"), first, end) - 1
            return self._ids6[i if i >= first else first - 1]
        return self._ids6[first - 1]

    def close(self) -> None:
        """Unmap the file (lookups after this raise)."""
        views = (self.starts4, self.ids4, self.index4, self._index6, self._high, self._low)
        for view in (*views, self._ids6):
            view.release()
        self._offsets.release()
        self._blob.release()
        self._map.close()
