"""``geofence test POLICY CASES...``: run case files against a policy, PASS/FAIL per case."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from geofence.cli import COMMANDS, EXIT_ERROR, EXIT_NOT_ALLOWED, EXIT_OK, Command
from geofence.errors import GeofenceError
from geofence.policy import load_policy
from geofence.testing.cases import CaseRunner, load_cases

__all__: list[str] = []


def _add_test(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", help="the policy file under test")
    parser.add_argument(
        "cases", nargs="+", metavar="CASES", help="*.geofence.yaml / *.geofence.toml case files"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print failures only")


def _test(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    policy = load_policy(args.policy)  # an invalid policy is exit 2 before any case runs
    passed = failed = invalid = 0
    for path in args.cases:
        try:
            runner = CaseRunner(load_cases(path), policy)
        except GeofenceError as exc:
            invalid += 1
            print(f"ERROR {path}: invalid case file\n{_indent(str(exc))}", file=out)
            continue
        try:
            for case in runner.suite.cases:
                try:
                    result = runner.run(case)
                except GeofenceError as exc:
                    invalid += 1
                    print(f"ERROR {path}: {case.name}\n{_indent(str(exc))}", file=out)
                    continue
                if result.passed:
                    passed += 1
                    if not args.quiet:
                        print(f"PASS  {path}: {case.name}", file=out)
                else:
                    failed += 1
                    print(f"FAIL  {path}: {case.name}\n{_indent(result.message)}", file=out)
        finally:
            runner.close()
    summary = f"{passed} passed, {failed} failed"
    if invalid:
        summary += f", {invalid} errors"
    print(f"{summary} (policy {policy.name!r}, revision {policy.revision})", file=out)
    if invalid:
        return EXIT_ERROR
    return EXIT_NOT_ALLOWED if failed else EXIT_OK


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


COMMANDS.append(
    Command("test", "run *.geofence.yaml/.toml test cases against a policy", _add_test, _test)
)
