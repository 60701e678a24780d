"""decide_facts, make_request and the assertions, with the failure messages users read."""

from __future__ import annotations

import pytest

from geofence import Geofence
from geofence.testing import (
    StaticGeo,
    assert_allowed,
    assert_decision,
    assert_denied,
    decide_facts,
    make_request,
)

POLICY = {
    "name": "regions",
    "default": "deny",
    "unknown": "challenge",
    "rules": [
        {"name": "office", "action": "allow", "networks": ["203.0.113.0/24"]},
        {"name": "embargoed", "action": "deny", "countries": ["CU", "IR"]},
        {"name": "vpn", "action": "challenge", "tags": ["vpn"]},
        {"name": "health", "action": "allow", "paths": ["/healthz"]},
        {"name": "supported", "action": "allow", "countries": ["US", "GB"]},
    ],
}


def test_decide_facts_applies_the_policy_to_given_facts() -> None:
    assert decide_facts(POLICY, {"country": "CU"}).rule == "embargoed"
    assert decide_facts(POLICY, {"country": "US", "tags": ["vpn"]}).action == "challenge"
    assert decide_facts(POLICY, {"country": "FR"}).rule is None
    assert decide_facts(POLICY, {"country": "FR"}).action == "deny"
    assert decide_facts(POLICY, {}, ip=None).action == "challenge"
    assert decide_facts(POLICY, {"country": "IR"}, ip="203.0.113.9").rule == "office"
    assert decide_facts(POLICY, {"country": "FR"}, path="/healthz").rule == "health"


def test_failure_message_names_the_deciding_rule_and_why() -> None:
    decision = decide_facts(POLICY, {"country": "CU", "asn": 27725})
    with pytest.raises(AssertionError) as info:
        assert_allowed(decision)
    message = str(info.value)
    assert message.startswith("expected action 'allow'; got deny by rule 'embargoed'")
    assert "why: country CU is in rule 'embargoed' countries" in message
    assert "country=CU" in message
    assert "asn=AS27725" in message
    assert "policy 'regions'" in message


def test_rule_none_means_the_fallback() -> None:
    fallback = decide_facts(POLICY, {"country": "FR"})
    assert_denied(fallback, rule=None)
    with pytest.raises(AssertionError, match=r"expected rule 'embargoed'; got deny by no rule"):
        assert_denied(fallback, rule="embargoed")
    with pytest.raises(AssertionError, match=r"expected no rule \(the fallback action\)"):
        assert_denied(decide_facts(POLICY, {"country": "CU"}), rule=None)


def test_assert_decision_checks_each_field() -> None:
    decision = decide_facts(POLICY, {"country": "CU"})
    assert assert_decision(decision, action="deny", status=451, allowed=False) is decision
    assert_decision(decision, reason="country CU")
    with pytest.raises(AssertionError, match=r"expected allowed, status 403; got"):
        assert_decision(decision, status=403, allowed=True)
    with pytest.raises(AssertionError, match=r"a reason containing 'tag vpn'"):
        assert_decision(decision, reason="tag vpn")


def test_report_mode_keeps_the_action() -> None:
    report = {**POLICY, "mode": "report"}
    decision = decide_facts(report, {"country": "CU"})
    assert_denied(decision, rule="embargoed")
    assert_decision(decision, allowed=True)


def test_make_request_through_a_trusted_proxy() -> None:
    request = make_request("10.0.0.5", forwarded_for="152.206.1.1", path="/v1", method="POST")
    assert request.header_values("X-Forwarded-For") == ("152.206.1.1",)
    assert (request.path, request.method) == ("/v1", "POST")
    geo = StaticGeo({"152.206.0.0/16": {"country": "CU"}})
    trusting = Geofence(POLICY, geo=geo, trusted_proxies=["private"], reload_interval=None)
    assert_denied(trusting.evaluate(request), rule="embargoed")
    # Without trust the peer (a private address with no country) is the client.
    distrusting = Geofence(POLICY, geo=geo, reload_interval=None)
    assert_decision(distrusting.evaluate(request), action="challenge", rule=None)
