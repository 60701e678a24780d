"""Account signals through Geofence on memory://, a real Redis and a real 3-node cluster."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from geofence import Geofence, Request, Signal
from geofence.errors import PolicyError
from geofence.signals.settings import DEFAULT_SETTINGS

T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)
POLICY = {
    "name": "accounts",
    "default": "allow",
    "rules": [
        {"name": "farm-network", "action": "deny", "signals": {"network_accounts": ">= 5"}},
        {"name": "risky", "action": "challenge", "signals": {"score": ">= 0.5"}},
    ],
}
NAMES = {
    "account_countries", "account_networks", "account_asns", "network_accounts",
    "asn_accounts", "network_new_accounts", "declared_mismatch",
    "anonymizer_share",
}  # fmt: skip


def test_many_accounts_on_one_network_trip_the_rule_with_evidence(store_url: str) -> None:
    gf = Geofence(POLICY, store=store_url)
    try:
        decisions = [
            gf.evaluate(
                Request(
                    ip=f"81.2.69.{10 + i}",
                    account=f"acct-{i}",
                    declared_country="GB",
                    time=T0 + timedelta(minutes=i),
                )
            )
            for i in range(6)
        ]
    finally:
        gf.close()
    assert [d.allowed for d in decisions] == [True] * 4 + [False] * 2
    last = decisions[-1]
    assert last.rule == "farm-network"
    assert set(last.signals) >= NAMES  # fingerprint_accounts: no fingerprint, no headers
    signal = last.signals["network_accounts"]
    assert isinstance(signal, Signal)
    with pytest.raises(TypeError):
        last.signals["network_accounts"] = signal  # type: ignore[index]
    assert signal.value == 6
    assert signal.window_s == 86400
    assert "network 81.2.69.0/24" in signal.evidence
    assert last.signals["network_new_accounts"].value == 6
    assert any("network_accounts 6 >= 5" in r for r in last.reasons)
    out = last.to_dict()
    assert out["signals"]["network_accounts"]["value"] == 6
    assert 0.0 <= out["score"] <= 1.0


def test_a_request_without_an_account_has_no_signals(store_url: str) -> None:
    gf = Geofence(POLICY, store=store_url)
    d = gf.evaluate(Request(ip="81.2.69.10"))
    gf.close()
    assert dict(d.signals) == {}
    assert d.score == 0.0
    assert d.allowed


def test_impossible_travel_and_declared_mismatch(store_url: str) -> None:
    jet = {"name": "jet", "action": "deny", "signals": {"travel_kmh": "> 800"}}
    gf = Geofence({"name": "p", "default": "allow", "rules": [jet]}, store=store_url)
    first = gf.evaluate(Request(ip="81.2.69.10", account="t", declared_country="GB", time=T0))
    second = gf.evaluate(
        Request(ip="1.0.16.1", account="t", declared_country="GB", time=T0 + timedelta(hours=1))
    )
    gf.close()
    assert first.allowed
    assert second.country == "JP"
    assert second.signals["travel_kmh"].value > 800
    assert second.rule == "jet"
    assert second.signals["declared_mismatch"].value == 0.5


def test_async_twin_shares_the_counts(store_url: str) -> None:
    gf = Geofence(POLICY, store=store_url)

    async def run() -> list[float]:
        out = []
        for i in range(3):
            d = await gf.aevaluate(
                Request(ip="81.2.69.50", account=f"a{i}", fingerprint="one-device", time=T0)
            )
            out.append(d.signals["fingerprint_accounts"].value)
        return out

    assert asyncio.run(run()) == [1, 2, 3]
    gf.close()


def test_store_outage_decides_on_facts_and_flags_it() -> None:
    # A port nothing listens on: the store is unavailable from the start.
    gf = Geofence(POLICY, store="redis://127.0.0.1:1/0?timeout=0.2")
    d = gf.evaluate(Request(ip="81.2.69.10", account="a", time=T0))
    gf.close()
    assert d.flags == ("store_unavailable",)
    assert dict(d.signals) == {}
    assert d.allowed


def test_signal_conditions_are_validated_at_load_time() -> None:
    bad = {"name": "p", "rules": [{"name": "r", "action": "deny", "signals": {"scor": ">= 1"}}]}
    with pytest.raises(PolicyError, match="did you mean 'score'"):
        Geofence(bad)


def test_the_shipped_accounts_policy_runs_on_the_embedded_data() -> None:
    from geofence import example_policy_path

    gf = Geofence(example_policy_path("accounts"))
    assert gf.evaluate("81.2.69.142").allowed  # GB, served
    farm = [
        gf.evaluate(Request(ip=f"81.2.69.{i}", account=f"new-{i}", account_created=T0, time=T0))
        for i in range(32)
    ]
    gf.close()
    assert farm[0].allowed
    assert farm[-1].rule == "farm-network"
    assert not farm[-1].allowed


def test_signal_rules_without_a_store_are_a_construction_error() -> None:
    # store=None turns the signal stage off: its rules could never hold, so say so up front.
    with pytest.raises(PolicyError, match=r"farm-network.*store=None"):
        Geofence(POLICY, store=None)
    address_only = {"name": "plain", "default": "allow", "rules": []}
    Geofence(address_only, store=None).close()


def test_private_relay_egress_on_a_vpn_list_is_not_an_anonymizer() -> None:
    # 104.28.33.17 is Apple Private Relay egress that the embedded x4bnet VPN list names too:
    # tolerated as a relay, it must not count towards the account's anonymizer share.
    gf = Geofence(POLICY, feeds=["embedded"])
    decisions = [
        gf.evaluate(Request(ip="104.28.33.17", account="r", time=T0 + timedelta(minutes=i)))
        for i in range(6)
    ]
    gf.close()
    assert {"relay", "vpn"} <= decisions[-1].tags
    assert decisions[-1].signals["anonymizer_share"].value == 0.0
    assert decisions[-1].score < 0.5


def test_a_fingerprint_derived_from_headers_is_judged_against_a_tolerated_threshold() -> None:
    gf = Geofence(POLICY)
    headers = {"user-agent": "Anthropic/Python 0.40.0", "x-stainless-lang": "python"}
    derived = gf.evaluate(Request(ip="81.2.69.10", account="d", headers=headers, time=T0))
    given = gf.evaluate(Request(ip="81.2.69.10", account="g", fingerprint="dev-1", time=T0))
    gf.close()
    base = DEFAULT_SETTINGS.of("fingerprint_accounts").threshold
    tolerance = DEFAULT_SETTINGS.derived_fingerprint_tolerance
    assert given.signals["fingerprint_accounts"].threshold == base
    assert derived.signals["fingerprint_accounts"].threshold == base * tolerance
