"""Run a generated simulation through a real ``Geofence`` and record what it did per account.

Every event becomes a ``Request`` with the account's fields and the simulated time, evaluated
in time order by the policy and store given (``memory://`` or a Redis URL), so this measures
the shipped code paths, not a model of them. Per account it keeps the number of requests, the
request number of the first deny or challenge, and the highest score within the first
``EARLY`` requests and overall.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from geofence.engine import Geofence
from geofence.policy import Policy, load_policy
from geofence.request import Request
from geofence.signals.settings import SignalSettings
from geofence.simulate.generator import Simulation
from geofence.vocab.actions import Action

__all__ = ["EARLY", "Outcome", "address_rules", "run"]

EARLY = 50
"""Requests per farm account within which detection counts as early (the target's 50)."""


@dataclass
class Outcome:
    """What the policy did to one account."""

    requests: int = 0
    first_flag: int | None = None  # request number (1-based) of the first deny or challenge
    first_flag_t: float | None = None  # its simulated time, epoch seconds
    first_t: float | None = None
    early_score: float = 0.0  # highest score within the first EARLY requests
    score: float = 0.0  # highest score overall
    rule: str | None = None  # the rule of the first flag
    why: tuple[str, ...] = ()  # the signals at or above their threshold at the first flag


def address_rules(policy: Any) -> Policy:
    """``policy`` without its signal rules: what it decides on addresses alone."""
    loaded = load_policy(policy)
    return loaded.model_copy(update={"rules": tuple(r for r in loaded.rules if not r.signals)})


def run(
    sim: Simulation,
    policy: Any,
    store: str | None = "memory://",
    signals: SignalSettings | Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Evaluate every request of ``sim``; one ``Outcome`` per account, in account order.
    ``store=None`` runs without account signals (the policy's address rules alone)."""
    if store is None:
        policy = address_rules(policy)
    gf = Geofence(policy, store=store, signals=signals, reload_interval=None)
    outcomes = [Outcome() for _ in sim.accounts]
    created = [datetime.fromtimestamp(a.created, timezone.utc) for a in sim.accounts]
    flagged = (Action.DENY, Action.CHALLENGE)
    try:
        for n, event in enumerate(sim.events):
            account = sim.accounts[event.account]
            decision = gf.evaluate(
                Request(
                    ip=event.ip,
                    headers=sim.header_sets[account.headers],
                    account=account.id,
                    declared_country=account.declared,
                    account_created=created[event.account],
                    time=datetime.fromtimestamp(event.t, timezone.utc),
                )
            )
            out = outcomes[event.account]
            out.requests += 1
            if out.first_t is None:
                out.first_t = event.t
            if out.requests <= EARLY and decision.score > out.early_score:
                out.early_score = decision.score
            out.score = max(out.score, decision.score)
            if out.first_flag is None and decision.action in flagged:
                out.first_flag, out.first_flag_t, out.rule = out.requests, event.t, decision.rule
                out.why = tuple(
                    name for name, s in decision.signals.items()
                    if s.threshold is not None and s.value >= s.threshold
                )  # fmt: skip
            if progress is not None and n % 10_000 == 0:
                progress(n)
    finally:
        gf.close()
    return outcomes
