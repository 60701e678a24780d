"""``memory://``: the store inside this process, bounded, exact until it saturates.

Bounds (both options of the URL, e.g. ``memory://?max_size=200000&max_members=500``):

- ``max_size`` (default 600,000) *units*: one per counter plus one per distinct member it
  holds. Past it the least recently used *groups* (an account's, a network's counters) are
  evicted whole, so a flood of new accounts or networks pushes out the quietest ones instead
  of growing memory. Measured (a day of 24 requests per account, 2,000 accounts, RSS growth):
  about 8.1 KB per account (147 bytes per unit, 55 units) on ``benchmarks/store.py``'s 15-op
  requests, and 14 units per account through the signal stage, so the default holds about
  11,000 of the former and about 42,000 of the latter in about 90 MB (before: 19 KB and
  370 bytes per unit, 4,500 accounts in the 250,000 units of the old default).
- ``max_members`` (default 1,000) distinct members per counter over its window. A counter that
  holds that many is *saturated*: it stops taking new members and reads ``max_members`` (a
  lower bound) until old members leave the window. Thresholds sit far below it.

Distinct counts are exact below saturation (members are kept by their ``hash()``, which is
per process and never leaves it). Wall-clock expiry bounds memory as the Redis keys' TTLs do:
a counter lives ``window_s`` plus one bucket after its last write (Redis arms each bucket key;
one deadline per counter is what keeps a counter small here). Out-of-order request times
inside one window count a member in its latest bucket.

``group`` and the ``distinct``/``count``/``value`` methods are open to a caller holding
``lock``, to update a group's counters without building an ``Op`` per counter; ``apply`` is
those methods driven by ``Op``s, so any such path shares every rule above.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from geofence.errors import ConfigurationError
from geofence.store.protocol import BUCKETS, Op, Result, StoreHealth

__all__ = ["MAX_MEMBERS", "MAX_SIZE", "CounterKey", "Group", "MemoryStore", "counter_key"]

MAX_SIZE = 600_000  # units (see above): about 90 MB at most
MAX_MEMBERS = 1_000
_SPAN = BUCKETS - 1  # buckets before (or after) the current one that a window can reach

CounterKey = tuple[str, str, float]
"""(counter name, kind letter, window): the same tuple object for every group (see
``counter_key``), so a group's dict holds a pointer, not a key of its own."""
_KEYS: dict[CounterKey, CounterKey] = {}
_KEYS_KEPT = 4096  # distinct (name, kind, window) keys interned; more still work, unshared
_INTS: dict[int, int] = {}  # bucket numbers, interned: every member of a bucket shares one int


def counter_key(name: str, kind: str, window_s: float) -> CounterKey:
    """The interned key of counter ``name`` of ``kind`` (``d``, ``c``, ``swap``, ``first``)."""
    key = (name, kind, float(window_s))
    held = _KEYS.get(key)
    if held is not None:
        return held
    if len(_KEYS) < _KEYS_KEPT:
        _KEYS[key] = key
    return key


def bucket(now: float, window_s: float) -> int:
    """The (interned) bucket index of request time ``now``."""
    b = math.floor(now / (window_s / BUCKETS))
    held = _INTS.get(b)
    if held is None:
        if len(_INTS) > 4096:  # a replay across years: start again rather than grow
            _INTS.clear()
        held = _INTS[b] = b
    return held


class _Distinct:
    """Members (by hash) with the latest bucket each was seen in."""

    __slots__ = ("expires", "high", "low", "members")

    def __init__(self, b: int) -> None:
        self.members: dict[int, int] = {}
        self.low = self.high = b
        self.expires = 0.0


class _Count:
    """The total of each bucket."""

    __slots__ = ("expires", "high", "low", "totals")

    def __init__(self, b: int) -> None:
        self.totals: dict[int, int] = {}
        self.low = self.high = b
        self.expires = 0.0


class _Value:
    __slots__ = ("expires", "value")

    def __init__(self, value: object, expires: float) -> None:
        self.value = value
        self.expires = expires


