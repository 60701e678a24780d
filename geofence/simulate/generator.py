"""``generate(scenario)``: the seeded simulation of honest traffic and a farm, in time order.

The networks come from the embedded data (networks.py), the honest populations from
benign.py, the campaign from farm.py. The same scenario (seed included) and the same embedded
data give the same accounts and the same requests, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from geofence.simulate.benign import benign_traffic
from geofence.simulate.builder import Builder
from geofence.simulate.clients import HeaderSet
from geofence.simulate.farm import farm_traffic, proxy_pool
from geofence.simulate.model import SERVED, Account, Event, Scenario
from geofence.simulate.networks import find_networks

__all__ = ["Simulation", "generate"]


@dataclass(frozen=True)
class Simulation:
    """The generated traffic: accounts (with their ground truth), requests, header sets."""

    scenario: Scenario
    accounts: list[Account]
    events: list[Event]
    header_sets: list[HeaderSet]


def generate(scenario: Scenario, samples: int = 250_000) -> Simulation:
    """The traffic of ``scenario``: see the module docstring."""
    catalogue = find_networks(SERVED, scenario.seed, samples)
    b = Builder(scenario, catalogue)
    pool = proxy_pool(b) if scenario.farm_accounts else []
    benign_traffic(b, scenario.benign_accounts, pool)
    farm_traffic(b, pool)
    b.events.sort()
    return Simulation(scenario, b.accounts, b.events, b.header_sets)
