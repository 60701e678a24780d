"""Decisions of a compiled policy over facts supplied directly (no databases involved)."""

from __future__ import annotations

from typing import Any

import pytest

from geofence.facts import Facts
from geofence.net import Via, normalize
from geofence.policy import Action, CompiledPolicy, Verdict, evaluate, load_policy

from .conftest import POLICIES


def compiled(*rules: dict[str, Any], **fields: Any) -> CompiledPolicy:
    return CompiledPolicy(load_policy({"name": "p", "rules": list(rules), **fields}))


def facts(ip: str | None = "198.51.100.7", **fields: Any) -> Facts:
    if "tags" in fields:
        fields["tags"] = frozenset(fields["tags"])
    return Facts(None if ip is None else normalize(ip), **fields)


SUPPORTED = CompiledPolicy(load_policy(POLICIES / "supported-regions.yaml"))


@pytest.mark.parametrize(
    ("fact", "path", "action", "rule", "status"),
    [
        (facts("203.0.113.9", country="CU"), "/", "allow", "office", 200),
        (facts("2001:db8::5", country="IR"), "/", "allow", "office", 200),
        (facts(country="UA", regions=("UA-43",)), "/", "deny", "occupied-regions", 451),
        (facts(country="UA", regions=("UA-30",)), "/", "deny", None, 451),
        (facts(country="KP"), "/", "deny", "embargoed", 451),
        (facts(country="US", tags={"vpn"}), "/", "deny", "anonymizers", 403),
        (facts(country="US", tags={"vpn"}), "/status/db", "allow", "supported", 200),
        (facts(country="US", tags={"hosting"}), "/", "allow", "supported", 200),
        (facts(country="XK"), "/", "allow", "supported", 200),
        (facts(country="BR"), "/", "deny", None, 451),
        (facts(), "/", "deny", None, 451),
        (facts(None), "/", "deny", None, 451),
    ],
)
def test_the_example_policy(
    fact: Facts, path: str, action: str, rule: str | None, status: int
) -> None:
    verdict = SUPPORTED.decide(fact, path, "GET")
    assert (verdict.action, verdict.rule, verdict.status) == (Action(action), rule, status)
    assert verdict.reasons


def test_first_matching_rule_wins() -> None:
    policy = compiled(
        {"name": "first", "action": "challenge", "countries": ["US"]},
        {"name": "second", "action": "deny", "countries": ["US"]},
    )
    assert policy.decide(facts(country="US")) == Verdict(
        Action.CHALLENGE, "first", ("country US is in rule 'first' countries",), 403
    )


def test_keys_are_anded_and_items_ored() -> None:
    policy = compiled(
        {"name": "r", "action": "deny", "countries": ["US", "CA"], "asns": ["AS1", 2]},
        default="allow",
    )
    assert policy.decide(facts(country="CA", asn=2)).rule == "r"
    assert policy.decide(facts(country="US", asn=1)).reasons == (
        "country US is in rule 'r' countries",
        "AS1 is in rule 'r' asns",
    )
    assert policy.decide(facts(country="CA", asn=3)).rule is None
    assert policy.decide(facts(country="MX", asn=1)).rule is None


def test_unless_excepts_when_any_of_its_conditions_matches() -> None:
    policy = compiled(
        {
            "name": "eu",
            "action": "deny",
            "continents": ["EU"],
            "unless": {"countries": ["IE"], "paths": ["/public/*"]},
        },
        {"name": "rest", "action": "challenge", "continents": ["EU"]},
        default="allow",
    )
    assert policy.decide(facts(country="FR", continent="EU"), "/x").rule == "eu"
    ireland = policy.decide(facts(country="IE", continent="EU"), "/x")
    assert (ireland.rule, ireland.reasons) == (
        "rest",
        (
            "rule 'eu' excepted: country IE is in rule 'eu' unless.countries",
            "continent EU is in rule 'rest' continents",
        ),
    )
    assert policy.decide(facts(country="FR", continent="EU"), "/public/a").rule == "rest"
    assert policy.decide(facts(country="US", continent="NA"), "/x").reasons == (
        "no rule matched -> default action 'allow'",
    )


def test_an_exception_only_rule_matches_everything_else() -> None:
    policy = compiled(
        {"name": "us-only", "action": "deny", "unless": {"countries": ["US"]}}, default="allow"
    )
    assert policy.decide(facts(country="FR")).rule == "us-only"
    us = policy.decide(facts(country="US"))
    assert (us.action, us.rule) == (Action.ALLOW, None)
    assert (
        us.reasons[0] == "rule 'us-only' excepted: country US is in rule 'us-only' unless.countries"
    )


