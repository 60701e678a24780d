"""``geofence validate``: policy files checked on their own, and against data when given some.

Errors come as text or, with ``--json``, as a list of ``{file, rule, field, message,
suggestion}`` objects per file; with ``--geo``/``--feeds`` the policy is also built into the
``Geofence`` it would run in, and rules that data cannot decide are reported as warnings.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TextIO

from geofence.cli import COMMANDS, EXIT_ERROR, EXIT_NOT_ALLOWED, EXIT_OK, Command
from geofence.cli.core import add_data_options
from geofence.engine import Geofence
from geofence.errors import GeofenceError, PolicyError
from geofence.policy import load_policy

__all__ = ["problem_records"]


def _add_validate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE")
    add_data_options(parser)  # with --geo/--feeds/--feed: checked against that data as well


def _validate(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: pytest and callers swap sys.stdout
    status = EXIT_OK
    against_data = bool(args.geo or args.feeds)
    for path in args.files:
        try:
            policy = load_policy(path)
            findings = _data_findings(path, args) if against_data else []
        except GeofenceError as exc:
            status = EXIT_ERROR
            if args.json:
                record = {"file": path, "valid": False, "errors": problem_records(exc, path)}
                out.write(json.dumps(record) + "\n")
            else:
                print(f"{path}: INVALID\n{exc}", file=out)
            continue
        if findings and status == EXIT_OK:
            status = EXIT_NOT_ALLOWED
        if args.json:
            record = {"file": path, "valid": True, "revision": policy.revision}
            out.write(json.dumps({**record, "warnings": findings}) + "\n")
            continue
        print(
            f"{path}: OK (policy {policy.name!r}, {len(policy.rules)} rules, "
            f"revision {policy.revision})" + (f", {len(findings)} warnings" if findings else ""),
            file=out,
        )
        for finding in findings:
            where = f"{finding['field']}: " if finding["field"] else ""
            print(f"  warning: {where}{finding['message']}", file=out)
    return status


def _data_findings(path: str, args: argparse.Namespace) -> list[dict[str, object]]:
    """Build the Geofence the policy would run in (refusals raise) and run the data checks."""
    from geofence.data_checks import check_against_data

    with Geofence(path, geo=args.geo, feeds=args.feeds, reload_interval=None) as gf:
        found = check_against_data(gf)
    return problem_records(PolicyError(found), path) if found else []


_PROBLEM_KEYS = ("file", "rule", "field", "message", "suggestion")
_SUGGESTION = re.compile(r"did you mean (.+?)\?")


def problem_records(exc: GeofenceError, path: str) -> list[dict[str, object]]:
    """Each problem as ``{file, rule, field, message, suggestion}``, for ``--json`` output."""
    problems = exc.problems if isinstance(exc, PolicyError) else ()
    if not problems:
        return [
            {"file": path, "rule": None, "field": None, "message": str(exc), "suggestion": None}
        ]
    records: list[dict[str, object]] = []
    for p in problems:
        hint = _SUGGESTION.search(p.message)
        records.append(
            {
                "file": p.file or path,
                "rule": p.rule,
                "field": p.path or None,
                "message": p.message,
                "suggestion": hint.group(1).strip("'\"") if hint else None,
            }
        )
    return records


COMMANDS.append(
    Command(
        "validate",
        "validate policy files",
        _add_validate,
        _validate,
        "geofence validate --json examples/policy.yaml",
    )
)
