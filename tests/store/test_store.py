"""One suite over every backend (``store_url``: memory://, a real Redis, a real 3-node Redis
Cluster): what distinct/count/swap/first return, windows sliding on request time, wall-clock
expiry, prefix isolation and the async twin."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterator

import pytest

from geofence.store import Op, Store, open_store

DEADLINE = 60.0
T0 = 1_780_000_000.0  # a request time in 2026: windows are measured on it, not on the clock


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    yield s
    s.close()


def wait_for(condition: Callable[[], bool], deadline: float = DEADLINE, pause: float = 0.2) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {deadline} s")
        time.sleep(pause)


def test_distinct_counts_each_member_once(store: Store) -> None:
    results = [store.apply([Op("distinct", "a:1", "countries", c)], T0)[0] for c in "ABAC"]
    assert results == [1, 2, 2, 3]


def test_count_sums_amounts(store: Store) -> None:
    assert store.apply([Op("count", "a:1", "requests", amount=3)], T0) == [3]
    assert store.apply([Op("count", "a:1", "requests", amount=4)], T0 + 1) == [7]
    assert store.apply([Op("count", "a:1", "requests", amount=0)], T0 + 2) == [7]


def test_swap_returns_the_previous_value(store: Store) -> None:
    assert store.apply([Op("swap", "a:1", "last", "DE,T0")], T0) == [None]
    assert store.apply([Op("swap", "a:1", "last", "FR,T1")], T0 + 1) == ["DE,T0"]
    assert store.apply([Op("swap", "a:1", "last", "")], T0 + 2) == ["FR,T1"]
    assert store.apply([Op("swap", "a:1", "last", "x")], T0 + 3) == [""]


def test_first_keeps_the_first_value(store: Store) -> None:
    assert store.apply([Op("first", "a:1", "seen", "T0")], T0) == ["T0"]
    assert store.apply([Op("first", "a:1", "seen", "T1")], T0 + 1) == ["T0"]


def test_results_align_with_ops_across_groups(store: Store) -> None:
    ops = [
        Op("distinct", "a:1", "networks", "n1"),
        Op("distinct", "n:1", "accounts", "a1"),
        Op("count", "a:1", "requests"),
        Op("swap", "n:1", "last", "a1"),
        Op("first", "a:2", "seen", "t"),
        Op("distinct", "n:1", "accounts", "a2"),
    ]
    assert store.apply(ops, T0) == [1, 1, 1, None, "t", 2]
    assert store.apply(ops, T0 + 1) == [1, 2, 2, "a1", "t", 2]
    assert store.apply([], T0) == []


def test_counters_are_separate_by_name_kind_group_and_window(store: Store) -> None:
    ops = [
        Op("distinct", "a:1", "x", "m"),
        Op("distinct", "a:1", "y", "m"),
        Op("distinct", "a:2", "x", "m"),
        Op("distinct", "a:1", "x", "m", window_s=3600),
        Op("count", "a:1", "x", amount=5),
        Op("swap", "a:1", "x", "v"),
        Op("first", "a:1", "x", "w"),
    ]
    assert store.apply(ops, T0) == [1, 1, 1, 1, 5, None, "w"]


def test_distinct_window_slides_on_request_time(store: Store) -> None:
    # 600 s window: 6 buckets of 100 s; a read covers the current bucket and the 5 before it
    def seen(member: str, at: float) -> int:
        return int(store.apply([Op("distinct", "a:1", "c", member, window_s=600)], at)[0] or 0)

    assert seen("A", T0) == 1
    assert seen("B", T0 + 100) == 2
    assert seen("C", T0 + 599) == 3  # A's bucket is still one of the six
    assert seen("D", T0 + 650) == 3  # A's bucket left the window: B, C, D
    assert seen("E", T0 + 750) == 3  # and B's: C, D, E
    assert seen("F", T0 + 10_000) == 1  # long after: only F
    assert seen("G", T0 + 10_000 + 1) == 2


def test_count_window_slides_on_request_time(store: Store) -> None:
    def add(amount: int, at: float) -> int:
        return int(store.apply([Op("count", "a:1", "n", amount=amount, window_s=600)], at)[0] or 0)

    assert add(1, T0) == 1
    assert add(2, T0 + 300) == 3
    assert add(4, T0 + 650) == 6  # the first bucket left the window
    assert add(8, T0 + 5_000) == 8


def test_history_is_measured_on_its_own_time(store: Store) -> None:
    """A replay of last year's requests sees last year's window, whatever the clock says."""
    old = T0 - 365 * 86400
    assert store.apply([Op("distinct", "a:1", "c", "A")], old) == [1]
    assert store.apply([Op("distinct", "a:1", "c", "B")], old + 3600) == [2]
    assert store.apply([Op("distinct", "a:1", "c", "C")], T0) == [1]


def test_bucket_keys_expire_on_the_wall_clock(store: Store) -> None:
    """Request time stays put; the keys (window 0.6 s, TTL 0.7 s) still expire. The polls
    are slower than the TTL because each one writes and so re-arms it."""
    window = 0.6
    assert store.apply([Op("count", "a:1", "n", amount=5, window_s=window)], T0) == [5]
    assert store.apply([Op("distinct", "a:1", "d", "A", window_s=window)], T0) == [1]
    wait_for(
        lambda: store.apply([Op("count", "a:1", "n", amount=0, window_s=window)], T0) == [0],
        pause=1.5,
    )
    wait_for(
        lambda: store.apply([Op("distinct", "a:1", "d", "B", window_s=window)], T0) == [1],
        pause=1.5,
    )


def test_swap_and_first_values_expire_on_the_wall_clock(store: Store) -> None:
    assert store.apply([Op("swap", "a:1", "s", "v1", window_s=0.5)], T0) == [None]
    wait_for(
        lambda: store.apply([Op("swap", "a:1", "s", "v", window_s=0.5)], T0) == [None], pause=1.5
    )
    assert store.apply([Op("first", "a:1", "f", "v1", window_s=0.5)], T0) == ["v1"]
    wait_for(
        lambda: store.apply([Op("first", "a:1", "f", "v2", window_s=0.5)], T0) == ["v2"], pause=1.5
    )


def test_prefixes_keep_apps_apart(store_url: str) -> None:
    one, two, one_again = (open_store(store_url, prefix=p) for p in ("app1", "app2", "app1"))
    op = Op("count", "a:1", "n")
    assert one.apply([op], T0) == [1]
    assert two.apply([op], T0) == [1]
    # A network store shares counters between opens of one URL and prefix; memory:// never does.
    shared = not store_url.startswith("memory://")
    assert one_again.apply([op], T0) == [2 if shared else 1]
    for s in (one, two, one_again):
        s.close()


def test_async_twin_gives_the_same_results(store_url: str) -> None:
    ops = [Op("distinct", "a:1", "c", "A"), Op("count", "a:1", "n", amount=2),
           Op("swap", "a:1", "s", "v"), Op("first", "a:1", "f", "v")]  # fmt: skip

    async def run() -> list[object]:
        s = open_store(store_url)
        try:
            return [await s.aapply(ops, T0), await s.aapply(ops, T0 + 1)]
        finally:
            await s.aclose()

    assert asyncio.run(run()) == [[1, 2, None, "v"], [1, 4, "v", "v"]]
    # a second event loop gets its own connections (the first loop's are gone)
    assert asyncio.run(run())[1] == (
        [1, 4, "v", "v"] if store_url == "memory://" else [1, 8, "v", "v"]
    )


def test_health_after_use(store: Store) -> None:
    store.apply([Op("count", "a:1", "n")], T0)
    health = store.health()
    assert health.available
    assert health.last_error is None
    assert health.failures == 0
    assert health.url == store.url


def test_event_loops_that_end_without_aclose_leave_nothing_open(store_url: str) -> None:
    """Each ``asyncio.run`` ends its loop; the store closes that loop's connections as the loop
    shuts down (else the collector would find them open: a ResourceWarning, an error here)."""
    store = open_store(store_url)
    results = [asyncio.run(store.aapply([Op("count", "a:1", "n")], T0)) for _ in range(3)]
    gc.collect()
    assert results == [[1], [2], [3]]
    assert store.apply([Op("count", "a:1", "n")], T0) == [4]  # the blocking twin goes on
    store.close()
