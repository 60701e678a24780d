"""The store contract: ``Op`` (one windowed update), the ``Store`` protocol, ``StoreHealth``,
and the time-bucket arithmetic every backend shares.

A window is cut into ``BUCKETS`` buckets of ``window_s / BUCKETS`` seconds of *request* time
(the ``now`` given to ``apply``): bucket ``floor(now / width)``. A windowed read covers the
current bucket and the ``BUCKETS - 1`` before it, so it sees everything from the last
``window_s`` minus at most one bucket (5/6 of the window at least, the whole window at most).
Wall-clock TTLs only bound memory: a bucket lives ``window_s`` plus one bucket after it was
created (Redis: re-armed when a distinct bucket changes; memory://: on every write), which in
real time outlasts its place in any window; a replay of historical times is measured on its
own clock. Swap and first values live ``window_s`` after their last write.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["BUCKETS", "MAX_VALUE", "MIN_WINDOW", "Kind", "Op", "Result", "Store", "StoreHealth"]

BUCKETS = 6  # buckets per window: finer costs keys, coarser blurs the window's edge
MIN_WINDOW = 0.01  # seconds: bucket indexes of shorter windows outgrow exact float text in Lua
MAX_VALUE = 512  # characters of a member or stored value (the caller hashes long ids)
_GROUP = re.compile(r"[A-Za-z0-9:_-]{1,64}")
_NAME = re.compile(r"[A-Za-z0-9:_-]{1,32}")

Kind = Literal["distinct", "count", "swap", "first"]
_KINDS = frozenset(("distinct", "count", "swap", "first"))
Result = int | str | None


@dataclass(frozen=True, slots=True)
class Op:
    """One update of one counter, applied by ``Store.apply`` (which returns its result).

    A bad field is a bug in the caller, never a client's doing: it raises ``ValueError`` here.

    >>> Op("distinct", "a:3f2a", "countries", "DE").window_s
    86400.0
    """

    kind: Kind
    """``distinct`` (-> int members in the window), ``count`` (-> int sum in the window),
    ``swap`` (-> the previous value or None; stores this one), ``first`` (-> the value stored
    first: set only when absent)."""
    group: str
    """Entity group, e.g. ``"a:3f2a..."``: 1-64 of ``[A-Za-z0-9:_-]``, hashed by the caller.
    Every key of one group lives in one Redis Cluster hash slot."""
    name: str
    """Counter name inside the group, e.g. ``"countries"``: 1-32 of ``[A-Za-z0-9:_-]``."""
    value: str = ""
    """distinct: the member; swap/first: the value to store (at most ``MAX_VALUE`` chars)."""
    amount: int = 1
    """count: how much to add."""
    window_s: float = 86400.0
    """Sliding window of distinct/count; how long swap/first values live after a write."""

    def __post_init__(self) -> None:
        # Exact type checks (``type(x) is``) are the fast path: Ops are built per request.
        if self.kind not in _KINDS:
            raise ValueError(f"Op.kind must be one of {sorted(_KINDS)}, not {self.kind!r}")
        if type(self.group) is not str or not _GROUP.fullmatch(self.group):
            raise ValueError(f"Op.group must be 1-64 of [A-Za-z0-9:_-], not {self.group!r}")
        if type(self.name) is not str or self.name not in _NAMES_SEEN:
            _check_name(self.name)
        if type(self.value) is not str or len(self.value) > MAX_VALUE:
            raise ValueError(f"Op.value must be a str of at most {MAX_VALUE} characters")
        if type(self.amount) is not int:
            raise ValueError(f"Op.amount must be an int, not {self.amount!r}")
        window = self.window_s
        if type(window) is not float and type(window) is not int:
            raise ValueError(f"Op.window_s must be a number of seconds, not {window!r}")
        if not MIN_WINDOW <= window < math.inf:  # NaN fails both comparisons
            raise ValueError(f"Op.window_s must be finite and >= {MIN_WINDOW}, not {window!r}")


_NAMES_SEEN: set[str] = set()  # counter names come from code: a few, checked once each


def _check_name(name: object) -> None:
    if type(name) is not str or not _NAME.fullmatch(name):
        raise ValueError(f"Op.name must be 1-32 of [A-Za-z0-9:_-], not {name!r}")
    if len(_NAMES_SEEN) < 1024:
        _NAMES_SEEN.add(name)


def bucket_width(window_s: float) -> float:
    """Seconds of request time per bucket."""
    return window_s / BUCKETS


def bucket_of(now: float, window_s: float) -> int:
    """The bucket index ``now`` falls in."""
    return math.floor(now / (window_s / BUCKETS))


def ttl_s(window_s: float) -> float:
    """Wall-clock life of a bucket after its last write: the window plus one bucket."""
    return window_s + window_s / BUCKETS


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What a store knows about its own state, as of its last ``apply`` (no I/O to ask)."""

    url: str
    """The store's URL, password redacted."""
    available: bool
    """False after a failed ``apply``, True again after the next one that succeeds."""
    last_error: str | None = None
    """The last failure's message, kept after recovery (None if there never was one)."""
    failures: int = 0
    """Failed ``apply`` calls since the store was opened."""
    last_failure: float | None = None
    """Epoch seconds (wall clock) of the last failure."""
    retry_at: float | None = None
    """While unavailable: epoch seconds after which the next ``apply`` tries the server again
    (until then it raises at once, so an outage does not cost a timeout per request)."""
    entries: int | None = None
    """memory://: counters held now (Redis: None, its keys expire on the server)."""


class Store(Protocol):
    """Windowed counters shared by every process that opens the same URL.

    ``apply`` costs at most one round trip to a network store; ``aapply`` is its async twin.
    Both raise ``StoreUnavailable`` on connection errors and timeouts.
    """

    url: str

    def apply(self, ops: Sequence[Op], now: float) -> list[Result]:
        """Apply ``ops`` at request time ``now`` (epoch seconds); results align with ``ops``."""
        ...

    async def aapply(self, ops: Sequence[Op], now: float) -> list[Result]:
        """Async twin of ``apply``: never blocks the event loop on the network."""
        ...

    def health(self) -> StoreHealth:
        """The store's state as of its last ``apply``."""
        ...

    def close(self) -> None:
        """Release connections (memory:// drops its counters)."""
        ...

    async def aclose(self) -> None:
        """Async twin of ``close``."""
        ...
