"""A policy compiled once into plain closures, dicts and int intervals for the request path."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from geofence.facts import Facts
from geofence.policy.conditions import Check, compile_checks, condition_needs
from geofence.policy.models import REQUEST_CONDITIONS, Action, Policy, Rule

__all__ = ["DEFAULT_STATUS", "CompiledPolicy", "Verdict", "evaluate"]

DEFAULT_STATUS: Mapping[Action, int] = MappingProxyType(
    {Action.DENY: 451, Action.CHALLENGE: 403, Action.ALLOW: 200}
)
"""The HTTP status of an action when its rule names none."""

_CACHE_LIMIT = 4096  # bounds the verdicts memoised per rule (one per distinct reason tuple)


class Verdict(NamedTuple):
    """The outcome of a policy for one request (a tuple: built or reused per request)."""

    action: Action
    """What to do."""
    rule: str | None
    """Name of the matched rule, or ``None`` when the default or unknown action applied."""
    reasons: tuple[str, ...]
    """Short sentences saying why."""
    status: int
    """HTTP status to send when the action is not allow."""


# A rule matcher returns its verdict, None (no match), or a str: the rule matched but its
# ``unless`` excepted the request, and this is why.
_Matcher = Callable[[Facts, str, str], "Verdict | str | None"]


class _CompiledRule(NamedTuple):
    reads_address: bool
    match: _Matcher


def _rule_matcher(rule: Rule, checks: tuple[Check, ...], unless: tuple[Check, ...]) -> _Matcher:
    action, name = rule.action, rule.name
    status = rule.status if rule.status is not None else DEFAULT_STATUS[action]
    verdicts: dict[tuple[str, ...], Verdict] = {}
    excepted: dict[str, str] = {}

    def verdict(reasons: tuple[str, ...]) -> Verdict:
        found = verdicts.get(reasons)
        if found is None:
            found = Verdict(action, name, reasons, status)
            if len(verdicts) < _CACHE_LIMIT:
                verdicts[reasons] = found
        return found

    def match(facts: Facts, path: str, method: str) -> Verdict | str | None:
        reasons = []
        for check in checks:
            reason = check(facts, path, method)
            if reason is None:
                return None
            reasons.append(reason)
        for check in unless:
            reason = check(facts, path, method)
            if reason is not None:
                found = excepted.get(reason)
                if found is None:
                    found = excepted[reason] = f"rule {name!r} excepted: {reason}"
                return found
        return verdict(tuple(reasons))

    if len(checks) != 1 or unless:
        return match
    (only,) = checks

    # The common shape, one condition and no exceptions, skips the list and tuple building.
    def match_one(facts: Facts, path: str, method: str) -> Verdict | str | None:
        reason = only(facts, path, method)
        if reason is None:
            return None
        found = verdicts.get((reason,))
        return found if found is not None else verdict((reason,))

    return match_one


class CompiledPolicy:
    """A ``Policy`` compiled for fast, pure decisions.

    >>> from geofence.policy import load_policy
    >>> rule = {"name": "cu", "action": "deny", "countries": ["CU"]}
    >>> compiled = CompiledPolicy(load_policy({"name": "p", "rules": [rule]}))
    >>> compiled.decide(Facts(None), "/", "GET").reasons
    ("no rule matched; client address unknown -> unknown action 'deny'",)
    """

    __slots__ = (
        "_country_unknown",
        "_default",
        "_rules",
        "_unknown_address",
        "_unknown_country",
        "needs",
        "needs_by_rule",
        "policy",
        "request_dependent",
        "tags",
    )

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        """The source policy."""
        compiled: list[_CompiledRule] = []
        needs_by_rule: dict[str, frozenset[str]] = {}
        tags: set[str] = set()
        request_dependent = False
        for rule in policy.rules:
            blocks = (rule,) if rule.unless is None else (rule, rule.unless)
            checks = compile_checks(rule, rule.name, policy.country_match)
            unless: tuple[Check, ...] = ()
            if rule.unless is not None:
                unless = compile_checks(rule.unless, rule.name, policy.country_match, "unless.")
            used = {field for block in blocks for field in block.used}
            needs_by_rule[rule.name] = frozenset().union(
                *(condition_needs(b, policy.country_match) for b in blocks)
            )
            tags.update(t for block in blocks for t in block.tags)
            request_dependent = request_dependent or bool(used & set(REQUEST_CONDITIONS))
            reads_address = bool(used - set(REQUEST_CONDITIONS))
            compiled.append(_CompiledRule(reads_address, _rule_matcher(rule, checks, unless)))
        self._rules = tuple(compiled)
        self.needs_by_rule: Mapping[str, frozenset[str]] = MappingProxyType(needs_by_rule)
        """Fact kinds each rule reads, by rule name."""
        self.needs: frozenset[str] = frozenset().union(*needs_by_rule.values())
        """Fact kinds (``country``, ``regions``, ...) any condition reads."""
        self.tags: frozenset[str] = frozenset(tags)
        """Every tag named by a rule, so the engine can check something can set it."""
        self.request_dependent: bool = request_dependent
        """True when a rule reads the path or method (so the decision is not per address)."""
        self._build_fallbacks(policy)

    def _build_fallbacks(self, policy: Policy) -> None:
        def fallback(action: Action, why: str) -> Verdict:
            return Verdict(action, None, (why,), DEFAULT_STATUS[action])

        unknown, default = policy.unknown, policy.default
        which = {
            "location": "country",
            "registered": "registered country",
            "either": "country and registered country",
        }[policy.country_match]
        self._unknown_address = fallback(
            unknown, f"no rule matched; client address unknown -> unknown action {unknown.value!r}"
        )
        self._unknown_country = fallback(
            unknown, f"no rule matched; {which} unknown -> unknown action {unknown.value!r}"
        )
        self._default = fallback(default, f"no rule matched -> default action {default.value!r}")
        self._country_unknown: Callable[[Facts], bool] = {
            "location": lambda f: f.country is None,
            "registered": lambda f: f.registered_country is None,
            "either": lambda f: f.country is None and f.registered_country is None,
        }[policy.country_match]

    def rule_needs(self, rule: str) -> frozenset[str]:
        """Fact kinds the rule named ``rule`` reads; raises ``KeyError`` for an unknown name."""
        return self.needs_by_rule[rule]

    def rules_needing(self, kind: str) -> tuple[str, ...]:
        """Names of the rules that read the fact kind ``kind``, in policy order."""
        return tuple(name for name, needs in self.needs_by_rule.items() if kind in needs)

    def decide(self, facts: Facts, path: str = "/", method: str = "GET") -> Verdict:
        """The verdict for a request: first matching rule wins, else unknown or default."""
        no_address = facts.address is None
        excepted: list[str] | None = None
        for reads_address, match in self._rules:
            if no_address and reads_address:
                continue
            found = match(facts, path, method)
            if found is None:
                continue
            if isinstance(found, str):
                excepted = [*(excepted or ()), found]
                continue
            return found if excepted is None else _with(found, excepted)
        if no_address:
            fallback = self._unknown_address
        elif self._country_unknown(facts):
            fallback = self._unknown_country
        else:
            fallback = self._default
        return fallback if excepted is None else _with(fallback, excepted)


def _with(verdict: Verdict, excepted: list[str]) -> Verdict:
    return verdict._replace(reasons=(*excepted, *verdict.reasons))


def evaluate(
    compiled: CompiledPolicy, facts: Facts, path: str = "/", method: str = "GET"
) -> Verdict:
    """Pure function form of ``CompiledPolicy.decide``."""
    return compiled.decide(facts, path, method)
