"""``geofence test POLICY CASES...``: run case files against a policy, PASS/FAIL per case."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from geofence.cli import COMMANDS, EXIT_ERROR, EXIT_NOT_ALLOWED, EXIT_OK, Command
from geofence.errors import ConfigurationError, GeofenceError
from geofence.policy import load_policy
from geofence.testing.cases import CaseRunner, is_case_file, load_cases

__all__: list[str] = []


def _add_test(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="[POLICY] CASES",
        help="the policy under test (optional: each case file's own 'policy:' key is used "
        "without it), then *.geofence.yaml / *.geofence.toml case files",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print failures only")


def _test(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: pytest and callers swap sys.stdout
    files = list(args.files)
    # An invalid policy is exit 2 before any case runs; without one, each file names its own.
    policy = None if is_case_file(files[0]) else load_policy(files.pop(0))
    if not files:
        raise ConfigurationError("no case files given (*.geofence.yaml / *.geofence.toml)")
    passed = failed = invalid = 0
    policies: dict[str, str] = {}
    for path in files:
        try:
            runner = CaseRunner(load_cases(path), policy)
        except GeofenceError as exc:
            invalid += 1
            print(f"ERROR {path}: invalid case file\n{_indent(str(exc))}", file=out)
            continue
        policies[runner.policy.name] = runner.policy.revision
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
    shown = ", ".join(f"policy {name!r}, revision {rev}" for name, rev in policies.items())
    print(f"{summary} ({shown or 'no policy loaded'})", file=out)
    if invalid:
        return EXIT_ERROR
    return EXIT_NOT_ALLOWED if failed else EXIT_OK


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


COMMANDS.append(
    Command(
        "test",
        "run *.geofence.yaml/.toml test cases against a policy",
        _add_test,
        _test,
        "geofence test examples/policy.geofence.yaml   # the policy its 'policy:' key names",
    )
)
