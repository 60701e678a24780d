"""The per-generation lookup cache: facts (and, when the policy allows, verdicts) per address."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Generic, TypeVar

import cachetools

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["LookupCache"]

V = TypeVar("V")


class LookupCache(Generic[V]):
    """A bounded, thread-safe cache keyed by address text.

    Two levels: a ``cachetools.LRUCache`` behind a lock keyed by the normalised address (the
    cache of record), and a lock-free ``dict`` in front keyed by the exact text a caller passed,
    so a repeated address costs one dict lookup. Single dict operations are atomic under the GIL;
    the front is emptied when it reaches ``maxsize`` rather than evicting one by one, which keeps
    its reads free of locking and bookkeeping. A cache belongs to one data generation: a reload
    makes a new one, so no entry ever outlives the data it came from.
    """

    __slots__ = ("_front", "_lock", "_lru", "_maxsize", "hits", "misses")

    def __init__(self, maxsize: int) -> None:
        self._maxsize = max(1, maxsize)
        self._front: dict[str, V] = {}
        self._lru: cachetools.LRUCache[str, V] = cachetools.LRUCache(self._maxsize)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def front(self, text: str) -> V | None:
        """The value cached for exactly ``text``, or ``None``. Lock-free."""
        return self._front.get(text)

    def get_or_make(self, text: str, key: str, make: Callable[[], V]) -> V:
        """The value for normalised ``key`` (``make()`` on a miss), remembered for ``text``."""
        with self._lock:
            value = self._lru.get(key)
        if value is None:
            self.misses += 1
            value = make()
            with self._lock:
                self._lru[key] = value
        else:
            self.hits += 1
        front = self._front
        if len(front) >= self._maxsize:
            front.clear()
        front[text] = value
        return value

    def __len__(self) -> int:
        return len(self._lru)
