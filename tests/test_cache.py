"""The lookup cache evicts one oldest entry per insert when full, and threads cannot break it."""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from geofence import Geofence
from geofence.cache import LookupCache

POLICY = {
    "name": "p",
    "default": "allow",
    "rules": [{"name": "gb", "action": "deny", "countries": ["GB"]}],
}


def test_a_full_cache_drops_exactly_its_oldest_entry_per_insert() -> None:
    cache: LookupCache[int] = LookupCache(4)
    for n in range(4):
        cache.put(f"k{n}", n)
    for n in range(4, 10):
        cache.put(f"k{n}", n)
        assert len(cache) == 4  # never a bulk drop: the size stays at the bound
        assert list(cache) == [f"k{m}" for m in range(n - 3, n + 1)]


def test_a_key_written_twice_is_dropped_once_and_the_bound_holds() -> None:
    cache: LookupCache[int] = LookupCache(3)
    for key in ("a", "b", "a", "c", "d", "e"):  # "a" twice, as two racing misses would write it
        cache.put(key, 0)
        assert len(cache) <= 3
    assert set(cache) == {"c", "d", "e"}


def test_threads_filling_a_small_cache_never_raise_and_never_overflow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The old half-eviction iterated the dict; a thread switch inside it (a garbage collection
    # running a finaliser, say) let another insert in, and evaluate() failed with "dictionary
    # changed size during iteration". Short GIL slices make such switches frequent.
    gf = Geofence(POLICY, cache_size=64, reload_interval=None)
    errors: list[BaseException] = []
    denied_gb: list[bool] = []

    def work(offset: int) -> None:
        try:
            for n in range(4000):
                d = gf.evaluate(f"81.2.{(offset * 37 + n) % 256}.{n % 250}")
                # evaluate() never raises: a failure inside shows as the unknown action.
                denied_gb.append(d.country is not None and (d.country != "GB") == d.allowed)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    caplog.set_level(logging.ERROR, logger="geofence")
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
    assert [r.getMessage() for r in caplog.records][:3] == []
    assert len(denied_gb) == 6 * 4000
    assert all(denied_gb)
    cache = gf._gen.cache
    assert len(cache) <= cache.maxsize
    assert len(cache.order) <= 4 * cache.maxsize  # the order queue is bounded too
