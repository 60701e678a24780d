"""Start-up time and resident memory with the embedded data, each in a fresh interpreter."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from benchmarks.measure import Section, Sizes

_PROBE = """
import json, resource, sys, time
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()
start_rss = rss()
t0 = time.perf_counter()
import geofence
from geofence.embedded import example_policy_path
t1 = time.perf_counter()
before = rss()
feeds = 'embedded' if sys.argv[1] == 'feeds' else None
gf = geofence.Geofence(example_policy_path(), feeds=feeds)
gf.evaluate('8.8.8.8')
t2 = time.perf_counter()
print(json.dumps({'import_s': t1 - t0, 'construct_s': t2 - t1,
                  'added_mb': (rss() - before) / 2**20, 'total_mb': rss() / 2**20}))
"""


def _runs(mode: str, count: int) -> dict[str, float]:
    runs = []
    for _ in range(count):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def startup(sizes: Sizes) -> Section:
    """Import, construction (+ first evaluate) and memory, without and with embedded feeds."""
    s = Section("start-up")
    runs = max(1, sizes.startup_runs)
    for mode, label in (("plain", "embedded data"), ("feeds", "embedded data + feeds")):
        m = _runs(mode, runs)
        s.add(f"import geofence ({label})", m["import_s"], "s")
        s.add(f"construction + first evaluate ({label})", m["construct_s"], "s",
              target="< 1 s", met=m["construct_s"] < 1)  # fmt: skip
        s.add(f"memory added by a Geofence ({label})", m["added_mb"], "MB",
              target="< 60 MB", met=m["added_mb"] < 60,
              note=f"process total {m['total_mb']:.0f} MB")  # fmt: skip
    return s
