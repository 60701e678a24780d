"""``geofence audit POLICY`` and ``geofence diff OLD NEW``: what a policy does, and what changes."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from geofence.audit import (
    AuditRow,
    Change,
    Subject,
    audit,
    changed_signal_rules,
    diff,
    signal_rules,
)
from geofence.cli import COMMANDS, EXIT_NOT_ALLOWED, EXIT_OK, Command
from geofence.errors import ConfigurationError
from geofence.policy import Policy, load_policy

__all__: list[str] = []

_SHOWN = 8  # countries listed by name in a table cell before "N countries"
_SIGNAL_NOTE = "signal rules (they decide requests naming an account, not addresses alone)"


def _add_request_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path", default="/", help="request path decided on (default /)")
    parser.add_argument("--method", default="GET", help="request method (default GET)")
    parser.add_argument(
        "--format", choices=("table", "json", "markdown"), default="table", help="output format"
    )


def _add_audit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY")
    _add_request_options(parser)
    parser.add_argument(
        "--map",
        metavar="FILE.svg",
        help="also write a world map coloured by action (countries, and the US states rules name)",
    )


def _add_diff(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD")
    parser.add_argument("new", metavar="NEW")
    _add_request_options(parser)


def _countries(countries: tuple[str, ...], of: int) -> str:
    if of <= 1:  # a country, or a region within its own country
        return ""
    if len(countries) == of:
        return f"all {of} countries"
    if len(countries) <= _SHOWN:
        return " ".join(countries)
    return f"{len(countries)} of {of} countries"


def _subject(s: Subject) -> str:
    return f"AS{s.value}" if s.kind == "asn" else s.value


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in [header, *rows]
    )


def _audit(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: pytest and callers swap sys.stdout
    if args.map and Path(args.map).suffix.lower() != ".svg":
        # Writing SVG bytes under another extension makes a file image viewers refuse.
        raise ConfigurationError(
            f"--map {args.map}: the map is an SVG image; name the file *.svg "
            "(convert it with e.g. 'rsvg-convert -o map.png map.svg' for PNG)"
        )
    policy = load_policy(args.policy)
    rows = audit(policy, path=args.path, method=args.method.upper())
    if args.format == "json":
        out.write(json.dumps(_audit_json(policy, args, rows), indent=1) + "\n")
    else:
        _audit_text(policy, args, rows, out)
    if args.map:
        from geofence.audit_map import world_map_svg

        by_country = {r.subject.value: r.outcome for r in rows if r.subject.kind == "country"}
        # A region is decided within its own country only: one row per named region.
        by_region = {r.subject.value: r.outcome for r in rows if r.subject.kind == "region"}
        note = f"{args.method.upper()} {args.path}"
        svg = world_map_svg(policy, by_country, note, by_region)
        Path(args.map).write_text(svg, encoding="utf-8")
        print(f"geofence: map written to {args.map}", file=sys.stderr)
    return EXIT_OK


def _audit_json(policy: Policy, args: argparse.Namespace, rows: list[AuditRow]) -> Any:
    return {
        "policy": policy.name,
        "policy_revision": policy.revision,
        "path": args.path,
        "method": args.method.upper(),
        "signal_rules": list(signal_rules(policy)),
        "rows": [
            {
                "kind": r.subject.kind,
                "subject": r.subject.value,
                "action": r.outcome.action.value,
                "rule": r.outcome.rule,
                "status": r.outcome.status,
                **({"countries": list(r.countries), "of": r.of} if r.of else {}),
            }
            for r in rows
        ],
    }


def _audit_text(
    policy: Policy, args: argparse.Namespace, rows: list[AuditRow], out: TextIO
) -> None:
    markdown = args.format == "markdown"
    request = f"request {args.method.upper()} {args.path}"
    title = f"policy {policy.name!r} (revision {policy.revision}), {request}"
    out.write(f"# Audit of {title}\n\n" if markdown else f"Audit of {title}\n\n")
    countries = Counter(r.outcome.action.value for r in rows if r.subject.kind == "country")
    total = sum(countries.values())
    out.write(
        f"{total} countries: "
        + ", ".join(f"{n} {a}" for a, n in sorted(countries.items()))
        + "\n\n"
    )
    signal = signal_rules(policy)
    if signal:
        out.write(f"{_SIGNAL_NOTE}: {', '.join(signal)}\n\n")
    header = ["kind", "subject", "action", "rule", "status", "with countries"]
    table = [
        [
            r.subject.kind,
            _subject(r.subject),
            r.outcome.action.value,
            r.outcome.rule or "(no rule)",
            str(r.outcome.status),
            _countries(r.countries, r.of),
        ]
        for r in rows
    ]
    out.write(_table(header, table, markdown))


def _diff(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: pytest and callers swap sys.stdout
    old, new = load_policy(args.old), load_policy(args.new)
    changes = diff(old, new, path=args.path, method=args.method.upper())
    signal = changed_signal_rules(old, new)
    unseen = old.mode != new.mode or bool(signal)  # changes the subjects do not show
    if args.format == "json":
        data = _diff_json(old.revision, new.revision, old, new, changes)
        out.write(json.dumps({**data, "changed_signal_rules": list(signal)}, indent=1))
        out.write("\n")
    else:
        _diff_text(args, old.revision, new.revision, changes, out)
        if old.mode != new.mode:
            out.write(f"\nmode: {old.mode.value} -> {new.mode.value}\n")
        if signal:
            out.write(f"\nchanged {_SIGNAL_NOTE}: {', '.join(signal)}\n")
    return EXIT_NOT_ALLOWED if changes or unseen else EXIT_OK


def _diff_json(old_rev: str, new_rev: str, old: Any, new: Any, changes: list[Change]) -> Any:
    return {
        "old": {"policy": old.name, "revision": old_rev, "mode": old.mode.value},
        "new": {"policy": new.name, "revision": new_rev, "mode": new.mode.value},
        "changes": [
            {
                "kind": c.subject.kind,
                "subject": c.subject.value,
                "old": {"action": c.old.action.value, "rule": c.old.rule, "status": c.old.status},
                "new": {"action": c.new.action.value, "rule": c.new.rule, "status": c.new.status},
                **({"countries": list(c.countries), "of": c.of} if c.of else {}),
            }
            for c in changes
        ],
    }


def _diff_text(
    args: argparse.Namespace, old_rev: str, new_rev: str, changes: list[Change], out: TextIO
) -> None:
    markdown = args.format == "markdown"
    out.write(
        f"{'# ' if markdown else ''}Changes from {args.old} ({old_rev}) to {args.new} ({new_rev})"
        f"\n\n"
    )
    if not changes:
        out.write("no decision changes\n")
        return
    newly = Counter(
        (c.old.action.value, c.new.action.value) for c in changes if c.subject.kind == "country"
    )
    if newly:
        out.write(
            "countries: "
            + ", ".join(f"{n} {a} -> {b}" for (a, b), n in sorted(newly.items()))
            + "\n\n"
        )
    header = ["kind", "subject", "old", "new", "with countries"]
    rows = [
        [
            c.subject.kind,
            _subject(c.subject),
            f"{c.old} {c.old.status}",
            f"{c.new} {c.new.status}",
            _countries(c.countries, c.of),
        ]
        for c in changes
    ]
    out.write(_table(header, rows, markdown))


COMMANDS.extend(
    [
        Command(
            "audit",
            "the decision for every country, and each region, tag and network a policy names",
            _add_audit,
            _audit,
            "geofence audit examples/policy.yaml --path /v1/messages --map policy-map.svg",
        ),
        Command(
            "diff",
            "every country, region, tag or network whose decision changes (exit 1 if any)",
            _add_diff,
            _diff,
            "geofence diff old-policy.yaml examples/policy.yaml --format markdown",
        ),
    ]
)
