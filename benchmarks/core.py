"""Core targets of issue 2, as ratios measured in one run.

    python -m benchmarks.core [--addresses N] [--repeat R]

- cached ``evaluate()`` of an address against one raw ``maxminddb`` ``Reader.get()`` of it
  (target: at most 2x);
- uncached ``evaluate()`` against the raw lookups it needs, country + ASN ``Reader.get()``
  (target: at most 3x);
- construction time with the embedded data (target: under 1 s) and the memory a constructed
  ``Geofence`` adds (target: under 60 MB), each measured in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Sequence

import maxminddb

from benchmarks.addresses import public_addresses
from benchmarks.measure import per_call_ns
from geofence import Geofence
from geofence.embedded import default_geo_paths, example_policy_path


def measure_lookups(count: int, repeat: int) -> dict[str, float]:
    """Per-address costs of the raw lookups and of evaluate(), cached and uncached."""
    addresses = public_addresses(count)
    country_path, asn_path = default_geo_paths()
    country = maxminddb.open_database(str(country_path))
    asn = maxminddb.open_database(str(asn_path))
    policy = example_policy_path()

    def raw_country() -> None:
        get = country.get
        for a in addresses:
            get(a)

    def raw_both() -> None:
        get_c, get_a = country.get, asn.get
        for a in addresses:
            get_c(a)
            get_a(a)

    warm = Geofence(policy, reload_interval=None, cache_size=2 * count)
    for a in addresses:
        warm.evaluate(a)

    def cached() -> None:
        evaluate = warm.evaluate
        for a in addresses:
            evaluate(a)

    fresh = Geofence(policy, reload_interval=None, cache_size=2 * count)
    uncached_samples = []
    for _ in range(repeat):
        # An empty cache per run: every address is a first sight. The database pages are as
        # warm as the raw readers' (their median run also follows earlier runs).
        fresh.clear_cache()
        uncached_samples.append(per_call_ns(lambda g=fresh: _evaluate_all(g, addresses), count, 1))
    fresh.close()
    result = {
        "raw_country_get_ns": per_call_ns(raw_country, count, repeat),
        "raw_country_asn_get_ns": per_call_ns(raw_both, count, repeat),
        "evaluate_cached_ns": per_call_ns(cached, count, repeat),
        "evaluate_uncached_ns": statistics.median(uncached_samples),
    }
    warm.close()
    country.close()
    asn.close()
    return result


def _evaluate_all(gf: Geofence, addresses: Sequence[str]) -> None:
    evaluate = gf.evaluate
    for a in addresses:
        evaluate(a)


_STARTUP_PROBE = """
import json, resource, time
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()
import geofence
from geofence.embedded import example_policy_path
before = rss()
start = time.perf_counter()
gf = geofence.Geofence(example_policy_path())
gf.evaluate('8.8.8.8')
elapsed = time.perf_counter() - start
print(json.dumps({'construct_s': elapsed, 'added_rss_mb': (rss() - before) / 2**20}))
"""


def measure_startup(repeat: int) -> dict[str, float]:
    """Construction time and memory added, each from a fresh interpreter (median of runs)."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", _STARTUP_PROBE], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout))
    return {
        "construct_s": statistics.median(r["construct_s"] for r in runs),
        "added_rss_mb": statistics.median(r["added_rss_mb"] for r in runs),
    }


def report(lookups: dict[str, float], startup: dict[str, float]) -> list[str]:
    """Lines of a Markdown table with each target and whether this run met it."""
    cached_ratio = lookups["evaluate_cached_ns"] / lookups["raw_country_get_ns"]
    uncached_ratio = lookups["evaluate_uncached_ns"] / lookups["raw_country_asn_get_ns"]
    rows = [
        (
            "evaluate() cached / raw Reader.get()",
            f"{cached_ratio:.2f}x",
            "<= 2x",
            cached_ratio <= 2,
        ),
        (
            "evaluate() uncached / raw country+ASN Reader.get()",
            f"{uncached_ratio:.2f}x",
            "<= 3x",
            uncached_ratio <= 3,
        ),
        (
            "construction with embedded data",
            f"{startup['construct_s']:.3f} s",
            "< 1 s",
            startup["construct_s"] < 1,
        ),
        (
            "memory added by a Geofence",
            f"{startup['added_rss_mb']:.1f} MB",
            "< 60 MB",
            startup["added_rss_mb"] < 60,
        ),
    ]
    lines = ["| measure | this run | target | met |", "|---|---|---|---|"]
    lines += [f"| {m} | {v} | {t} | {'yes' if ok else 'NO'} |" for m, v, t, ok in rows]
    lines.append("")
    lines.append("| absolute medians (ns per address) | |")
    lines.append("|---|---|")
    lines += [f"| {k} | {v:.0f} |" for k, v in lookups.items()]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--addresses", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    lookups = measure_lookups(args.addresses, args.repeat)
    startup = measure_startup(max(3, args.repeat // 2))
    print("\n".join(report(lookups, startup)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
