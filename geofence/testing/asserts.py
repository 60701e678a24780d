"""Decisions from facts alone, ``make_request``, and assertions that explain a failed decision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from geofence.decision import Decision, PolicyStamp
from geofence.facts import Facts
from geofence.net import normalize
from geofence.policy import Action, CompiledPolicy, Policy, PolicySource, load_policy
from geofence.request import Request
from geofence.testing.static import FactsInput, geo_record

__all__ = [
    "STAND_IN_ADDRESS",
    "assert_allowed",
    "assert_decision",
    "assert_denied",
    "decide_facts",
    "describe",
    "make_request",
]

STAND_IN_ADDRESS: Final = "198.18.0.1"
"""The client address of facts given without ``ip``: RFC 2544 benchmarking space, which no
sensible policy names (give ``ip`` when a rule reads networks)."""


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY: Final[Any] = _Any()


def make_request(
    ip: str | None = "192.0.2.1",
    *,
    path: str = "/",
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    forwarded_for: str | None = None,
    account: str | None = None,
) -> Request:
    """A ``Request`` from a peer address; ``forwarded_for`` adds an ``X-Forwarded-For`` header.

    >>> make_request("10.0.0.5", forwarded_for="81.2.69.142", path="/v1/chat").headers
    (('x-forwarded-for', '81.2.69.142'),)
    """
    pairs = dict(headers or {})
    if forwarded_for is not None:
        pairs["x-forwarded-for"] = forwarded_for
    return Request(ip=ip, headers=pairs, path=path, method=method, account=account)


def decide_facts(
    policy: PolicySource | CompiledPolicy,
    facts: FactsInput | None = None,
    *,
    ip: str | None = STAND_IN_ADDRESS,
    path: str = "/",
    method: str = "GET",
) -> Decision:
    """The decision a policy makes for a client with exactly these facts, no database involved.

    Pure, like ``opa test``'s input: ``ip=None`` means the client address is unknown.

    >>> p = {"name": "p", "rules": [{"name": "cu", "action": "deny", "countries": ["CU"]}]}
    >>> decide_facts(p, {"country": "CU"}).rule
    'cu'
    """
    compiled = policy if isinstance(policy, CompiledPolicy) else CompiledPolicy(load_policy(policy))
    record = geo_record(facts or {})
    address = None if ip is None else normalize(ip)
    full = Facts(
        address,
        *record[:8],
        ("facts given directly",),
        (),
        *record[8:],
    )
    verdict = compiled.decide(full, path, method)
    return Decision(verdict, full, None, _stamp(compiled.policy))


def _stamp(policy: Policy) -> PolicyStamp:
    return PolicyStamp(policy.name, policy.revision, policy.mode)


def describe(decision: Decision) -> str:
    """One paragraph saying what was decided, by which rule, why, and on which facts."""
    rule = f"rule {decision.rule!r}" if decision.rule else "no rule (the fallback action)"
    facts = [
        f"ip={decision.ip or 'unknown'}",
        f"country={decision.country or '?'}",
    ]
    if decision.regions:
        facts.append("regions=" + ",".join(decision.regions))
    if decision.asn is not None:
        facts.append(f"asn=AS{decision.asn}")
    facts.append("tags=" + (",".join(sorted(decision.tags)) or "-"))
    return (
        f"{decision.action.value} by {rule} of policy {decision.policy_name!r} "
        f"(revision {decision.policy_revision}, mode {decision.mode.value}, "
        f"status {decision.status})\n"
        f"  why: {'; '.join(decision.reasons)}\n"
        f"  facts: {' '.join(facts)}"
    )


def assert_decision(
    decision: Decision,
    *,
    action: Action | str | None = None,
    rule: str | None = ANY,
    allowed: bool | None = None,
    status: int | None = None,
    reason: str | None = None,
) -> Decision:
    """Check a decision; on a mismatch raise ``AssertionError`` naming the rule that decided.

    ``rule=None`` expects that no rule matched (the default or unknown action applied);
    ``reason`` is a substring expected in one of the reasons. Returns the decision.
    """
    wrong = []
    if action is not None and decision.action != Action(action):
        wrong.append(f"action {Action(action).value!r}")
    if rule is not ANY and decision.rule != rule:
        wrong.append("no rule (the fallback action)" if rule is None else f"rule {rule!r}")
    if allowed is not None and decision.allowed != allowed:
        wrong.append("allowed" if allowed else "not allowed")
    if status is not None and decision.status != status:
        wrong.append(f"status {status}")
    if reason is not None and not any(reason in r for r in decision.reasons):
        wrong.append(f"a reason containing {reason!r}")
    if wrong:
        raise AssertionError(f"expected {', '.join(wrong)}; got {describe(decision)}")
    return decision


def assert_allowed(decision: Decision, *, rule: str | None = ANY) -> Decision:
    """Check that the policy's action is allow (``Decision.action``, the same in report mode)."""
    return assert_decision(decision, action=Action.ALLOW, rule=rule)


def assert_denied(decision: Decision, *, rule: str | None = ANY) -> Decision:
    """Check that the policy's action is deny (``Decision.action``, the same in report mode)."""
    return assert_decision(decision, action=Action.DENY, rule=rule)