Group = dict[CounterKey, "_Distinct | _Count | _Value"]
"""One group's counters (an account's, a network's), evicted together."""


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
        self.units = 0
        """Units held now (see the module docstring); at most ``max_size`` between calls."""
        self.lock = threading.Lock()
        self.clock = time.monotonic  # wall clock of the TTLs; request time drives windows
        self._groups: OrderedDict[str, Group] = OrderedDict()

    def apply(self, ops: Sequence[Op], now: float) -> list[Result]:
        """Apply ``ops`` at request time ``now``; results align with ``ops``."""
        if not math.isfinite(now):
            raise ValueError(f"now must be finite epoch seconds, not {now!r}")
        out: list[Result] = []
        with self.lock:
            wall = self.clock()
            for op in ops:
                counters = self.group(op.group)
                kind, w = op.kind, op.window_s
                if kind == "distinct":
                    key = counter_key(op.name, "d", w)
                    out.append(self.distinct(counters, key, hash(op.value), bucket(now, w), wall))
                elif kind == "count":
                    key = counter_key(op.name, "c", w)
                    out.append(self.count(counters, key, op.amount, bucket(now, w), wall))
                else:
                    key = counter_key(op.name, kind, 0.0)
                    held = self.value(counters, key, kind == "first", op.value, wall, w)
                    out.append(held if held is None else str(held))
            self.settle()
        return out

    async def aapply(self, ops: Sequence[Op], now: float) -> list[Result]:
        """Same as ``apply``: nothing here waits on I/O."""
        return self.apply(ops, now)

    # -- the counters, for callers holding ``lock`` ------------------------------------------

    def group(self, name: str) -> Group:
        """Group ``name``'s counters, now the most recently used (created when absent)."""
        groups = self._groups
        counters = groups.get(name)
        if counters is None:
            counters = groups[name] = {}
        else:
            groups.move_to_end(name)
        return counters

    def distinct(self, counters: Group, key: CounterKey, member: int, b: int, wall: float) -> int:
        """Add ``member`` (a hash) in bucket ``b``; the distinct members of its window."""
        c = counters.get(key)
        if c is None or c.__class__ is not _Distinct or c.expires <= wall:
            if c is not None:
                self.units -= _units(c)
            c = counters[key] = _Distinct(b)
            self.units += 1
        assert isinstance(c, _Distinct)
        c.expires = wall + key[2] * (1 + 1 / BUCKETS)
        members = c.members
        if c.low < b - _SPAN or c.high > b + _SPAN:  # some member is out of this window's reach
            kept = {m: k for m, k in members.items() if b - _SPAN <= k <= b + _SPAN}
            self.units -= len(members) - len(kept)
            c.members = members = kept
            c.low, c.high = min(kept.values(), default=b), max(kept.values(), default=b)
        seen = members.get(member)
        if seen is None:
            if len(members) < self.max_members:
                members[member] = b
                self.units += 1
        elif seen < b:
            members[member] = b
        if b < c.low:
            c.low = b
        if b > c.high:
            c.high = b
        if c.high > b:  # a later bucket exists (request times out of order): count ours
            return sum(1 for k in members.values() if k <= b)
        return len(members)

    def count(self, counters: Group, key: CounterKey, amount: int, b: int, wall: float) -> int:
        """Add ``amount`` in bucket ``b``; the window's total."""
        c = counters.get(key)
        if c is None or c.__class__ is not _Count or c.expires <= wall:
            if c is not None:
                self.units -= _units(c) - 1
            else:
                self.units += 1
            c = counters[key] = _Count(b)
        assert isinstance(c, _Count)
        c.expires = wall + key[2] * (1 + 1 / BUCKETS)
        totals = c.totals
        if c.low < b - _SPAN or c.high > b + _SPAN:
            c.totals = totals = {k: n for k, n in totals.items() if b - _SPAN <= k <= b + _SPAN}
            c.low, c.high = min(totals, default=b), max(totals, default=b)
        totals[b] = totals.get(b, 0) + amount
        if b < c.low:
            c.low = b
        if b > c.high:
            c.high = b
        elif c.high > b:  # a later bucket exists (request times out of order): count ours
            return sum(n for k, n in totals.items() if k <= b)
        return sum(totals.values())

    def value(
        self, counters: Group, key: CounterKey, first: bool, value: object, wall: float,
        life: float,
    ) -> object:  # fmt: skip
        """``first``: the value held (``value`` stored when none); else swap: the previous
        one (``None`` when none), ``value`` stored. Either lives ``life`` s from now."""
        c = counters.get(key)
        if isinstance(c, _Value) and c.expires > wall:
            assert isinstance(c, _Value)
            c.expires = wall + life
            if first:
                return c.value
            held, c.value = c.value, value
            return held
        if c is None:
            self.units += 1
        else:
            self.units -= _units(c) - 1
        counters[key] = _Value(value, wall + life)
        return value if first else None

    def settle(self) -> None:
        """Evict the least recently used groups until ``max_size`` holds again."""
        groups = self._groups
        while self.units > self.max_size and groups:
            _, counters = groups.popitem(last=False)
            self.units -= sum(_units(c) for c in counters.values())

    def health(self) -> StoreHealth:
        """Always available; ``entries`` is the number of counters held."""
        with self.lock:
            entries = sum(len(counters) for counters in self._groups.values())
        return StoreHealth(url=self.url, available=True, entries=entries)

    def close(self) -> None:
        """Drop every counter."""
        with self.lock:
            self._groups.clear()
            self.units = 0

    async def aclose(self) -> None:
        """Same as ``close``."""
        self.close()


def _units(c: _Distinct | _Count | _Value) -> int:
    return 1 + len(c.members) if isinstance(c, _Distinct) else 1
