"""``geofence replay POLICY LOGFILE``: what a policy would block in real traffic.

With account fields in a JSON-lines log, the account signals see the log's own times; the text
report ends with the accounts the policy's signal rules flagged, and ``--json`` lists each
decision on a request naming an account (signals, score, flags) as it is made, so a log of any
size streams out in constant memory.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
import zlib
from collections import Counter
from typing import TextIO

from geofence.cli import COMMANDS, EXIT_OK, Command
from geofence.cli.feeds import add_feeds_option
from geofence.decision import Decision
from geofence.engine import Geofence
from geofence.errors import ConfigurationError
from geofence.replay import ReplayReport, replay
from geofence.request import Request

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
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        dest="trusted_proxies",
        metavar="CIDR|GROUP",
        help="the balancer(s) the log's peer addresses belong to: their X-Forwarded-For "
        "(logged after the user agent, or a JSON x_forwarded_for key) is believed (repeatable)",
    )
    parser.add_argument(
        "--store",
        default="memory://",
        metavar="URL",
        help="where account signals are counted (default memory://; a redis:// URL records "
        "the replay into that store, so use a database of its own)",
    )
    add_feeds_option(parser)
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


def open_log(path: str) -> tuple[TextIO, int]:
    """The log as text lines (gunzipped when it starts with the gzip magic) and its size on
    disk; a ``ConfigurationError`` naming the file when it cannot be read."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as raw:
            magic = raw.read(2)
        if magic == b"\x1f\x8b":
            return gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape"), size
        return open(path, encoding="utf-8", errors="surrogateescape"), size
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None


def _replay(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: pytest and callers swap sys.stdout
    log, size = open_log(args.logfile)
    show = args.progress or (not args.no_progress and sys.stderr.isatty())
    bar = ProgressBar(sys.stderr, size) if show else None
    options = {"trusted_proxies": args.trusted_proxies or (), "feeds": args.feeds}
    stream = _DecisionStream(out) if args.json else None
    with (
        log,
        Geofence(
            args.policy, geo=args.geo, reload_interval=None, store=args.store, **options
        ) as gf,
    ):
        try:
            report = replay(gf, log, address_field=args.field, progress=bar, on_decision=stream)
        except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz
            raise ConfigurationError(f"cannot read {args.logfile}: {exc}") from None
        policy = gf.policy
    if bar is not None:
        bar.close()
    if report.lines and not report.requests:
        raise ConfigurationError(
            f"{args.logfile}: none of its {report.lines:,} lines is a combined-format or JSON "
            "access log line (for JSON, name the address key with --field)"
        )
    if stream is not None:
        data = {"policy": policy.name, "policy_revision": policy.revision, **report.to_dict()}
        stream.finish(data)
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
    for name, n in report.bad_fields.most_common():
        out.write(f"{n:,} lines had an unreadable {name} (replayed without it)\n")
    for title, counts in (
        ("blocked by rule", report.blocked_rules),
        ("blocked by country", report.blocked_countries),
        ("blocked by tag", report.blocked_tags),
        ("all requests by rule", report.rules),
    ):
        out.write(f"\n{title}:\n")
        _counts(counts, out)
    if report.accounts.named:
        out.write("\naccounts:\n  " + "\n".join(report.accounts.lines(_TOP)) + "\n")


class _DecisionStream:
    """``--json``: one JSON document whose ``decisions`` list is written as decisions come."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.count = out, 0

    def __call__(self, line: int, request: Request, decision: Decision) -> None:
        self.out.write('{"decisions": [\n' if self.count == 0 else ",\n")
        self.count += 1
        when = request.time
        record = {
            "line": line,
            "ip": decision.ip,
            "account": request.account,
            "time": None if when is None else when.isoformat(),
            "action": decision.action.value,
            "rule": decision.rule,
            "score": decision.score,
            "signals": {name: s.to_dict() for name, s in decision.signals.items()},
            "flags": list(decision.flags),
        }
        self.out.write(json.dumps(record, separators=(",", ":")))

    def finish(self, summary: dict[str, object]) -> None:
        rest = json.dumps(summary, indent=1)
        if self.count == 0:
            self.out.write('{"decisions": [],\n' + rest[1:].lstrip("\n") + "\n")
        else:
            self.out.write("\n],\n" + rest[1:].lstrip("\n") + "\n")


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
        "geofence replay examples/policy.yaml access.log.gz --trusted-proxy private --feeds",
    )
)
