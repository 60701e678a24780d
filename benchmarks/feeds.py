"""Feed benchmarks: RangeSet membership at 10k and 1M ranges against netaddr.IPSet and a linear
scan, build time and bytes per range, and evaluate() with and without the embedded feeds.

Run: ``python -m benchmarks.feeds``. Ratios are measured in one run on the same addresses.
"""

from __future__ import annotations

import random
import time
import timeit

from netaddr import IPAddress, IPNetwork, IPSet

from geofence import Geofence
from geofence.net import normalize
from geofence.reputation.range_builder import RangeSetBuilder

PROBES = 2000


def _ranges(count: int, seed: int = 7) -> list[int]:
    rnd = random.Random(seed)
    return [rnd.getrandbits(24) << 8 for _ in range(count)]


def _per_call(fn: object, items: list[object], repeat: int = 5) -> float:
    best = min(timeit.repeat(lambda: [fn(x) for x in items], number=1, repeat=repeat))  # type: ignore[operator]
    return best / len(items) * 1e6


def rangeset(count: int) -> None:
    starts = _ranges(count)
    builder = RangeSetBuilder()
    labels = frozenset({"x"})
    for s in starts:
        builder.add(4, s, s + 255, labels)
    began = time.perf_counter()
    rs = builder.build()
    build = time.perf_counter() - began
    rnd = random.Random(1)
    packed = [rnd.getrandbits(32).to_bytes(4, "big") for _ in range(PROBES)]
    addresses = [normalize(".".join(map(str, p))) for p in packed]
    ours = _per_call(rs.labels_packed, packed)  # type: ignore[arg-type]
    match = _per_call(rs.match, addresses)  # type: ignore[arg-type]
    print(f"RangeSet {count:>9,} ranges: build {build:.2f} s, {rs.nbytes() / len(rs):.0f} B/range, "
          f"labels_packed {ours:.2f} us, match {match:.2f} us")  # fmt: skip
    if count <= 10_000:
        ipset = IPSet(IPNetwork((s, 24)) for s in starts)
        texts = [IPAddress(a.text) for a in addresses]
        theirs = _per_call(ipset.__contains__, texts)  # type: ignore[arg-type]
        spans = [(s, s + 255) for s in starts]
        values = [a.value for a in addresses[:200]]
        linear = _per_call(lambda v: any(a <= v <= b for a, b in spans), values, 1)  # type: ignore[arg-type]
        print(f"  netaddr.IPSet {theirs:.2f} us ({theirs / ours:.0f}x), "
              f"linear scan {linear:.0f} us ({linear / ours:.0f}x)")  # fmt: skip


def evaluate() -> None:
    policy = {"name": "b", "default": "allow", "unknown": "allow",
              "rules": [{"name": "x", "action": "deny", "countries": ["KP"]}]}  # fmt: skip
    rnd = random.Random(3)
    addresses = [".".join(str(rnd.randrange(1, 224)) for _ in range(4)) for _ in range(PROBES)]
    results = {}
    for label, feeds in (("no feeds", None), ("embedded feeds", "embedded")):
        with Geofence(policy, feeds=feeds, reload_interval=None, cache_size=16) as gf:
            for a in addresses:
                gf.evaluate(a)
            results[label] = _per_call(gf.evaluate, addresses)  # type: ignore[arg-type]
            cached = Geofence(policy, feeds=feeds, reload_interval=None)
            cached.evaluate(addresses[0])
            hit = _per_call(cached.evaluate, [addresses[0]] * PROBES)  # type: ignore[arg-type]
            cached.close()
        print(f"evaluate() uncached, {label}: {results[label]:.2f} us; cached {hit:.2f} us")
    print(f"  ratio {results['embedded feeds'] / results['no feeds']:.2f}x")


if __name__ == "__main__":
    rangeset(10_000)
    rangeset(1_000_000)
    evaluate()
