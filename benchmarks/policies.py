"""How ``evaluate()`` cost grows with the number of policy rules: 1, 10, 100, 1,000."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import pycountry

from benchmarks.measure import Section, Sizes, each, per_call_ns, ratio
from benchmarks.ranges import synthetic_cidrs
from geofence import Geofence


def policy_with(rules: int, *, seed: int = 5) -> dict[str, Any]:
    """A policy of ``rules`` rules: deny rules on networks, countries and ASNs in turn, then
    the allow rule most addresses reach (so most requests walk every rule)."""
    rng = random.Random(seed)
    codes = sorted(c.alpha_2 for c in pycountry.countries)
    networks = iter(synthetic_cidrs(rules, seed=seed))
    body: list[dict[str, Any]] = []
    for i in range(rules - 1):
        rule: dict[str, Any] = {"name": f"rule-{i}", "action": "deny"}
        kind = i % 3
        if kind == 0:
            rule["networks"] = [next(networks)]
        elif kind == 1:
            rule["countries"] = rng.sample(codes, 2)
            rule["asns"] = [rng.randrange(1, 400_000)]  # ANDed: rarely both
        else:
            rule["asns"] = [rng.randrange(1, 400_000) for _ in range(3)]
        body.append(rule)
    body.append({"name": "supported", "action": "allow", "countries": codes[: len(codes) // 2]})
    return {"name": f"rules-{rules}", "default": "deny", "unknown": "deny", "rules": body}


def rule_scale(sizes: Sizes, addresses: Sequence[str]) -> Section:
    """Uncached and cached ``evaluate()`` per rule count, as ratios to the one-rule policy."""
    s = Section("policy scale")
    n, rep = len(addresses), sizes.repeat
    first: tuple[float, float] | None = None
    for count in sizes.rule_counts:
        policy = policy_with(count)
        start = time.perf_counter()
        gf = Geofence(policy, reload_interval=None, cache_size=4 * n)
        built = time.perf_counter() - start
        try:
            samples = []
            for _ in range(rep):
                gf.clear_cache()
                samples.append(per_call_ns(each(gf.evaluate, addresses), n, 1))
            uncached = sorted(samples)[len(samples) // 2]
            cached = per_call_ns(each(gf.evaluate, addresses), n, rep)
        finally:
            gf.close()
        if first is None:
            first = (uncached, cached)
        s.add(f"evaluate() uncached, {count} rules", uncached, "ns",
              ratio=ratio(uncached, first[0]), against=f"{sizes.rule_counts[0]} rule(s)",
              note=f"construction {built:.2f} s")  # fmt: skip
        s.add(f"evaluate() cached, {count} rules", cached, "ns",
              ratio=ratio(cached, first[1]), against=f"{sizes.rule_counts[0]} rule(s)")  # fmt: skip
        s.series.append({"rules": count, "uncached_ns": uncached, "cached_ns": cached,
                         "construct_s": built})  # fmt: skip
    return s
