"""``geofence simulate``: a seeded farm campaign among honest traffic through a real policy.

Prints the figures against the targets (recall within the first 50 requests >= 0.95, at most
0.1% of honest accounts flagged, ROC AUC >= 0.97) and exits 1 when one is missed, so a
changed threshold or weight can be checked from a shell or CI.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from geofence.cli import COMMANDS, EXIT_NOT_ALLOWED, EXIT_OK, Command
from geofence.embedded import example_policy_path
from geofence.simulate import Report, Scenario, generate, report, run
from geofence.simulate.plot import check_plot_path, plot_scores

__all__ = ["TARGETS", "render"]

TARGETS = (("recall_early", ">=", 0.95), ("benign_flagged_share", "<=", 0.001),
           ("auc", ">=", 0.97))  # fmt: skip
"""The issue's targets: (figure, comparison, value)."""


def _add(parser: argparse.ArgumentParser) -> None:
    d = Scenario()
    parser.add_argument("--accounts", type=int, default=d.farm_accounts,
                        help=f"farm accounts (default {d.farm_accounts:,})")  # fmt: skip
    parser.add_argument("--benign", type=int, default=d.benign_accounts,
                        help=f"honest accounts (default {d.benign_accounts:,})")  # fmt: skip
    parser.add_argument("--days", type=float, default=d.days, help="simulated days")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--fingerprints", type=int, default=d.fingerprints,
                        help="relay-normalised client header sets across the farm "
                        "(0: each account its own honest-looking headers)")  # fmt: skip
    parser.add_argument("--burst-join", type=float, default=d.burst_join,
                        help="chance a farm account joins one burst (its pace)")  # fmt: skip
    parser.add_argument("--cloud-share", type=float, default=d.cloud_share)
    parser.add_argument("--mismatch-share", type=float, default=d.mismatch_share)
    parser.add_argument("--proxy-networks", type=int, default=0,
                        help="/24s in the proxy pool (default: farm accounts / 4)")  # fmt: skip
    parser.add_argument("--policy", default=None, help="policy file (default: accounts.yaml)")
    parser.add_argument("--store", default="memory://", help="memory:// or a redis:// URL")
    parser.add_argument("--no-signals", action="store_true",
                        help="address rules alone, no account signals")  # fmt: skip
    parser.add_argument("--plot", metavar="FILE.svg|FILE.png", help="score distributions")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def _value(figure: float | None, unit: str = "") -> str:
    return "-" if figure is None else f"{figure:,.3f}{unit}" if unit != "n" else f"{figure:g}"


def render(r: Report, seconds: float) -> list[str]:
    """The report as lines of text."""
    lines = [
        f"{r.farm_accounts:,} farm and {r.benign_accounts:,} honest accounts, "
        f"{r.requests:,} requests in {seconds:.0f} s",
        f"precision                     {r.precision:.4f}",
        f"recall                        {r.recall:.4f}",
        f"recall within 50 requests     {r.recall_early:.4f}   (target >= 0.95)",
        f"honest accounts flagged       {r.benign_flagged:,} = {r.benign_flagged_share:.4%}"
        "   (target <= 0.1%)",
        f"ROC AUC (per account)         {r.auc:.4f}   (target >= 0.97)",
        f"requests to detection         median {_value(r.detect_median, 'n')}, "
        f"p90 {_value(r.detect_p90, 'n')}; hours median {_value(r.detect_hours_median)}",
        f"farm: first flag by rule      {_counts(r.farm_rules)}",
        f"farm: signals at first flag   {_counts(r.farm_signals)}",
        f"honest flagged by rule        {_counts(r.benign_rules)}",
        f"honest flagged by population  {_counts(r.benign_kinds)}",
        f"honest flagged by both        {_counts(r.benign_kind_rules)}",
        f"honest: signals at first flag {_counts(r.benign_signals)}",
    ]
    missed = [name for name, _, _ in TARGETS if not _met(r, name)]
    lines.append("targets: all met" if not missed else f"targets missed: {', '.join(missed)}")
    return lines


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counts.items()) or "-"


def _met(r: Report, name: str) -> bool:
    (op, target) = next((op, v) for n, op, v in TARGETS if n == name)
    value = float(getattr(r, name))
    return value >= target if op == ">=" else value <= target


def _run(args: argparse.Namespace) -> int:
    if args.plot:
        check_plot_path(args.plot)  # refused before a long run, not after
    scenario = Scenario(
        seed=args.seed, farm_accounts=args.accounts, benign_accounts=args.benign,
        days=args.days, fingerprints=args.fingerprints, cloud_share=args.cloud_share,
        mismatch_share=args.mismatch_share, proxy_networks=args.proxy_networks,
        burst_join=args.burst_join,
    )  # fmt: skip
    start = time.perf_counter()
    sim = generate(scenario)
    policy = args.policy or example_policy_path("accounts")
    total = len(sim.events)

    def progress(done: int) -> None:  # on a terminal only: a long run says how far it is
        print(f"\r{done:,} of {total:,} requests", end="", file=sys.stderr, flush=True)

    live = sys.stderr.isatty()
    store = None if args.no_signals else args.store
    outcomes = run(sim, policy, store=store, progress=progress if live else None)
    if live:
        print(file=sys.stderr)
    result = report(sim.accounts, outcomes)
    if args.plot:
        farm = [o.early_score for a, o in zip(sim.accounts, outcomes, strict=True) if a.farm]
        benign = [o.early_score for a, o in zip(sim.accounts, outcomes, strict=True)
                  if not a.farm and o.requests]  # fmt: skip
        plot_scores(args.plot, farm, benign, result)
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps({**result.to_dict(), "seconds": round(seconds, 1)}, indent=2))
    else:
        print("\n".join(render(result, seconds)))
        if args.plot:
            print(f"plot: {args.plot}")
    sys.stdout.flush()
    return EXIT_OK if all(_met(result, name) for name, _, _ in TARGETS) else EXIT_NOT_ALLOWED


COMMANDS.append(
    Command(
        "simulate",
        "run a seeded account-farm campaign among honest traffic through a policy and print "
        "precision, recall, time to detection, honest accounts flagged and the ROC AUC",
        _add,
        _run,
        example="geofence simulate --accounts 24000 --plot scores.svg",
    )
)
