"""The distillation campaign (research/accounts.md sections 0 and 7): one operator, many accounts.

Tens of thousands of accounts join over the first days, each through a residential proxy exit
in a served country that sticks for 24 hours and then rotates within the proxy's pool (the
same country: a careful operator matches the billing country), or from a cloud host. A relay
normalises every account's client headers to one of a few default sets. The operator's
scheduler fires synchronised bursts during its own working day (UTC+8 by default); each
account joins some of them and stays under per-account limits. Most accounts declare their
exit's country; a minority (stolen or gift cards) declare another. Some accounts were created
days before use (aged), the others shortly before. Real customers' households share the
pool's exits (see benign.py).
"""

from __future__ import annotations

from geofence.simulate.builder import Builder
from geofence.simulate.clients import relay_headers
from geofence.simulate.model import DAY, HOUR, SERVED, T0
from geofence.simulate.networks import Network

__all__ = ["farm_traffic", "proxy_pool"]

_BURST_EVERY = 20 * 60.0  # the scheduler's period (seconds)


def proxy_pool(b: Builder) -> list[Network]:
    """The proxy's residential exits: real /24s of consumer ISPs in the served countries."""
    countries = b.countries("residential")
    return [b.residential(b.rng.choice(countries)) for _ in range(b.scenario.pool_size())]


def _bursts(b: Builder) -> list[float]:
    """The operator's burst times: every 20 minutes of its working day (09:00-24:00 local)."""
    s = b.scenario
    times, t = [], T0
    while t < T0 + s.days * DAY:
        local = ((t - T0) / HOUR + s.operator_offset) % 24
        if local >= 9:
            times.append(t)
        t += _BURST_EVERY
    return times


def farm_traffic(b: Builder, pool: list[Network]) -> None:
    """The campaign's accounts and their requests."""
    s, rng = b.scenario, b.rng
    bursts = _bursts(b)
    by_country: dict[str, list[Network]] = {}
    for network in pool:
        by_country.setdefault(network.country, []).append(network)
    fingerprints = [b.headers(relay_headers(i)) for i in range(s.fingerprints)]
    clouds = b.countries("cloud")
    for i in range(s.farm_accounts):
        join = T0 + rng.uniform(0, s.days * 2 / 3) * DAY
        cloud = rng.random() < s.cloud_share
        if cloud:
            country = rng.choice(clouds)
            exits = b.catalogue.cloud[country]
        else:
            country = rng.choice(sorted(by_country))
            exits = by_country[country]
        declared = country
        if rng.random() < s.mismatch_share:
            declared = rng.choice([c for c in SERVED if c != country])
        aged = rng.random() < s.aged_share
        created = join - (rng.uniform(3, 30) * DAY if aged else rng.uniform(0.1, 20) * HOUR)
        kind = "farm-cloud" if cloud else "farm-residential"
        headers = fingerprints[i % len(fingerprints)] if fingerprints else b.honest_headers()
        account = b.account(kind, declared, created, headers)
        _requests(b, account, join, bursts, exits)


def _requests(
    b: Builder, account: int, join: float, bursts: list[float], exits: list[Network]
) -> None:
    rng = b.rng
    rotate = join + 24 * HOUR
    ip = rng.choice(exits).address(rng.getrandbits(8))
    sessions: list[tuple[float, int]] = []
    for burst in bursts:
        if burst < join or rng.random() >= b.scenario.burst_join:
            continue
        if burst >= rotate:  # the sticky session ends: a new exit for the next 24 hours
            b.sessions(account, sessions, b.fixed(ip))
            sessions = []
            ip = rng.choice(exits).address(rng.getrandbits(8))
            rotate += 24 * HOUR + rng.uniform(-2, 2) * HOUR
        sessions.append((burst + rng.uniform(0, 60), rng.randint(2, 6)))
    b.sessions(account, sessions, b.fixed(ip))
