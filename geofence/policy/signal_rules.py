"""Deciding with account signals: the policy as it stands once the signal tests are known.

A rule with a ``signals:`` condition matches when its signal tests hold *and* its other keys
match, first matching rule winning as always. The signal tests depend on the request's
assessment alone, so they are settled first: the rules whose tests hold join the address rules
in their places, the others drop out, and that policy is compiled once (per set of rules that
hold, memoised; a policy has few signal rules) and decides as any policy does, index and
tables included. The reasons of a matched signal rule say each comparison with its value.
"""

from __future__ import annotations

import threading

from geofence.facts import FactsRow
from geofence.policy.compile import CompiledPolicy
from geofence.policy.models import Policy
from geofence.policy.signal_tests import SignalTest
from geofence.vocab.actions import Verdict
from geofence.vocab.signals import Assessment

__all__ = ["SignalRules"]

_VARIANTS_KEPT = 256  # bounds memory when a policy has many signal rules: 2^k sets could hold


class SignalRules:
    """Decides a request with an assessment: see the module docstring."""

    def __init__(self, policy: Policy, base: CompiledPolicy) -> None:
        self._policy = policy
        self._tests: tuple[tuple[str, tuple[SignalTest, ...]], ...] = tuple(
            (rule.name, rule.signals) for rule in policy.rules if rule.signals
        )
        self._variants: dict[frozenset[str], CompiledPolicy] = {frozenset(): base}
        self._lock = threading.Lock()

    @property
    def any(self) -> bool:
        """Whether the policy has signal rules at all."""
        return bool(self._tests)

    def decide(self, row: FactsRow, path: str, method: str, assessment: Assessment) -> Verdict:
        """The verdict for the facts ``row`` and the request's ``assessment``."""
        holding = frozenset(
            name for name, tests in self._tests if all(t.holds(assessment) for t in tests)
        )
        compiled = self._variants.get(holding)
        if compiled is None:
            compiled = self._compile(holding)
        verdict = compiled.decide(row, path, method)
        if verdict.rule is not None and verdict.rule in holding:
            tests = dict(self._tests)[verdict.rule]
            why = tuple(test.describe(assessment) for test in tests)
            verdict = verdict._replace(reasons=(*verdict.reasons, *why))
        return verdict

    def _compile(self, holding: frozenset[str]) -> CompiledPolicy:
        compiled = CompiledPolicy(self._policy, holding)
        with self._lock:
            if len(self._variants) >= _VARIANTS_KEPT:
                self._variants = {frozenset(): self._variants[frozenset()]}
            self._variants[holding] = compiled
        return compiled