def test_unknown_address_skips_rules_that_read_the_address() -> None:
    policy = compiled(
        {"name": "not-us", "action": "allow", "unless": {"countries": ["US"]}},
        {"name": "tagged", "action": "allow", "paths": ["/*"], "tags": ["tor"]},
        {"name": "health", "action": "allow", "paths": ["/health"]},
        default="allow",
        unknown="challenge",
    )
    assert policy.decide(facts(None), "/health").rule == "health"
    verdict = policy.decide(facts(None), "/other")
    assert verdict == Verdict(
        Action.CHALLENGE,
        None,
        ("no rule matched; client address unknown -> unknown action 'challenge'",),
        403,
    )


@pytest.mark.parametrize(
    ("country_match", "country", "registered", "rule"),
    [
        ("location", "CU", "ES", "cu"),
        ("location", "ES", "CU", None),
        ("registered", "ES", "CU", "cu"),
        ("registered", "CU", "ES", None),
        ("either", "CU", "ES", "cu"),
        ("either", "ES", "CU", "cu"),
        ("either", "ES", "FR", None),
    ],
)
def test_country_match(country_match: str, country: str, registered: str, rule: str | None) -> None:
    policy = compiled(
        {"name": "cu", "action": "deny", "countries": ["CU"]},
        country_match=country_match,
        default="allow",
    )
    verdict = policy.decide(facts(country=country, registered_country=registered))
    assert verdict.rule == rule
    if rule and country_match != "location" and country != "CU":
        assert verdict.reasons == ("registered country CU is in rule 'cu' countries",)


@pytest.mark.parametrize(
    ("country_match", "country", "registered", "action", "reason"),
    [
        ("location", None, "ES", "challenge", "country unknown"),
        ("location", "ES", None, "allow", "default action"),
        ("registered", "ES", None, "challenge", "registered country unknown"),
        ("registered", None, "ES", "allow", "default action"),
        ("either", None, "ES", "allow", "default action"),
        ("either", None, None, "challenge", "country and registered country unknown"),
    ],
)
def test_unknown_country_per_country_match(
    country_match: str, country: str | None, registered: str | None, action: str, reason: str
) -> None:
    policy = compiled(
        {"name": "cu", "action": "deny", "countries": ["CU"]},
        country_match=country_match,
        default="allow",
        unknown="challenge",
    )
    verdict = policy.decide(facts(country=country, registered_country=registered))
    assert verdict.action == Action(action)
    assert reason in verdict.reasons[0]


NETWORKS = compiled(
    {
        "name": "nets",
        "action": "deny",
        "networks": [
            "203.0.113.0/24",
            "203.0.113.128/25",
            "203.0.114.0/24",
            "198.18.0.0/15",
            "2001:db8::/32",
        ],
    },
    {"name": "sixtofour", "action": "challenge", "networks": ["2002::/16"]},
    default="allow",
)


@pytest.mark.parametrize(
    ("ip", "rule", "reason"),
    [
        ("203.0.113.0", "nets", "address is in 203.0.113.0/24"),
        ("203.0.113.200", "nets", "address is in 203.0.113.0/24"),
        ("198.19.255.255", "nets", "address is in 198.18.0.0/15"),
        ("203.0.114.255", "nets", "address is in 203.0.114.0/24"),
        ("203.0.115.0", None, None),
        ("198.20.0.0", None, None),
        ("203.0.112.255", None, None),
        ("2001:db8:ffff::1", "nets", "address is in 2001:db8::/32"),
        ("2001:db9::1", None, None),
        ("::ffff:203.0.113.1", "nets", "address is in 203.0.113.0/24"),
        ("2002:cb00:7101::1", "nets", "address is in 203.0.113.0/24"),
        ("2002:0808:0808::1", "sixtofour", "original address is in 2002::/16"),
        ("64:ff9b::cb00:7105", "nets", "address is in 203.0.113.0/24"),
        ("0.0.0.0", None, None),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None, None),
    ],
)
def test_networks(ip: str, rule: str | None, reason: str | None) -> None:
    verdict = NETWORKS.decide(facts(ip, country="US"))
    assert verdict.rule == rule
    if reason:
        assert verdict.reasons[0].startswith(reason)


def test_a_6to4_original_is_matched_on_its_original_form() -> None:
    address = normalize("2002:c000:201::1")
    assert address.via is Via.SIXTOFOUR
    policy = compiled({"name": "v6", "action": "deny", "networks": ["2002:c000::/32"]})
    assert policy.decide(Facts(address, country="US")).rule == "v6"
    assert policy.decide(Facts(normalize("192.0.2.1"), country="US")).rule is None


