"""Account signals on ``memory://``: what they add to ``evaluate`` (target: <= 5 us added).

The same requests (accounts, addresses, declared countries, client headers, advancing request
times) go through two ``Geofence``s on the shipped accounts policy: one with the signal stage
on ``memory://``, one without a store on the policy's address rules, alternately in one loop so load
affects both alike. ``python -m benchmarks.signals`` writes its rows into
``benchmarks/RESULTS.md`` between markers; ``python -m benchmarks`` runs it with the rest.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.addresses import public_addresses
from benchmarks.measure import Section, Sizes, ratio
from geofence import Geofence, Request, example_policy_path
from geofence.simulate.runner import address_rules

T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)
HEADERS = (("user-agent", "Anthropic/Python 0.40.0"), ("x-stainless-lang", "python"),
           ("x-stainless-os", "Linux"), ("x-stainless-arch", "x64"))  # fmt: skip
COUNTRIES = ("US", "GB", "DE", "FR", "JP", "CA")


def requests(addresses: Sequence[str], count: int, start: int, given: bool) -> list[Request]:
    """``count`` account requests, 1 s apart from ``start`` s after T0: 1 in 20 accounts
    repeat per address, as a fleet sees them."""
    return [
        Request(
            ip=addresses[i % len(addresses)],
            headers=HEADERS,
            account=f"acct-{i % (count // 3 + 1)}",
            declared_country=COUNTRIES[i % len(COUNTRIES)],
            fingerprint=f"device-{i % 97}" if given else None,
            time=T0 + timedelta(seconds=start + i),
        )
        for i in range(count)
    ]


def _per_request(gf: Geofence, batch: list[Request]) -> float:
    evaluate = gf.evaluate
    begin = time.perf_counter_ns()
    for request in batch:
        evaluate(request)
    return (time.perf_counter_ns() - begin) / len(batch)


def compare(s: Section, addresses: Sequence[str], count: int, repeat: int, given: bool) -> None:
    """One pair of rows: evaluate with signals against without, median of ``repeat`` pairs."""
    policy = example_policy_path("accounts")
    on = Geofence(policy, store="memory://", reload_interval=None)
    off = Geofence(address_rules(policy), store=None, reload_interval=None)
    try:
        warm = requests(addresses, count, 0, given)
        _per_request(on, warm), _per_request(off, warm)  # caches, the policy variants
        with_s, without = [], []
        for r in range(repeat):
            batch = requests(addresses, count, (r + 1) * count, given)
            without.append(_per_request(off, batch))
            with_s.append(_per_request(on, batch))
    finally:
        on.close()
        off.close()
    base, value = statistics.median(without), statistics.median(with_s)
    kind = "application fingerprint" if given else "fingerprint derived from headers"
    s.add(f"evaluate() without signals ({kind})", base, "ns")
    s.add(f"evaluate() with signals on memory:// ({kind})", value, "ns",
          ratio=ratio(value, base), against="without signals", target="<= 5 us added",
          met=value - base <= 5000, note=f"added {(value - base) / 1000:.1f} us per request; "
          f"median of {repeat} alternating pairs of {count} requests")  # fmt: skip


def account_signals(sizes: Sizes, addresses: Sequence[str] = ()) -> Section:
    """The section: signals on and off, with an application fingerprint and a derived one."""
    s = Section("account signals")
    pool = list(addresses) or public_addresses(min(sizes.addresses, 2000))
    count = max(300, sizes.addresses // 4)
    for given in (False, True):
        compare(s, pool[:500], count, sizes.repeat, given)
    return s


START, END = "<!-- signals benchmark: start -->", "<!-- signals benchmark: end -->"


def write_results(section: Section, path: Path, elapsed: float, command: str) -> str:
    """Put this section's table into ``path`` between the markers (appended the first time)."""
    from benchmarks import report

    load = os.getloadavg()[0]
    busy = f"- load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores"
    block = "\n".join([START, "", f"## Account signals (`{command}`, {elapsed:.0f} s)", "",
                       *report.machine(), busy, "", *report.table([section]), "", END])  # fmt: skip
    report.put_block(path, START, END, block)
    return block


def main(argv: Sequence[str] | None = None) -> int:
    tiny = "--tiny" in (argv if argv is not None else sys.argv[1:])
    start = time.perf_counter()
    section = account_signals(Sizes.tiny() if tiny else Sizes.full())
    target = Path(__file__).with_name("RESULTS-partial.md" if tiny else "RESULTS.md")
    command = "python -m benchmarks.signals" + (" --tiny" if tiny else "")
    print(write_results(section, target, time.perf_counter() - start, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
