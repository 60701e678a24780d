"""Honest traffic: the populations that look like a farm to a naive rule, and must not be flagged.

Shared households (a few accounts on one home address), CGNAT mobile users (a carrier's few
hundred /24s shared by all its subscribers, the address changing every session), corporate
egress (hundreds of accounts behind one /24, one of them onboarding a team of new accounts on
one day), Apple Private Relay users (egress rotating within the relay's ranges of their
country), travellers (a flight to another served country and days there), expats (declared
country not where they live), new sign-ups, and developers whose backends call the API from
cloud servers, a few accounts per company on one address, through the working day or around
the clock (the cloud networks the farm uses too). People are active in their local daytime.
"""

from __future__ import annotations

from geofence.simulate.builder import Builder, Where
from geofence.simulate.model import DAY, HOUR, SERVED, T0, UTC_OFFSET, active_hour
from geofence.simulate.networks import Network

__all__ = ["benign_traffic"]

_REGION = {"US": "na", "CA": "na", "GB": "eu", "DE": "eu", "FR": "eu", "JP": "jp"}
_TEAM = 20  # new accounts a company onboards on one day (a launch-day trap, under 30)

# Share of the honest accounts in each population.
_SHARES = (("household", 0.33), ("mobile", 0.2), ("corporate", 0.18), ("relay", 0.12),
           ("traveller", 0.08), ("expat", 0.02), ("signup", 0.03),
           ("developer", 0.04))  # fmt: skip


def benign_traffic(b: Builder, count: int, exits: list[Network]) -> None:
    """``count`` honest accounts and their requests; some households sit on ``exits`` (the
    proxy's residential pool: their own devices or a neighbour's carry proxy traffic)."""
    by_country: dict[str, list[Network]] = {}
    for network in exits:
        by_country.setdefault(network.country, []).append(network)
    pool = {n.base for n in exits}
    for kind, share in _SHARES:
        n = round(count * share)
        if kind == "corporate":
            _corporate(b, n, pool)
        elif kind == "developer":
            _developers(b, n)
        else:
            for _ in range(n):
                _person(b, kind, by_country)


def _sessions(b: Builder, country: str) -> list[tuple[float, int]]:
    """Start times and request counts of one person's sessions over the simulated days."""
    rng = b.rng
    heavy = rng.random() < 0.1
    out: list[tuple[float, int]] = []
    for day in range(int(b.scenario.days + 0.999)):
        if rng.random() < 0.25:
            continue  # not every day
        for _ in range(rng.randint(1, 5 if heavy else 3)):
            start = T0 + day * DAY + active_hour(rng, UTC_OFFSET[country]) * HOUR
            out.append((start, rng.randint(3, 40 if heavy else 12)))
    return out


def _person(b: Builder, kind: str, exits: dict[str, list[Network]]) -> None:
    rng = b.rng
    home = rng.choice(b.countries("mobile" if kind == "mobile" else "residential"))
    declared = rng.choice([c for c in SERVED if c != home]) if kind == "expat" else home
    created = T0 - rng.uniform(30, 900) * DAY
    sessions = _sessions(b, home)
    if kind == "signup" and sessions:
        created = sessions[0][0] - rng.uniform(60, 6 * HOUR)
    account = b.account(kind, declared, created, b.honest_headers())
    if kind == "mobile":
        carrier = b.carrier(home)
        b.sessions(account, sessions, lambda _t: rng.choice(carrier).address(rng.getrandbits(8)))
        return
    if kind == "relay":
        relays = b.catalogue.relay.get(home) or b.catalogue.relay[b.countries("relay")[0]]
        b.sessions(account, sessions, lambda _t: rng.choice(relays).address(rng.getrandbits(8)))
        return
    local = exits.get(home, [])
    on_exit = bool(local) and rng.random() < 0.1
    network = rng.choice(local) if on_exit else b.residential(home)
    here = network.address(rng.getrandbits(8))
    household = 1 + min(3, int(rng.expovariate(1.2))) if kind == "household" else 1
    trip = _trip(b, home) if kind == "traveller" else None
    for member in range(household):
        who = account if member == 0 else b.account(kind, declared, created, b.honest_headers())
        b.sessions(who, _sessions(b, home) if member else sessions, trip or b.fixed(here))


def _trip(b: Builder, home: str) -> Where:
    """Where a traveller is at time t: home, then (after a flight) another country, then home."""
    rng = b.rng
    away = b.residential(rng.choice([c for c in b.countries("residential") if c != home]))
    hotel = away.address(rng.getrandbits(8))
    here = b.residential(home).address(rng.getrandbits(8))
    leave = T0 + rng.uniform(0.2, 0.6) * b.scenario.days * DAY
    # Door to door: a few hours within North America or Europe, a long-haul day otherwise.
    near = _REGION.get(home) == _REGION.get(away.country)
    land = leave + (rng.uniform(4, 10) if near else rng.uniform(15, 26)) * HOUR
    back = land + rng.uniform(1.5, 3) * DAY

    def where(t: float) -> str:
        return hotel if land <= t < back else here

    return where


def _corporate(b: Builder, count: int, pool: set[int]) -> None:
    """Companies of 50-500 accounts, each behind one egress /24; the first onboards a team
    of new accounts on one day."""
    rng = b.rng
    left, first = count, True
    while left > 0:
        size = min(left, rng.randint(50, 500))
        left -= size
        country = rng.choice(b.countries("residential"))
        egress = b.residential(country)
        while egress.base in pool:  # a business line, not a residential proxy's exit
            egress = b.residential(country)
        onboarding = T0 + rng.uniform(0.5, 1.5) * DAY
        for i in range(size):
            new = first and i < _TEAM
            created = onboarding if new else T0 - rng.uniform(30, 900) * DAY
            account = b.account("corporate", country, created, b.honest_headers())
            sessions = [(s, n) for s, n in _sessions(b, country) if not new or s >= onboarding]
            host = egress.address(rng.randrange(4))  # a few NAT addresses
            b.sessions(account, sessions, b.fixed(host))
        first = False


def _developers(b: Builder, count: int) -> None:
    """Backends on cloud hosts: 1-5 accounts per company on one cloud address, each calling
    every hour of the local working day (09-18) or, for a third, around the clock."""
    rng = b.rng
    left = count
    while left > 0:
        size = min(left, rng.randint(1, 5))
        left -= size
        country = rng.choice(b.countries("cloud"))
        host = rng.choice(b.catalogue.cloud[country]).address(rng.getrandbits(8))
        always = rng.random() < 1 / 3
        for _ in range(size):
            created = T0 - rng.uniform(30, 900) * DAY
            account = b.account("developer", country, created, b.honest_headers())
            hours = range(24) if always else range(9, 18)
            sessions = [
                (T0 + day * DAY + ((h - UTC_OFFSET[country]) % 24 + rng.random()) * HOUR,
                 rng.randint(1, 4))
                for day in range(int(b.scenario.days + 0.999)) for h in hours
            ]  # fmt: skip
            b.sessions(account, sessions, b.fixed(host))
