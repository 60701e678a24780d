"""Issue 13's speed targets, before and after, measured in one run.

    python -m benchmarks.engine [--base DIR] [--rev REV] [--rounds N] [--tail N]

"Before" is the code at ``--rev`` (default: the commit this work started from), unpacked once
into ``--base`` with ``git archive``; "after" is this checkout. Each figure comes from
``benchmarks/engine_probe.py`` run in a fresh interpreter with one or the other package first on
``PYTHONPATH``, the two sides alternating round by round, so load on the machine reaches both
alike. Printed: a Markdown table of medians with the after/before ratios and each target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "engine_probe.py"
BASE_REV = "22512b4"  # main when the issue 13 speed work began


def ensure_base(base: Path, rev: str) -> Path:
    """The baseline package tree at ``rev`` (unpacked on first use, kept for later runs)."""
    if not (base / "geofence" / "__init__.py").is_file():
        base.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
    return base


TINY = {"GEOFENCE_BENCH_TINY": "0"}  # "1": the smoke test's sizes (set by --tiny)


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, **TINY, "PYTHONPATH": str(tree)}


def probe(tree: Path, mode: str, *args: str) -> dict[str, float]:
    """One probe run in a fresh interpreter against the package in ``tree``."""
    out = subprocess.run(
        [sys.executable, str(PROBE), mode, *args],
        env=_env(tree), capture_output=True, text=True, check=True, timeout=900,
    )  # fmt: skip
    return dict(json.loads(out.stdout))


def memory(tree: Path) -> dict[str, float]:
    """USS of a second worker (a first one alive beside it, so pages can be shared) and of a
    process that only imported geofence, all three alive when measured."""
    procs, results = [], []
    for mode in ("worker", "worker", "import"):
        proc = subprocess.Popen(
            [sys.executable, str(PROBE), mode],
            env=_env(tree), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        procs.append(proc)
        assert proc.stdout is not None
        results.append(json.loads(proc.stdout.readline()))  # measured; it waits on stdin
    for proc in procs:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.close()
        proc.wait(60)
        proc.stdout.close()
    second = results[1]
    mmdb = second["mmdb_private_mb"] + second["tmp_copies_mb"]
    return {"worker2_mb": second["uss_mb"], "import_mb": results[2]["uss_mb"],
            "worker2_mmdb_private_mb": mmdb}  # fmt: skip


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def measure(base: Path, rounds: int) -> dict[str, dict[str, float]]:
    sides: dict[str, dict[str, list[dict[str, float]]]] = {
        side: {"speed": [], "startup": [], "memory": []} for side in ("before", "after")
    }
    trees = {"before": base, "after": ROOT}
    for n in range(rounds):
        for side, tree in trees.items():
            print(f"round {n + 1}/{rounds}: {side}", file=sys.stderr)
            sides[side]["speed"].append(probe(tree, "speed"))
            sides[side]["startup"].extend(probe(tree, "startup") for _ in range(2))
            sides[side]["memory"].append(memory(tree))
    return {
        side: {k: v for kind in runs.values() for k, v in _medians(kind).items()}
        for side, runs in sides.items()
    }


def derived(m: dict[str, float]) -> dict[str, float]:
    return {
        "scope_over_address": m["cached_scope"] / m["cached_address"],
        "mw_proxies_over_bare_us": (m["mw_proxies"] - m["mw_bare"]) / 1000,
        "uncached_v4_over_get": m["uncached_v4"] / m["raw_get_v4"],
        "uncached_v6_over_get": m["uncached_v6"] / m["raw_get_v6"],
        "regions_over_none": m["uncached_regions"] / m["uncached_no_regions"],
        "construct_s": m["construct_s"],
        "worker2_over_import_mb": m["worker2_mb"] - m["import_mb"],
    }


ROWS: Sequence[tuple[str, str, str, float]] = (
    ("scope_over_address", "evaluate(scope) cached / evaluate(address) cached", "x", 1.5),
    ("mw_proxies_over_bare_us", "ASGI middleware, trusted proxies, cached: over bare app", "us",
     3.0),
    ("uncached_v4_over_get", "uncached evaluate / raw country get, IPv4 (country DB alone)", "x",
     1.5),
    ("uncached_v6_over_get", "uncached evaluate / raw country get, IPv6 (country DB alone)", "x",
     2.0),
    ("regions_over_none", "uncached evaluate, country+ASN+region layer / country+ASN (tracker 15)",
     "x", 1.2),
    ("construct_s", "Geofence() construction, embedded data + feeds", "s", 0.3),
    ("worker2_over_import_mb", "USS: 2nd worker (30k lookups) minus import-only process", "MB",
     20.0),
)  # fmt: skip


def table(result: dict[str, dict[str, float]], tail: dict[str, float] | None) -> str:
    before, after = derived(result["before"]), derived(result["after"])
    lines = [
        "| measure | before | after | after / before | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for key, label, unit, target in ROWS:
        b, a = before[key], after[key]
        change = f"{a / b:.2f}x" if b else "-"
        met = "yes" if a <= target else "**NO**"
        lines.append(f"| {label} | {b:.2f} {unit} | {a:.2f} {unit} | {change} | <= {target:g}"
                     f" {unit} | {met} |")  # fmt: skip
    if tail is not None:
        p50 = tail["p50"]
        for q, target in (("p99.9", 3.0), ("p99.99", 20.0)):
            r = tail[q] / p50
            met = "yes" if r <= target else "**NO**"
            label = f"evaluate over {tail['count']:,.0f} distinct addresses: {q} / p50"
            values = f"{tail[q] / 1000:.1f} / {p50 / 1000:.1f} us"
            lines.append(f"| {label} ({values}) | | {r:.1f}x | | <= {target:g}x | {met} |")
    raw = {side: {k: round(v, 1) for k, v in m.items()} for side, m in result.items()}
    return "\n".join(lines) + "\n\nRaw medians (ns per call unless named): " + json.dumps(raw)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__)
    parser.add_argument("--base", type=Path, default=Path("/tmp/h13base"))
    parser.add_argument("--rev", default=BASE_REV)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tail", type=int, default=5_000_000, help="addresses; 0: skip")
    parser.add_argument("--tiny", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args(argv)
    TINY["GEOFENCE_BENCH_TINY"] = "1" if args.tiny else "0"
    # The interval tables of the shapes measured, built once (cached: later runs only map them);
    # not for a smoke run (a build takes minutes: it then measures the row-build path).
    if not args.tiny:
        subprocess.run([sys.executable, str(ROOT / "tools" / "precompile_interval_tables.py")],
                       env=_env(ROOT), check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    result = measure(ensure_base(args.base, args.rev), args.rounds)
    tail: dict[str, Any] | None = None
    if args.tail:
        print(f"tail: {args.tail:,} distinct addresses", file=sys.stderr)
        tail = {**probe(ROOT, "tail", str(args.tail)), "count": args.tail}
    print(table(result, tail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
