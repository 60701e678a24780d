"""The per-generation caches: facts (and, when the policy allows, verdicts) per address, and
client-address resolutions through trusted proxies per (peer, forwarding header lines)."""

from __future__ import annotations

from collections import deque
from typing import TypeVar

__all__ = ["CLIENT_CACHE_SIZE", "LookupCache", "client_key"]

V = TypeVar("V")


class LookupCache(dict[str, V]):
    """A bounded ``dict`` keyed by address text, safe to share between threads without a lock.

    Values are stored under the canonical key of the address and under the exact text a caller
    passed (``"[2001:db8::1]:443"``, ``"::FFFF:1.2.3.4"``), so a repeat costs one ``get``.
    Reads and single writes of a ``dict`` are atomic under the GIL, and so are ``append`` and
    ``popleft`` of the ``deque`` that remembers the insertion order: every operation here is
    one C call, with no Python frame on a hit and no lock anywhere (a ``cachetools.LRUCache``
    hit behind a lock measured ~0.3 us against ~0.03 us for this, on a path whose whole budget
    is ~0.35 us). When full, each insert first drops the oldest entry, so eviction costs the
    same small amount on every insert: no request pays for a bulk eviction (dropping half at
    once stalled one call 12-14 ms at 65536 entries), and no iteration over the dict can meet
    a concurrent insert. A cache belongs to one data generation: a reload makes a new one, so
    no entry outlives its data.
    """

    __slots__ = ("maxsize", "order")

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = max(2, maxsize)
        """Entries kept at most."""
        self.order: deque[str] = deque()
        """Keys in insertion order (a key written twice by racing threads appears twice)."""

    def put(self, key: str, value: V) -> None:
        """Remember ``value`` for ``key``, dropping the oldest entry first when full."""
        if len(self) >= self.maxsize:
            self.evict()
        self[key] = value
        self.order.append(key)

    def evict(self) -> None:
        """Drop the oldest entries until there is room for one more (one, usually)."""
        popleft, pop = self.order.popleft, self.pop
        while len(self) >= self.maxsize:
            try:
                pop(popleft(), None)  # a key already dropped (written twice) drops nothing
            except IndexError:  # the order ran dry: only if entries bypassed put()
                self.clear()
                return


CLIENT_CACHE_SIZE = 8192
"""Resolutions kept at most (each key at most ``_KEY_MAX`` characters: ~3 MB in all)."""
_KEY_MAX = 256


def client_key(peer: str | None, lines: tuple[str, ...]) -> str | None:
    """The resolution-cache key of a peer and its forwarding header lines, or ``None`` (not
    cached) when they are long: a client choosing long headers must not fill memory.

    Each part is prefixed by its length, so no two different inputs share a key whatever
    characters the lines hold (``("a, b",)`` and ``("a", " b")`` stay apart).
    """
    if peer is None:
        return None
    if len(lines) == 1:  # the usual case, without the generator
        line = lines[0]
        key = f"{len(peer)}:{peer}{len(line)}:{line}"
    else:
        key = f"{len(peer)}:{peer}" + "".join(f"{len(line)}:{line}" for line in lines)
    return key if len(key) <= _KEY_MAX else None
