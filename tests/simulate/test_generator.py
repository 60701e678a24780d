"""The simulation's generator: deterministic for a seed, on real networks of the embedded data."""

from __future__ import annotations

from geofence import Geofence
from geofence.simulate import Scenario, generate
from geofence.simulate.model import SERVED

SMALL = Scenario(seed=7, farm_accounts=60, benign_accounts=150, days=1)


def test_the_same_seed_gives_the_same_traffic_and_another_seed_other_traffic() -> None:
    first, again = generate(SMALL, samples=60_000), generate(SMALL, samples=60_000)
    other = generate(Scenario(seed=8, farm_accounts=60, benign_accounts=150, days=1), 60_000)
    assert first.accounts == again.accounts
    assert [(e.t, e.account, e.ip) for e in first.events] == [
        (e.t, e.account, e.ip) for e in again.events
    ]
    assert first.header_sets == again.header_sets
    assert [e.ip for e in other.events] != [e.ip for e in first.events]


def test_traffic_is_in_time_order_with_every_population() -> None:
    sim = generate(SMALL, samples=60_000)
    times = [e.t for e in sim.events]
    assert times == sorted(times)
    kinds = {a.kind for a in sim.accounts}
    assert {"household", "mobile", "corporate", "relay", "developer", "farm-residential"} <= kinds
    farm = [a for a in sim.accounts if a.farm]
    assert len(farm) == 60
    # A relay normalises the farm's headers: a few sets across all its accounts.
    assert len({a.headers for a in farm}) == SMALL.fingerprints


def test_addresses_resolve_in_the_embedded_data_to_served_countries() -> None:
    sim = generate(SMALL, samples=60_000)
    gf = Geofence({"name": "p", "default": "allow", "rules": []}, feeds=["embedded"])
    try:
        ips = sorted({e.ip for e in sim.events})[:400]
        decisions = [gf.evaluate(ip) for ip in ips]
    finally:
        gf.close()
    assert all(d.country in SERVED for d in decisions)
    assert all(d.asn is not None for d in decisions)
    cloud = {e.ip for e in sim.events if sim.accounts[e.account].kind == "farm-cloud"}
    tagged = [d for d in decisions if d.ip in cloud]
    assert all("hosting" in d.tags or d.asn for d in tagged)


def test_a_randomising_relay_gives_each_farm_account_its_own_headers() -> None:
    sim = generate(Scenario(seed=7, farm_accounts=60, benign_accounts=150, days=1,
                            fingerprints=0), samples=60_000)  # fmt: skip
    farm = [a for a in sim.accounts if a.farm]
    assert len({a.headers for a in farm}) > 30  # honest-looking builds, mostly distinct
