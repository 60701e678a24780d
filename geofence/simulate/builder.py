"""The generator's workbench: one seeded random source, the networks, the accounts and events.

The benign and farm populations add accounts and their sessions here; every random choice
goes through ``rng``, so one seed gives one simulation.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from geofence.simulate.clients import HeaderSet, honest_headers
from geofence.simulate.model import Account, Event, Scenario
from geofence.simulate.networks import Catalogue, Network

__all__ = ["Builder", "Where"]

Where = Callable[[float], str]
"""The address an account uses for a session starting at a time."""


class Builder:
    """Accounts, events and header sets under construction; see the module docstring."""

    def __init__(self, scenario: Scenario, catalogue: Catalogue) -> None:
        self.scenario = scenario
        self.catalogue = catalogue
        self.rng = random.Random(scenario.seed)  # noqa: S311 (a simulation, not secrets)
        self.accounts: list[Account] = []
        self.events: list[Event] = []
        self.header_sets: list[HeaderSet] = []
        self._header_index: dict[HeaderSet, int] = {}
        self._carriers: dict[str, list[Network]] = {}

    def headers(self, headers: HeaderSet) -> int:
        """The index of ``headers`` among the run's header sets (added once)."""
        index = self._header_index.get(headers)
        if index is None:
            index = self._header_index[headers] = len(self.header_sets)
            self.header_sets.append(headers)
        return index

    def honest_headers(self) -> int:
        """The header set of a new honest client."""
        return self.headers(honest_headers(self.rng))

    def account(self, kind: str, declared: str, created: float, headers: int) -> int:
        """A new account's index."""
        farm = kind.startswith("farm")
        prefix = "f" if farm else "b"
        self.accounts.append(
            Account(f"{prefix}{len(self.accounts):06d}", farm, kind, declared, created, headers)
        )
        return len(self.accounts) - 1

    def sessions(self, account: int, sessions: list[tuple[float, int]], where: Where) -> None:
        """Requests of ``account``: ``n`` per session, seconds to a minute apart."""
        rng = self.rng
        for start, n in sessions:
            ip, t = where(start), start
            for _ in range(n):
                self.events.append(Event(t, account, ip))
                t += rng.uniform(2, 60)

    @staticmethod
    def fixed(ip: str) -> Where:
        """The same address for every session."""
        return lambda _t: ip

    def countries(self, kind: str) -> list[str]:
        """Countries with networks of ``kind``."""
        return self.catalogue.countries(kind)

    def residential(self, country: str) -> Network:
        """A random residential /24 in ``country``."""
        return self.rng.choice(self.catalogue.residential[country])

    def carrier(self, country: str) -> list[Network]:
        """The /24s a mobile carrier's CGNAT uses near ``country``'s users (or another served
        country's carrier when the data has none there): a few hundred, shared by all."""
        pool = self._carriers.get(country)
        if pool is None:
            found = (
                self.catalogue.mobile.get(country)
                or self.catalogue.mobile[self.countries("mobile")[0]]
            )
            pool = self._carriers[country] = found[:300]
        return pool