@pytest.mark.parametrize(
    ("path", "method", "rule"),
    [
        ("/admin/users", "GET", "admin"),
        ("/admin/", "GET", "admin"),
        ("/admin/a/b?x=1", "GET", "admin"),
        ("/Admin/users", "GET", None),
        ("/admin", "GET", None),
        ("/v1/messages", "POST", "writes"),
        ("/v1/messages", "post", "writes"),
        ("/v1/messages", "GET", None),
        ("/v2/x.json", "GET", "json"),
        ("/v2/x.jsonp", "GET", None),
    ],
)
def test_paths_and_methods(path: str, method: str, rule: str | None) -> None:
    policy = compiled(
        {"name": "admin", "action": "deny", "paths": ["/admin/*"]},
        {"name": "writes", "action": "deny", "paths": ["/v1/*"], "methods": ["POST", "PUT"]},
        {"name": "json", "action": "deny", "paths": ["/v[23]/*.json"]},
        default="allow",
    )
    assert policy.decide(facts(country="US"), path, method).rule == rule


def test_tags_including_feed_tags() -> None:
    policy = compiled(
        {"name": "feeds", "action": "deny", "tags": ["feed:spamhaus_drop", "tor"]}, default="allow"
    )
    assert policy.decide(facts(country="US", tags={"feed:spamhaus_drop"})).reasons == (
        "tag feed:spamhaus_drop is in rule 'feeds' tags",
    )
    assert policy.decide(facts(country="US", tags={"tor", "vpn"})).rule == "feeds"
    assert policy.decide(facts(country="US", tags={"vpn", "feed:other"})).rule is None


def test_status_defaults_and_overrides() -> None:
    policy = compiled(
        {"name": "a", "action": "deny", "countries": ["CU"]},
        {"name": "b", "action": "deny", "status": 403, "countries": ["IR"]},
        {"name": "c", "action": "challenge", "countries": ["KP"]},
        {"name": "d", "action": "challenge", "status": 429, "countries": ["SY"]},
        {"name": "e", "action": "allow", "countries": ["US"]},
    )
    statuses = [policy.decide(facts(country=c)).status for c in ("CU", "IR", "KP", "SY", "US")]
    assert statuses == [451, 403, 403, 429, 200]


def test_verdicts_are_reused() -> None:
    one, two = SUPPORTED.decide(facts(country="CU")), SUPPORTED.decide(facts(country="CU"))
    assert one is two
    assert SUPPORTED.decide(facts(country="BR")) is SUPPORTED.decide(facts(country="MX"))


def test_needs() -> None:
    assert SUPPORTED.needs == {"country", "regions", "tags"}
    assert SUPPORTED.rule_needs("office") == frozenset()
    assert SUPPORTED.rule_needs("occupied-regions") == {"regions"}
    assert SUPPORTED.rules_needing("country") == ("embargoed", "supported")
    assert SUPPORTED.tags == {"tor", "vpn", "public_proxy"}
    assert SUPPORTED.request_dependent  # the anonymizers rule has a paths exception
    with pytest.raises(KeyError):
        SUPPORTED.rule_needs("absent")


@pytest.mark.parametrize(
    ("country_match", "needs"),
    [
        ("location", {"country"}),
        ("registered", {"registered_country"}),
        ("either", {"country", "registered_country"}),
    ],
)
def test_needs_follow_country_match(country_match: str, needs: set[str]) -> None:
    policy = compiled(
        {"name": "cu", "action": "deny", "countries": ["CU"]}, country_match=country_match
    )
    assert policy.needs == needs


def test_report_policy_file() -> None:
    policy = CompiledPolicy(load_policy(POLICIES / "report-either.yaml"))
    assert policy.needs == {"asn", "tags", "country", "registered_country", "continent"}
    assert policy.request_dependent
    hook = policy.decide(facts(None), "/webhooks/stripe", "POST")
    assert (hook.action, hook.rule) == (Action.ALLOW, "webhooks")
    bot = policy.decide(facts(asn=16509, tags={"feed:firehol_level1"}, country="US"))
    assert (bot.action, bot.rule) == (Action.CHALLENGE, "cloud-bots")
    moscow = facts(country="FR", registered_country="RU", continent="EU")
    assert policy.decide(moscow).rule == "sanctioned"
    assert policy.decide(facts(None)).action is Action.CHALLENGE


def test_without_request_rules_the_policy_is_per_address() -> None:
    assert not compiled({"name": "cu", "action": "deny", "countries": ["CU"]}).request_dependent


def test_evaluate_is_decide() -> None:
    fact = facts(country="KP")
    assert evaluate(SUPPORTED, fact) == SUPPORTED.decide(fact, "/", "GET")
    assert evaluate(SUPPORTED, fact, "/x", "POST").rule == "embargoed"
