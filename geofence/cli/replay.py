"""``geofence replay POLICY LOGFILE``: what a policy would block in real traffic."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from typing import TextIO

from geofence.cli import COMMANDS, EXIT_OK, Command
from geofence.engine import Geofence
from geofence.errors import ConfigurationError
from geofence.replay import ReplayReport, replay

__all__: list[str] = []

_TOP = 15


def _add_replay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY")
    parser.add_argument("logfile", metavar="LOGFILE", help="combined-format or JSON-lines log")
    parser.add_argument("--field", help="JSON key holding the client address (default: guessed)")
    parser.add_argument(
        "--geo", action="append", metavar="MMDB", help="a .mmdb database (repeat to compose)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    bar = parser.add_mutually_exclusive_group()
    bar.add_argument("--progress", action="store_true", help="progress bar even if not a tty")
    bar.add_argument("--no-progress", action="store_true", help="no progress bar")


class ProgressBar:
    """A progress bar on a stream, by bytes read of a known total, redrawn at most 10x/s."""

    def __init__(self, stream: TextIO, total: int, width: int = 30) -> None:
        self.stream, self.total, self.width = stream, max(total, 1), width
        self.done = self.lines = 0
        self._next = 0.0

    def __call__(self, size: int) -> None:
        self.done += size
        self.lines += 1
        now = time.monotonic()
        if now >= self._next:
            self._next = now + 0.1
            self._draw()

    def _draw(self) -> None:
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {share:4.0%} {self.lines:,} lines")
        self.stream.flush()

    def close(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()


def _replay(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        size = os.path.getsize(args.logfile)
        log = open(args.logfile, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    except OSError as exc:
        raise ConfigurationError(f"cannot read {args.logfile}: {exc.strerror}") from None
    show = args.progress or (not args.no_progress and sys.stderr.isatty())
    bar = ProgressBar(sys.stderr, size) if show else None
    with log, Geofence(args.policy, geo=args.geo, reload_interval=None) as gf:
        report = replay(gf, log, address_field=args.field, progress=bar)
        policy = gf.policy
    if bar is not None:
        bar.close()
    if args.json:
        data = {"policy": policy.name, "policy_revision": policy.revision, **report.to_dict()}
        out.write(json.dumps(data, indent=1) + "\n")
    else:
        _print(report, f"{policy.name!r} (revision {policy.revision}, {policy.mode.value})", out)
    return EXIT_OK


def _print(report: ReplayReport, policy: str, out: TextIO) -> None:
    share = report.blocked / report.requests if report.requests else 0.0
    out.write(
        f"Replay of {report.requests:,} requests ({report.lines:,} lines, {report.unparsed:,} "
        f"not understood) through policy {policy}\n"
        f"would block {report.blocked:,} ({share:.1%}); "
        + ", ".join(f"{a} {n:,}" for a, n in report.actions.most_common())
        + "\n"
    )
    if report.no_address:
        out.write(f"{report.no_address:,} requests had no valid client address\n")
    for title, counts in (
        ("blocked by rule", report.blocked_rules),
        ("blocked by country", report.blocked_countries),
        ("blocked by tag", report.blocked_tags),
        ("all requests by rule", report.rules),
    ):
        out.write(f"\n{title}:\n")
        _counts(counts, out)


def _counts(counts: Counter[str], out: TextIO) -> None:
    if not counts:
        out.write("  (none)\n")
        return
    total = sum(counts.values())
    for key, n in counts.most_common(_TOP):
        out.write(f"  {key:<24} {n:>8,}  {n / total:6.1%}\n")
    if len(counts) > _TOP:
        out.write(f"  ... and {len(counts) - _TOP} more\n")


COMMANDS.append(
    Command(
        "replay",
        "evaluate a policy against an access log: what it would block",
        _add_replay,
        _replay,
    )
)
