"""Audit a policy without traffic: its decision for every country, named region, tag, AS and
network, and the difference between two policies.

Each *subject* (a country, or a region/tag/AS/network/continent a policy names) is decided on
synthetic facts, with the ``CompiledPolicy`` alone (no database): a country on its own; a region
within its country; a tag, AS, network or continent together with each country in turn, so a
rule such as "vpn, unless from GB" shows up. Results group the countries by outcome.

Rules with a ``signals:`` condition decide only requests that name an account, by what the
store has seen: no address alone matches them, so they take no part in these outcomes (never
"matching every address" for want of address keys); ``signal_rules`` and
``changed_signal_rules`` name them so a report can say they are there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import pycountry

from geofence.facts import Facts
from geofence.net import Address, normalize
from geofence.policy import Action, CompiledPolicy, Policy, PolicySource, load_policy

__all__ = [
    "AuditRow",
    "Change",
    "Outcome",
    "Subject",
    "all_countries",
    "audit",
    "changed_signal_rules",
    "diff",
    "signal_rules",
    "subjects",
]

_STAND_IN = "198.18.0.1"  # RFC 2544 benchmarking space: the address of non-network subjects


class Subject(NamedTuple):
    """What is decided: ``kind`` is country, unknown, region, continent, asn, tag or network."""

    kind: str
    value: str


class Outcome(NamedTuple):
    """The action, the rule that decided (``None``: the fallback) and the status."""

    action: Action
    rule: str | None
    status: int

    def __str__(self) -> str:
        return f"{self.action.value} ({self.rule or 'no rule'})"


class AuditRow(NamedTuple):
    """One subject and one outcome, with the countries it holds for (empty: not per country)."""

    subject: Subject
    outcome: Outcome
    countries: tuple[str, ...]
    of: int
    """How many countries the subject was tried with (0 for a country or unknown row)."""


class Change(NamedTuple):
    """A subject whose outcome differs between two policies, for these countries."""

    subject: Subject
    old: Outcome
    new: Outcome
    countries: tuple[str, ...]
    of: int


def all_countries() -> tuple[str, ...]:
    """Every ISO 3166-1 alpha-2 code (pycountry), plus XK (Kosovo), sorted."""
    return tuple(sorted({str(c.alpha_2) for c in pycountry.countries} | {"XK"}))


def subjects(*policies: Policy) -> list[Subject]:
    """Every country, then each region, continent, AS, tag and network the policies name."""
    named: dict[str, set[str]] = {
        k: set() for k in ("region", "continent", "asn", "tag", "network")
    }
    for policy in policies:
        for rule in policy.rules:
            for block in (rule, rule.unless) if rule.unless is not None else (rule,):
                named["region"].update(block.regions)
                named["continent"].update(block.continents)
                named["asn"].update(str(a) for a in block.asns)
                named["tag"].update(block.tags)
                named["network"].update(block.networks)
    out = [Subject("country", c) for c in all_countries()]
    out.append(Subject("unknown", "country unknown"))
    for kind, values in named.items():
        key = (lambda v: int(v)) if kind == "asn" else None
        out.extend(Subject(kind, v) for v in sorted(values, key=key))
    return out


def _contexts(subject: Subject, countries: Sequence[str]) -> Sequence[str | None]:
    if subject.kind in ("country", "unknown"):
        return (None,)
    if subject.kind == "region":
        return (subject.value[:2],)
    return countries


def _facts(subject: Subject, country: str | None, stand_in: Address) -> Facts:
    kind, value = subject
    if kind == "country":
        return Facts(stand_in, country=value, registered_country=value)
    if kind == "unknown":
        return Facts(stand_in)
    c = country
    if kind == "region":
        return Facts(stand_in, country=c, registered_country=c, regions=(value,))
    if kind == "continent":
        return Facts(stand_in, country=c, registered_country=c, continent=value)
    if kind == "asn":
        return Facts(stand_in, country=c, registered_country=c, asn=int(value))
    if kind == "tag":
        return Facts(stand_in, country=c, registered_country=c, tags=frozenset({value}))
    first = ipaddress.ip_network(value).network_address
    return Facts(normalize(str(first)), country=c, registered_country=c)


def _decide_all(
    compiled: CompiledPolicy, subject: Subject, path: str, method: str
) -> dict[str | None, Outcome]:
    stand_in = normalize(_STAND_IN)
    out = {}
    for country in _contexts(subject, all_countries()):
        verdict = compiled.decide(_facts(subject, country, stand_in), path, method)
        out[country] = Outcome(verdict.action, verdict.rule, verdict.status)
    return out


def _compiled(policy: PolicySource | CompiledPolicy) -> CompiledPolicy:
    return policy if isinstance(policy, CompiledPolicy) else CompiledPolicy(load_policy(policy))


def audit(
    policy: PolicySource | CompiledPolicy, *, path: str = "/", method: str = "GET"
) -> list[AuditRow]:
    """The outcome of every subject, countries grouped by outcome (most countries first)."""
    compiled = _compiled(policy)
    rows: list[AuditRow] = []
    for subject in subjects(compiled.policy):
        decided = _decide_all(compiled, subject, path, method)
        rows.extend(_group(subject, decided))
    return rows


def _group(subject: Subject, decided: dict[str | None, Outcome]) -> Iterable[AuditRow]:
    if list(decided) == [None]:
        return [AuditRow(subject, decided[None], (), 0)]
    groups: dict[Outcome, list[str]] = {}
    for country, outcome in decided.items():
        groups.setdefault(outcome, []).append(str(country))
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
    return [AuditRow(subject, o, tuple(cs), len(decided)) for o, cs in ordered]


def signal_rules(policy: Policy) -> tuple[str, ...]:
    """The names of the rules with a ``signals:`` condition, in policy order."""
    return tuple(rule.name for rule in policy.rules if rule.signals)


def changed_signal_rules(old: Policy, new: Policy) -> tuple[str, ...]:
    """Signal rules added, removed or changed (any key, or their place among the others)."""
    before = {r.name: (i, r) for i, r in enumerate(old.rules) if r.signals}
    after = {r.name: (i, r) for i, r in enumerate(new.rules) if r.signals}
    names = sorted(set(before) | set(after))
    return tuple(n for n in names if before.get(n) != after.get(n))


def diff(
    old: PolicySource | CompiledPolicy,
    new: PolicySource | CompiledPolicy,
    *,
    path: str = "/",
    method: str = "GET",
) -> list[Change]:
    """Every subject whose outcome (action, rule or status) changes, grouped by change."""
    before, after = _compiled(old), _compiled(new)
    changes: list[Change] = []
    for subject in subjects(before.policy, after.policy):
        was = _decide_all(before, subject, path, method)
        now = _decide_all(after, subject, path, method)
        groups: dict[tuple[Outcome, Outcome], list[str]] = {}
        for country, outcome in was.items():
            if now[country] != outcome:
                groups.setdefault((outcome, now[country]), []).append(str(country))
        for (o, n), countries in groups.items():
            per_country = list(was) != [None]
            changes.append(
                Change(
                    subject,
                    o,
                    n,
                    tuple(countries) if per_country else (),
                    len(was) if per_country else 0,
                )
            )
    return changes
