"""``python -m benchmarks``: every section in one run, on the same addresses.

Writes ``benchmarks/RESULTS.md`` and ``benchmarks/feed_scale.png`` (or ``--output DIR``) and
prints the table; ``--only SECTION...`` writes ``RESULTS-partial.md`` instead. ``--tiny``
runs every section with small sizes (the smoke test uses it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import lookups, policies, ranges, report, serving, signals, startup, store
from benchmarks.addresses import public_addresses
from benchmarks.measure import Section, Sizes

SectionRun = Callable[[Sizes, Sequence[str]], Section]

SECTIONS: dict[str, SectionRun] = {
    "evaluate": lookups.limit_and_evaluate,
    "regions": lookups.region_layer,
    "geoip2": lambda sizes, _: lookups.geoip2_peer(sizes),
    "tags": lookups.tags_peers,
    "ranges": ranges.real_ranges,
    "feed-scale": ranges.scale,
    "policy-scale": policies.rule_scale,
    "startup": lambda sizes, _: startup.startup(sizes),
    "middleware": serving.throughput,
    "store": store.state_store,
    "signals": signals.account_signals,
}


def colleague_middleware(sizes: Sizes) -> Section:
    """Issue 4's own harness, ``benchmarks/middleware.py`` (ASGI under uvicorn, WSGI under
    gunicorn or wsgiref), run as its command so its set-up stays its own."""
    s = Section("middleware (issue 4 harness)")
    if not (Path(__file__).parent / "middleware.py").is_file():
        s.missing("benchmarks/middleware.py (ASGI + WSGI)", "not committed yet")
        return s
    command = [sys.executable, "-m", "benchmarks.middleware", "--seconds",
               str(sizes.serve_seconds), "--rounds", str(sizes.serve_rounds)]  # fmt: skip
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
        result = json.loads(out.stdout)
    except (subprocess.SubprocessError, OSError, ValueError) as exc:
        s.missing("benchmarks/middleware.py", f"it failed: {exc}")
        return s
    load = result.get("load", "?")
    for kind in ("asgi", "wsgi"):
        m = result.get(kind)
        if not isinstance(m, dict):
            continue
        server = m.get("server", "?")
        s.add(f"{kind.upper()} bare app ({server})", m["bare_rps"], "req/s", note=f"load: {load}")
        s.add(f"{kind.upper()} with geofence middleware ({server})", m["geofenced_rps"], "req/s",
              ratio=m["ratio"], against="bare app", target=">= 0.9x",
              met=m["ratio"] >= 0.9, note="example policy, embedded data")  # fmt: skip
    return s


def run(sizes: Sizes, only: Sequence[str] = ()) -> list[Section]:
    """Run the chosen sections (all by default), printing progress on stderr."""
    addresses = public_addresses(sizes.addresses)
    out = []
    for name, section in SECTIONS.items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        out.append(section(sizes, addresses))
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    if not only or "issue-4" in only:
        out.append(colleague_middleware(sizes))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", nargs="*", default=(), choices=[*SECTIONS, "issue-4"])
    parser.add_argument("--output", type=Path, default=Path(__file__).parent)
    args = parser.parse_args(argv)
    sizes = Sizes.tiny() if args.tiny else Sizes.full()
    start = time.perf_counter()
    sections = run(sizes, args.only)
    elapsed = time.perf_counter() - start
    args.output.mkdir(parents=True, exist_ok=True)
    scale = next((s for s in sections if s.name == "feed scale"), None)
    if scale is not None and scale.series:
        report.plot(scale, args.output / "feed_scale.png")
    command = "python -m benchmarks" + (" --tiny" if args.tiny else "")
    if args.only:
        command += " --only " + " ".join(args.only)
    text = report.markdown(sections, elapsed=elapsed, command=command)
    # A partial run must not replace the full table: it gets its own file.
    name = "RESULTS-partial.md" if args.only else "RESULTS.md"
    (args.output / name).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
