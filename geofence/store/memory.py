"""``memory://``: the store inside this process, bounded, exact until it saturates.

Bounds (both options of the URL, e.g. ``memory://?max_size=200000&max_members=500``):

- ``max_size`` (default 250,000) *units*: one per counter plus one per distinct member it
  holds. Past it the least recently used counters are evicted (cachetools ``LRUCache``), so a
  flood of new accounts or networks pushes out the quietest ones instead of growing memory.
  Measured (``benchmarks/store.py``): about 370 bytes per unit and 55 units per account with a
  day of activity, so the default holds about 4,500 such accounts in about 90 MB.
- ``max_members`` (default 1,000) distinct members per counter over its window. A counter that
  holds that many is *saturated*: it stops taking new members and reads ``max_members`` (a
  lower bound) until old members leave the window. Thresholds sit far below it.

Distinct counts are exact below saturation (members are kept by their ``hash()``, which is
per process and never leaves it). Wall-clock expiry follows the Redis keys': a bucket lives
``window_s`` plus one bucket after its last write. Out-of-order request times inside one
window count a member in its latest bucket.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Sequence

from cachetools import LRUCache

from geofence.errors import ConfigurationError
from geofence.store.protocol import BUCKETS, Op, Result, StoreHealth

__all__ = ["MAX_MEMBERS", "MAX_SIZE", "MemoryStore"]

MAX_SIZE = 250_000  # units (see above): about 90 MB at most
MAX_MEMBERS = 1_000
_SPAN = BUCKETS - 1  # buckets before (or after) the current one that a window can reach
_NO_BUCKET = sys.maxsize


class _Windowed:
    """Each live bucket's expiry, and bounds that tell at a glance whether any needs pruning."""

    __slots__ = ("expiry", "high", "low", "soonest")
    units = 1

    def __init__(self) -> None:
        self.expiry: dict[int, float] = {}
        self.low, self.high, self.soonest = _NO_BUCKET, -_NO_BUCKET, math.inf

    def touch(self, b: int, wall: float, ttl: float) -> None:
        """Prune buckets out of reach of bucket ``b`` or expired, then (re-)arm ``b``."""
        if self.low < b - _SPAN or self.high > b + _SPAN or self.soonest <= wall:
            self.expiry = {
                k: t for k, t in self.expiry.items() if b - _SPAN <= k <= b + _SPAN and t > wall
            }
            self.dropped()
            live = self.expiry
            self.low = min(live, default=_NO_BUCKET)
            self.high = max(live, default=-_NO_BUCKET)
            self.soonest = min(live.values(), default=math.inf)
        expires = wall + ttl
        self.expiry[b] = expires
        if b < self.low:
            self.low = b
        if b > self.high:
            self.high = b
        if expires < self.soonest:
            self.soonest = expires

    def dropped(self) -> None:
        """Forget what lived in buckets no longer in ``expiry``."""


class _Distinct(_Windowed):
    """Members (by hash) with the latest bucket each was seen in."""

    __slots__ = ("members", "units")

    def __init__(self) -> None:
        super().__init__()
        self.members: dict[int, int] = {}
        self.units = 1

    def dropped(self) -> None:
        live = self.expiry
        self.members = {m: k for m, k in self.members.items() if k in live}


class _Count(_Windowed):
    """The total of each bucket."""

    __slots__ = ("totals",)

    def __init__(self) -> None:
        super().__init__()
        self.totals: dict[int, int] = {}

    def dropped(self) -> None:
        live = self.expiry
        self.totals = {k: n for k, n in self.totals.items() if k in live}


class _Value:
    __slots__ = ("expires", "value")
    units = 1

    def __init__(self, value: str, expires: float) -> None:
        self.value = value
        self.expires = expires


_Entry = _Windowed | _Value
_Key = tuple[str, str, str, float]


def _units(entry: _Entry) -> int:
    return entry.units


