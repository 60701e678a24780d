"""``memory://``: the store inside this process, bounded, exact until it saturates.

Bounds (both options of the URL, e.g. ``memory://?max_size=200000&max_members=500``):

- ``max_size`` (default 1,000,000) *units*: one per counter plus one per distinct member it
  holds. Past it the least recently used counters are evicted (cachetools ``LRUCache``), so a
  flood of new accounts or networks pushes out the quietest ones instead of growing memory.
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
import threading
import time
from collections.abc import Sequence

from cachetools import LRUCache

from geofence.errors import ConfigurationError
from geofence.store.protocol import BUCKETS, Op, Result, StoreHealth, bucket_of, ttl_s

__all__ = ["MemoryStore"]

_SPAN = BUCKETS - 1


class _Distinct:
    """Members (by hash) with the latest bucket each was seen in, and each bucket's expiry."""

    __slots__ = ("expiry", "members", "units")

    def __init__(self) -> None:
        self.members: dict[int, int] = {}
        self.expiry: dict[int, float] = {}
        self.units = 1


class _Count:
    """Per bucket: ``[expiry, total]``."""

    __slots__ = ("buckets",)
    units = 1

    def __init__(self) -> None:
        self.buckets: dict[int, list[float]] = {}


class _Value:
    __slots__ = ("expires", "value")
    units = 1

    def __init__(self, value: str, expires: float) -> None:
        self.value = value
        self.expires = expires


_Entry = _Distinct | _Count | _Value
_Key = tuple[str, str, str, float]


def _units(entry: _Entry) -> int:
    return entry.units


class MemoryStore:
    """Counters in this process only; every thread shares them (one lock, no I/O)."""

    def __init__(
        self, url: str = "memory://", *, max_size: int = 1_000_000, max_members: int = 1_000
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
        if not isinstance(entry, _Distinct):
            entry = _Distinct()
        b = bucket_of(now, op.window_s)
        expiry = entry.expiry
        if any(k < b - _SPAN or k > b + _SPAN or t <= wall for k, t in expiry.items()):
            live = {k: t for k, t in expiry.items() if b - _SPAN <= k <= b + _SPAN and t > wall}
            entry.expiry = expiry = live
            entry.members = {m: k for m, k in entry.members.items() if k in live}
        expiry[b] = wall + ttl_s(op.window_s)
        members = entry.members
        h = hash(op.value)
        seen = members.get(h)
        if seen is None:
            if len(members) < self.max_members:
                members[h] = b
        elif seen < b:
            members[h] = b
        count = len(members)
        if max(expiry) > b:  # a later bucket exists (request times out of order): count ours
            count = sum(1 for k in members.values() if k <= b)
        if entry.units != len(members) + 1 or key not in self._cache:
            entry.units = len(members) + 1
            self._cache[key] = entry  # re-inserting re-weighs it for the LRU bound
        return count

    def _count(self, op: Op, now: float, wall: float) -> int:
        key = (op.group, op.name, "c", op.window_s)
        entry = self._cache.get(key)
        if not isinstance(entry, _Count):
            entry = self._cache[key] = _Count()
        b = bucket_of(now, op.window_s)
        buckets = entry.buckets
        for k in [k for k, c in buckets.items() if k < b - _SPAN or k > b + _SPAN or c[0] <= wall]:
            del buckets[k]
        cell = buckets.get(b)
        if cell is None:
            buckets[b] = [wall + ttl_s(op.window_s), op.amount]
        else:
            cell[0] = wall + ttl_s(op.window_s)
            cell[1] += op.amount
        return int(sum(c[1] for k, c in buckets.items() if k <= b))

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
