"""Policy test cases run: each case of a loaded case file decided and compared with its expectation.

The file format and its loading live in geofence/testing/case_files.py (re-exported here, so
``geofence.testing.cases`` stays the one place to import from). A ``facts`` case decides on the
facts given; a ``request`` case runs a real ``Geofence`` over the suite's addresses and data.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from geofence.decision import Decision
from geofence.engine import Geofence
from geofence.errors import PolicyError, PolicyProblem
from geofence.geo import GeoSource
from geofence.policy import CompiledPolicy, Policy, PolicySource, load_policy
from geofence.request import Request
from geofence.testing.asserts import ANY, assert_decision, decide_facts
from geofence.testing.case_files import (
    CASE_SUFFIXES,
    Case,
    CaseSuite,
    error,
    is_case_file,
    load_cases,
)
from geofence.testing.static import StaticGeo

__all__ = [
    "CASE_SUFFIXES",
    "Case",
    "CaseResult",
    "CaseRunner",
    "CaseSuite",
    "is_case_file",
    "load_cases",
    "run_file",
]


class CaseResult(NamedTuple):
    """The outcome of one case: ``message`` says what differed (empty when it passed)."""

    case: Case
    passed: bool
    message: str
    decision: Decision


class CaseRunner:
    """Runs the cases of a suite against a policy (the suite's own unless one is given)."""

    def __init__(self, suite: CaseSuite, policy: PolicySource | None = None) -> None:
        self.suite = suite
        source: PolicySource | None = policy if policy is not None else suite.policy
        if source is None:
            raise error(suite.path, "no policy: name one with 'policy:' or on the command line")
        self.policy: Policy = load_policy(source)
        self._compiled = CompiledPolicy(self.policy)
        self._geofence: Geofence | None = None
        self._check_rule_names()

    def _check_rule_names(self) -> None:
        names = [rule.name for rule in self.policy.rules]
        problems = [
            PolicyProblem(
                f"expects rule {case.expect.rule!r}, but policy {self.policy.name!r} has no such "
                f"rule (rules: {', '.join(names) or 'none'})",
                file=str(self.suite.path),
                path=f"cases[{i}] ({case.name!r}).expect.rule",
            )
            for i, case in enumerate(self.suite.cases)
            if case.expect.rule is not None and case.expect.rule not in names
        ]
        if problems:
            raise PolicyError(problems)

    def run(self, case: Case) -> CaseResult:
        """Decide the case and compare; raises ``GeofenceError`` if the data cannot be set up."""
        decision = self.decide(case)
        expect = case.expect
        try:
            assert_decision(
                decision,
                action=expect.action,
                rule=expect.rule if "rule" in expect.model_fields_set else ANY,
                allowed=expect.allowed,
                status=expect.status,
                reason=expect.reason,
            )
        except AssertionError as exc:
            return CaseResult(case, False, str(exc), decision)
        return CaseResult(case, True, "", decision)

    def decide(self, case: Case) -> Decision:
        """The decision for the case's facts or request."""
        if case.facts is not None:
            return decide_facts(
                self._compiled,
                case.facts.record(),
                ip=case.facts.ip,
                path=case.path,
                method=case.method.upper(),
            )
        assert case.request is not None
        r = case.request
        request = Request(
            ip=r.ip, headers=r.headers, path=r.path, method=r.method, account=r.account
        )
        return self.geofence().evaluate(request)

    def geofence(self) -> Geofence:
        """The ``Geofence`` request cases run through, built on first use."""
        if self._geofence is None:
            sources: list[GeoSource | str] = []
            if self.suite.addresses:
                static = {net: facts.record() for net, facts in self.suite.addresses.items()}
                sources.append(StaticGeo(static, name=self.suite.path.name))
            if self.suite.geo is not None:
                sources.extend(str(p) for p in self.suite.geo)
            else:
                from geofence.embedded import default_geo_paths

                sources.extend(str(p) for p in default_geo_paths())
            self._geofence = Geofence(
                self.policy,
                geo=sources,
                feeds=list(self.suite.feeds) or None,
                trusted_proxies=self.suite.trusted_proxies,
                reload_interval=None,
            )
        return self._geofence

    def close(self) -> None:
        """Close the data files opened for request cases."""
        if self._geofence is not None:
            self._geofence.close()


def run_file(path: str | Path, policy: PolicySource | None = None) -> list[CaseResult]:
    """Load a case file and run every case; raises ``GeofenceError`` on an invalid file."""
    runner = CaseRunner(load_cases(path), policy)
    try:
        return [runner.run(case) for case in runner.suite.cases]
    finally:
        runner.close()
