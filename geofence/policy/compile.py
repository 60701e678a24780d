"""A policy compiled once into plain closures, dicts and int intervals for the request path."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from geofence.facts import Facts, FactsRow
from geofence.policy.conditions import (
    Check,
    compile_checks,
    compile_verdict_check,
    condition_needs,
    single_value_table,
)
from geofence.policy.index import RuleIndex
from geofence.policy.models import REQUEST_CONDITIONS, CountryMatch, Policy, Rule
from geofence.vocab.actions import DEFAULT_STATUS, Action, Verdict

__all__ = ["DEFAULT_STATUS", "CompiledPolicy", "Verdict", "evaluate"]

_INDEX_FROM = 8  # matchers (after merging shared-table rules) above which RuleIndex is used
_CACHE_LIMIT = 4096  # bounds the verdicts memoised per rule (one per distinct reason tuple)
_COUNTRY, _REGISTERED = Facts._fields.index("country"), Facts._fields.index("registered_country")


# A rule matcher returns its verdict, None (no match), or a str: the rule matched but its
# ``unless`` excepted the request, and this is why.
_Matcher = Callable[[FactsRow, str, str], "Verdict | str | None"]


class _CompiledRule(NamedTuple):
    reads_address: bool
    match: _Matcher


def _status(rule: Rule) -> int:
    return rule.status if rule.status is not None else DEFAULT_STATUS[rule.action]


def _table_matcher(position: int, verdicts: dict[object, Verdict]) -> _Matcher:
    get = verdicts.get

    def match_value(facts: FactsRow, path: str, method: str) -> Verdict | None:
        return get(facts[position])

    return match_value


def _matcher(rule: Rule, country_match: CountryMatch) -> _Matcher:
    if rule.unless is None and len(rule.used) == 1:
        # The common shape, one condition and no exception: the check answers the verdict.
        action, name, status = rule.action, rule.name, _status(rule)
        return compile_verdict_check(
            rule, name, country_match, lambda reason: Verdict(action, name, (reason,), status)
        )
    checks = compile_checks(rule, rule.name, country_match)
    unless: tuple[Check, ...] = ()
    if rule.unless is not None:
        unless = compile_checks(rule.unless, rule.name, country_match, "unless.")
    return _rule_matcher(rule, checks, unless)


def _rule_matcher(rule: Rule, checks: tuple[Check, ...], unless: tuple[Check, ...]) -> _Matcher:
    action, name = rule.action, rule.name
    status = _status(rule)
    verdicts: dict[tuple[str, ...], Verdict] = {}
    excepted: dict[str, str] = {}

    def verdict(reasons: tuple[str, ...]) -> Verdict:
        found = verdicts.get(reasons)
        if found is None:
            found = Verdict(action, name, reasons, status)
            if len(verdicts) < _CACHE_LIMIT:
                verdicts[reasons] = found
        return found

    def match(facts: FactsRow, path: str, method: str) -> Verdict | str | None:
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

    return match


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
        "_each_rule",
        "_index",
        "_plain",
        "_rules",
        "_unknown_address",
        "_unknown_country",
        "_verdict_index",
        "_verdict_list",
        "_verdict_lock",
        "needs",
        "needs_by_rule",
        "number_of_id",
        "policy",
        "request_dependent",
        "tags",
        "verdicts",
    )

    def __init__(self, policy: Policy, signal_rules: frozenset[str] = frozenset()) -> None:
        # Rules with a signals: condition take part only when named in ``signal_rules`` (the
        # ones whose signal tests hold, see signal_rules.py): by default, the address-only
        # policy a request without an account meets.
        self.policy = policy
        """The source policy."""
        active = tuple(r for r in policy.rules if not r.signals or r.name in signal_rules)
        compiled: list[_CompiledRule] = []
        needs_by_rule: dict[str, frozenset[str]] = {}
        tags: set[str] = set()
        request_dependent = False
        run: tuple[int, dict[object, Verdict]] | None = None  # the shared-table rules so far
        each_rule: list[_Matcher] = []  # one matcher per rule, for the index
        for rule in policy.rules:
            blocks = (rule,) if rule.unless is None else (rule, rule.unless)
            needs_by_rule[rule.name] = frozenset().union(
                *(condition_needs(b, policy.country_match) for b in blocks)
            )
            tags.update(t for block in blocks for t in block.tags)
        for rule in active:
            blocks = (rule,) if rule.unless is None else (rule, rule.unless)
            used = {field for block in blocks for field in block.used}
            request_dependent = request_dependent or bool(used & set(REQUEST_CONDITIONS))
            reads_address = bool(used - set(REQUEST_CONDITIONS))
            plain_rule = rule.unless is None
            single = (
                single_value_table(rule, rule.name, policy.country_match) if plain_rule else None
            )
            if single is None:
                run = None
                matcher = _matcher(rule, policy.country_match)
                each_rule.append(matcher)
                compiled.append(_CompiledRule(reads_address, matcher))
                continue
            # One fact's value decides: consecutive such rules on the same fact share one dict
            # (the first rule listing a value keeps it, as first-match-wins would).
            position, reasons = single
            verdicts = {
                value: Verdict(rule.action, rule.name, (reason,), _status(rule))
                for value, reason in reasons.items()
            }
            each_rule.append(_table_matcher(position, verdicts))
            if run is not None and run[0] == position:
                for value, found in verdicts.items():
                    run[1].setdefault(value, found)
                continue
            run = (position, dict(verdicts))
            compiled.append(_CompiledRule(True, _table_matcher(position, run[1])))
        self._rules = tuple(compiled)
        plain = not any(rule.unless for rule in active)
        self._plain: tuple[_Matcher, ...] | None = tuple(m for _, m in compiled) if plain else None
        # Past a few rules, finding the candidates by lookup beats trying each in turn.
        self._each_rule = tuple(each_rule)
        self._index = (
            RuleIndex(active, policy.country_match)
            if plain and len(compiled) > _INDEX_FROM
            else None
        )
        self.needs_by_rule: Mapping[str, frozenset[str]] = MappingProxyType(needs_by_rule)
        """Fact kinds each rule reads, by rule name."""
        self.needs: frozenset[str] = frozenset().union(*needs_by_rule.values())
        """Fact kinds (``country``, ``regions``, ...) any condition reads."""
        self.tags: frozenset[str] = frozenset(tags)
        """Every tag named by a rule, so the engine can check something can set it."""
        self.request_dependent: bool = request_dependent
        """True when a rule reads the path or method (so the decision is not per address)."""
        self._build_fallbacks(policy)
        self._verdict_list: list[Verdict] = []
        self.verdicts: Sequence[Verdict] = self._verdict_list
        """Every verdict ``verdict_number`` has numbered, at its number (grows, never shrinks)."""
        self._verdict_index: dict[int, int] = {}
        self.number_of_id: Callable[[int], int | None] = self._verdict_index.get
        """``id(verdict)`` -> its number when it has one: ``verdict_number`` without a frame,
        for the request path (which calls ``verdict_number`` when this gives ``None``)."""
        self._verdict_lock = threading.Lock()

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
        country, registered = _COUNTRY, _REGISTERED
        self._country_unknown: Callable[[FactsRow], bool] = {
            "location": lambda f: f[country] is None,
            "registered": lambda f: f[registered] is None,
            "either": lambda f: f[country] is None and f[registered] is None,
        }[policy.country_match]

    def rule_needs(self, rule: str) -> frozenset[str]:
        """Fact kinds the rule named ``rule`` reads; raises ``KeyError`` for an unknown name."""
        return self.needs_by_rule[rule]

    def rules_needing(self, kind: str) -> tuple[str, ...]:
        """Names of the rules that read the fact kind ``kind``, in policy order."""
        return tuple(name for name, needs in self.needs_by_rule.items() if kind in needs)

    def decide(self, facts: FactsRow, path: str = "/", method: str = "GET") -> Verdict:
        """The verdict for a request: first matching rule wins, else unknown or default.

        ``facts`` is a ``Facts`` or the engine's ``FactsRow`` (the same positions).
        """
        no_address = facts[0] is None
        if self._index is not None and not no_address:
            each_rule = self._each_rule
            for number in self._index.candidates(facts):
                found = each_rule[number](facts, path, method)
                if found is not None:
                    return found  # type: ignore[return-value]
            return self._unknown_country if self._country_unknown(facts) else self._default
        if self._plain is not None and not no_address:
            # No rule has an ``unless``, so a matcher returns a verdict or None: a plain loop.
            for match in self._plain:
                found = match(facts, path, method)
                if found is not None:
                    return found  # type: ignore[return-value]
            return self._unknown_country if self._country_unknown(facts) else self._default
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

    def verdict_number(self, verdict: Verdict) -> int | None:
        """A small int standing for ``verdict`` (``verdicts[number]`` gives it back), or ``None``.

        The engine caches the number rather than the verdict: a cache entry holding only
        atomic values is one the garbage collector stops tracking (see ``FactsRow``).
        Verdicts are shared per rule and reason, so few exist; past ``_CACHE_LIMIT`` of them
        (unless-exceptions make new ones) the answer is ``None`` and the caller decides again.
        """
        number = self._verdict_index.get(id(verdict))
        if number is not None:
            return number
        with self._verdict_lock:  # the number is the list position: one writer at a time
            number = self._verdict_index.get(id(verdict))
            if number is None and len(self._verdict_list) < _CACHE_LIMIT:
                # The list keeps the verdict alive, so its id() cannot be reused by another.
                self._verdict_list.append(verdict)
                number = self._verdict_index[id(verdict)] = len(self._verdict_list) - 1
        return number


def _with(verdict: Verdict, excepted: list[str]) -> Verdict:
    return verdict._replace(reasons=(*excepted, *verdict.reasons))


def evaluate(
    compiled: CompiledPolicy, facts: FactsRow, path: str = "/", method: str = "GET"
) -> Verdict:
    """Pure function form of ``CompiledPolicy.decide``."""
    return compiled.decide(facts, path, method)
