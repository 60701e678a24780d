"""memory:// bounds: a flood of new groups evicts the least recently used counters, a
distinct counter saturates at ``max_members``, and request times out of order stay sane."""

from __future__ import annotations

from geofence.store import Op, open_store
from geofence.store.memory import MemoryStore

T0 = 1_780_000_000.0


def test_a_flood_of_groups_stays_within_max_size() -> None:
    store = open_store("memory://?max_size=1000&max_members=50")
    assert isinstance(store, MemoryStore)
    for i in range(20_000):
        store.apply([Op("distinct", f"n:{i}", "accounts", f"a{i}"), Op("count", f"a:{i}", "n")], T0)
    assert store.units <= 1000
    health = store.health()
    assert health.entries is not None
    assert 0 < health.entries <= 1000


def test_the_least_recently_used_counter_goes_first() -> None:
    store = open_store("memory://?max_size=10&max_members=5")
    keep = Op("count", "a:keep", "n")
    store.apply([keep], T0)
    for i in range(50):
        store.apply([keep, Op("count", f"a:{i}", "n")], T0)
    assert store.apply([keep], T0) == [52]  # used all along: still there
    assert store.apply([Op("count", "a:0", "n")], T0) == [1]  # evicted long ago: starts again


def test_members_weigh_in_the_bound() -> None:
    store = open_store("memory://?max_size=100&max_members=60")
    assert isinstance(store, MemoryStore)
    for i in range(60):
        store.apply([Op("distinct", "n:big", "accounts", f"a{i}")], T0)
    assert store.units == 61  # one for the counter, one per member
    for i in range(60):
        store.apply([Op("count", f"a:{i}", "n")], T0)
    assert store.units <= 100
    # the big counter was the least recently used: evicted as a whole
    assert store.apply([Op("distinct", "n:big", "accounts", "a0")], T0) == [1]


def test_a_saturated_counter_reads_max_members() -> None:
    store = open_store("memory://?max_members=5")
    results = [store.apply([Op("distinct", "n:1", "a", f"a{i}")], T0)[0] for i in range(9)]
    assert results == [1, 2, 3, 4, 5, 5, 5, 5, 5]
    assert store.apply([Op("distinct", "n:1", "a", "a0")], T0) == [5]  # a known member
    # once the members leave the window there is room again
    later = T0 + 86400 * 2
    assert store.apply([Op("distinct", "n:1", "a", "new")], later) == [1]


def test_request_times_out_of_order() -> None:
    store = open_store("memory://")
    w = 600.0
    assert store.apply([Op("distinct", "a:1", "c", "A", window_s=w)], T0 + 500) == [1]
    # an earlier request arrives late: it sees its own window, without the later bucket
    assert store.apply([Op("distinct", "a:1", "c", "B", window_s=w)], T0 + 100) == [1]
    assert store.apply([Op("distinct", "a:1", "c", "C", window_s=w)], T0 + 550) == [3]
    assert store.apply([Op("count", "a:1", "n", amount=2, window_s=w)], T0 + 500) == [2]
    assert store.apply([Op("count", "a:1", "n", amount=3, window_s=w)], T0 + 100) == [3]
    assert store.apply([Op("count", "a:1", "n", amount=0, window_s=w)], T0 + 550) == [5]


def test_close_drops_everything() -> None:
    store = open_store("memory://")
    store.apply([Op("count", "a:1", "n")], T0)
    store.close()
    assert store.apply([Op("count", "a:1", "n")], T0) == [1]
    assert store.health().available


def test_a_group_is_evicted_whole_and_units_match_a_recount() -> None:
    store = open_store("memory://?max_size=20&max_members=10")
    assert isinstance(store, MemoryStore)
    ops = [Op("distinct", "a:x", "c", "A"), Op("count", "a:x", "n"), Op("swap", "a:x", "s", "v")]
    store.apply(ops, T0)
    for i in range(30):  # windows slide, members come and go, kinds replace each other
        store.apply([Op("distinct", f"n:{i % 7}", "a", f"m{i}", window_s=600)], T0 + i * 200)
        store.apply([Op("count", f"n:{i % 7}", "a", window_s=600)], T0 + i * 200)
    recount = sum(
        1 + len(getattr(c, "members", ())) for g in store._groups.values() for c in g.values()
    )
    assert store.units == recount <= 20
    assert "a:x" not in store._groups  # the least recently used group went, all its counters
    assert store.apply(ops, T0) == [1, 1, None]