class MemoryStore:
    """Counters in this process only; every thread shares them (one lock, no I/O)."""

    def __init__(
        self, url: str = "memory://", *, max_size: int = MAX_SIZE, max_members: int = MAX_MEMBERS
    ) -> None:
        if max_members + 1 > max_size:
            raise ConfigurationError(
                f"store URL {url!r}: max_size ({max_size}) must exceed max_members ({max_members})"
            )
        self.url = url
        self.max_size = max_size
        self.max_members = max_members
        self._cache: LRUCache[_Key, _Entry] = LRUCache(maxsize=max_size, getsizeof=_units)
        self._lock = threading.Lock()
        self._clock = time.monotonic  # wall clock of the TTLs; request time drives windows

    def apply(self, ops: Sequence[Op], now: float) -> list[Result]:
        """Apply ``ops`` at request time ``now``; results align with ``ops``."""
        if not math.isfinite(now):
            raise ValueError(f"now must be finite epoch seconds, not {now!r}")
        with self._lock:
            wall = self._clock()
            out: list[Result] = []
            for op in ops:
                kind = op.kind
                if kind == "distinct":
                    out.append(self._distinct(op, now, wall))
                elif kind == "count":
                    out.append(self._count(op, now, wall))
                else:
                    out.append(self._value(op, wall))
            return out

    async def aapply(self, ops: Sequence[Op], now: float) -> list[Result]:
        """Same as ``apply``: nothing here waits on I/O."""
        return self.apply(ops, now)

    def _distinct(self, op: Op, now: float, wall: float) -> int:
        key = (op.group, op.name, "d", op.window_s)
        entry = self._cache.get(key)
        fresh = entry.__class__ is not _Distinct
        if fresh:
            entry = _Distinct()
        assert isinstance(entry, _Distinct)
        window = op.window_s
        b = math.floor(now / (window / BUCKETS))  # bucket_of(), inline: this is the hot path
        entry.touch(b, wall, window + window / BUCKETS)
        members = entry.members
        h = hash(op.value)
        seen = members.get(h)
        if seen is None:
            if len(members) < self.max_members:
                members[h] = b
        elif seen < b:
            members[h] = b
        size = len(members)
        if entry.units != size + 1 or fresh:
            entry.units = size + 1
            self._cache[key] = entry  # re-inserting re-weighs it for the LRU bound
        if entry.high > b:  # a later bucket exists (request times out of order): count ours
            return sum(1 for k in members.values() if k <= b)
        return size

    def _count(self, op: Op, now: float, wall: float) -> int:
        key = (op.group, op.name, "c", op.window_s)
        entry = self._cache.get(key)
        if entry.__class__ is not _Count:
            entry = self._cache[key] = _Count()
        assert isinstance(entry, _Count)
        window = op.window_s
        b = math.floor(now / (window / BUCKETS))
        entry.touch(b, wall, window + window / BUCKETS)
        totals = entry.totals
        totals[b] = totals.get(b, 0) + op.amount
        if entry.high > b:
            return sum(n for k, n in totals.items() if k <= b)
        return sum(totals.values())

    def _value(self, op: Op, wall: float) -> str | None:
        key = (op.group, op.name, op.kind, 0.0)
        entry = self._cache.get(key)
        held = entry.value if isinstance(entry, _Value) and entry.expires > wall else None
        expires = wall + op.window_s
        if op.kind == "first" and held is not None:
            assert isinstance(entry, _Value)
            entry.expires = expires
            return held
        self._cache[key] = _Value(op.value, expires)
        return held if op.kind == "swap" else op.value

    def health(self) -> StoreHealth:
        """Always available; ``entries`` is the number of counters held."""
        return StoreHealth(url=self.url, available=True, entries=len(self._cache))

    def close(self) -> None:
        """Drop every counter."""
        with self._lock:
            self._cache.clear()

    async def aclose(self) -> None:
        """Same as ``close``."""
        self.close()
