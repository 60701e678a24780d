"""The simulation's vocabulary: the scenario, its accounts and their requests.

A ``Scenario`` says how much of each population to generate from one seed; the generator
turns it into ``Account``s (the ground truth: farm or not, which population) and a time-sorted
list of ``Event``s, one per request, on the simulated clock that feeds ``Request.time``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["SERVED", "UTC_OFFSET", "Account", "Event", "Scenario", "active_hour"]

T0 = 1_780_272_000.0  # 2026-06-01 00:00 UTC: the simulated clock starts here
HOUR, DAY = 3600.0, 86400.0

SERVED = ("US", "CA", "GB", "DE", "FR", "JP")
"""The countries the simulated users live in (all served by data/policies/accounts.yaml)."""
UTC_OFFSET = {"US": -6, "CA": -5, "GB": 1, "DE": 2, "FR": 2, "JP": 9}
"""Each country's (summer, main) UTC offset in hours: when its users are awake."""


@dataclass(frozen=True)
class Scenario:
    """How much traffic to generate, and the campaign's knobs (defaults: accounts.md section 7)."""

    seed: int = 1
    farm_accounts: int = 24_000
    """Fraudulent accounts of the distillation campaign (the Feb 2026 disclosure: ~24,000)."""
    benign_accounts: int = 20_000
    """Honest accounts, split across the benign populations."""
    days: float = 2.0
    """Simulated time; the campaign's accounts join over the first two thirds of it."""
    proxy_networks: int = 0
    """/24s in the proxy's residential pool (0: one per four farm accounts, at least 50)."""
    cloud_share: float = 0.2
    """Share of farm accounts that run from cloud hosts instead of residential exits."""
    mismatch_share: float = 0.15
    """Share of farm accounts whose declared (billing) country is not their exit's."""
    fingerprints: int = 2
    """Distinct relay-normalised client header sets across the farm (0: every account sends
    its own honest-looking SDK headers, as a relay that randomises them per account would)."""
    burst_join: float = 0.35
    """Chance a farm account takes part in one of the operator's bursts (every 20 minutes of
    its working day): the campaign's pace, about 60 requests per account a day at 0.35."""
    operator_offset: int = 8
    """The operator's UTC offset: its bursts follow its working day."""
    aged_share: float = 0.3
    """Share of farm accounts created days before use (aged), not within the window."""

    def pool_size(self) -> int:
        """The residential proxy pool's size in /24s."""
        return self.proxy_networks or max(50, self.farm_accounts // 4)


@dataclass(frozen=True)
class Account:
    """One simulated account and its ground truth."""

    id: str
    farm: bool
    kind: str  # population: household, mobile, corporate, relay, traveller, farm-residential...
    declared: str
    created: float  # epoch seconds
    headers: int  # index into the run's header sets


@dataclass(frozen=True, order=True)
class Event:
    """One request: when, which account, from which address."""

    t: float
    account: int  # index into the accounts
    ip: str = field(compare=False)


def active_hour(rng: random.Random, offset: int, start: int = 8, end: int = 23) -> float:
    """A UTC hour of day (fractional) when someone at ``offset`` is awake (local start..end)."""
    local = rng.uniform(start, end)
    return (local - offset) % 24
