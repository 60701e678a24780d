"""Feeds in Geofence: tags reach Decision.tags and rules, in every embedding; needs checks."""

from __future__ import annotations

from typing import Any

import pytest

from geofence import Geofence, Request
from geofence.errors import PolicyError
from geofence.reputation.catalog import CATALOG
from geofence.reputation.feedset import FeedSet

TOR_EXIT = "185.241.208.232"  # b9f1:d0e8

POLICY: dict[str, Any] = {
    "name": "anonymizers",
    "default": "allow",
    "unknown": "allow",
    "rules": [
        {"name": "tor", "action": "deny", "status": 403, "tags": ["tor"]},
        {"name": "ci", "action": "allow", "tags": ["feed:github-actions"]},
        {"name": "hosting", "action": "deny", "tags": ["hosting"]},
        {"name": "relay", "action": "challenge", "tags": ["relay"]},
    ],
}


@pytest.fixture(scope="module")
def gf() -> Any:
    with Geofence(POLICY, feeds="embedded", reload_interval=None) as fence:
        yield fence


@pytest.mark.parametrize(
    "form",
    [
        TOR_EXIT,
        f"::ffff:{TOR_EXIT}",
        "2002:b9f1:d0e8::1",  # 6to4
        "64:ff9b::b9f1:d0e8",  # NAT64
        "2001:0:4136:e378:8000:63bf:460e:2f17",  # Teredo: ~b9f1d0e8 = 460e2f17
    ],
)
def test_a_listed_tor_exit_is_denied_in_every_embedding(gf: Geofence, form: str) -> None:
    decision = gf.evaluate(form)
    assert decision.ip == TOR_EXIT
    assert (decision.action.value, decision.rule, decision.status) == ("deny", "tor", 403)
    assert {"tor", "feed:tor-exits"} <= decision.tags


def test_rules_can_name_a_feed_before_a_tag(gf: Geofence) -> None:
    actions = gf.evaluate("4.148.0.1")  # GitHub Actions (Azure) range, also hosting
    assert actions.rule == "ci"
    assert {"hosting", "feed:github-actions"} <= actions.tags
    aws = gf.evaluate("3.4.12.4")
    assert (aws.rule, aws.allowed) == ("hosting", False)
    relay = gf.evaluate("104.28.28.1")
    assert relay.rule == "relay"


def test_unlisted_addresses_are_untouched(gf: Geofence) -> None:
    decision = gf.evaluate("81.2.69.142")
    assert decision.tags == frozenset()
    assert decision.rule is None


def test_a_request_through_cloudflare_uses_the_header(gf: Geofence) -> None:
    with Geofence(
        POLICY,
        feeds="embedded",
        trusted_proxies=["cloudflare"],
        client_ip_header="cf-connecting-ip",
        reload_interval=None,
    ) as fence:
        decision = fence.evaluate(
            Request(ip="173.245.48.9", headers={"cf-connecting-ip": TOR_EXIT})
        )
        assert (decision.ip, decision.rule) == (TOR_EXIT, "tor")
        spoofed = fence.evaluate(Request(ip="81.2.69.142", headers={"cf-connecting-ip": TOR_EXIT}))
        assert (spoofed.ip, spoofed.rule) == ("81.2.69.142", None)


def test_data_versions_name_feeds_and_ages(gf: Geofence) -> None:
    versions = " ".join(gf.evaluate(TOR_EXIT).data_versions)
    assert "tor-exits 2024-03-12 (" in versions
    assert "aws 2025-07-25 (" in versions
    assert gf.feeds is not None
    assert "tor-exits" in gf.feeds.names


def test_without_feeds_a_tag_rule_is_a_policy_error_with_a_hint() -> None:
    policy = {**POLICY, "rules": [POLICY["rules"][0]]}
    with pytest.raises(PolicyError, match="feeds='embedded'"):
        Geofence(policy)


def test_a_rule_naming_an_unconfigured_feed_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="no feed 'github-actions' is configured"):
        Geofence(POLICY, feeds=["tor-exits"])


def test_a_refresh_reaches_decisions_after_the_reload_check() -> None:
    feeds = FeedSet([CATALOG["tor-exits"], CATALOG["github-actions"]])
    policy = {**POLICY, "rules": POLICY["rules"][:2]}
    with Geofence(policy, feeds=feeds, reload_interval=None) as fence:
        assert fence.evaluate("192.0.2.1").rule is None
        body = b"192.0.2.1\n" + b"\n".join(
            b"198.18.%d.%d" % (i // 256, i % 256) for i in range(1200)
        )
        feeds.replace("tor-exits", body)
        assert fence.reload()  # the FeedSet reports the swap; the cache is replaced
        assert fence.evaluate("192.0.2.1").rule == "tor"
        assert fence.evaluate(TOR_EXIT).rule is None  # no longer listed


@pytest.mark.parametrize("reload_interval", [None, 3600.0])
def test_a_refresh_reaches_cached_decisions_on_the_next_request(
    reload_interval: float | None,
) -> None:
    feeds = FeedSet([CATALOG["tor-exits"], CATALOG["github-actions"]])
    policy = {**POLICY, "rules": POLICY["rules"][:2]}
    with Geofence(policy, feeds=feeds, reload_interval=reload_interval) as fence:
        assert fence.evaluate("192.0.2.1").rule is None  # now cached as clean
        body = b"192.0.2.1\n" + b"\n".join(
            b"198.18.%d.%d" % (i // 256, i % 256) for i in range(1200)
        )
        feeds.replace("tor-exits", body)
        # No reload() and no other miss: the next request itself sees the swap.
        assert fence.evaluate("192.0.2.1").rule == "tor"


@pytest.mark.parametrize("reload_interval", [None, 3600.0])
def test_on_stale_closed_takes_effect_on_the_next_request(reload_interval: float | None) -> None:
    fresh = max(f.updated or 0.0 for f in FeedSet([CATALOG["tor-exits"]]).health())
    now = [fresh + 60.0]
    feeds = FeedSet([CATALOG["tor-exits"]], on_stale="closed", clock=lambda: now[0])
    policy = {**POLICY, "rules": POLICY["rules"][:1]}
    with Geofence(policy, feeds=feeds, reload_interval=reload_interval) as fence:
        assert fence.evaluate("192.0.2.1").allowed  # fresh data, an unlisted address, cached
        now[0] = fresh + CATALOG["tor-exits"].max_age + 60.0
        assert feeds.health()[0].stale
        stale = fence.evaluate("192.0.2.1")
        assert (stale.allowed, stale.rule) == (False, "tor")  # closed: every address is tagged
        assert "tor" in stale.tags
