"""The policy models: normalisation, validation and the revision hash."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from geofence.policy import Action, Conditions, Mode, Policy, Rule


def rule(**fields: Any) -> dict[str, Any]:
    return {"name": "r", "action": "deny", **fields}


def policy(*rules: dict[str, Any], **fields: Any) -> Policy:
    return Policy.model_validate({"name": "p", "rules": list(rules), **fields})


def test_defaults() -> None:
    p = policy(rule(countries=["CU"]))
    assert (p.mode, p.default, p.unknown, p.country_match) == (
        Mode.ENFORCE,
        Action.DENY,
        Action.DENY,
        "location",
    )
    assert p.rules[0].status is None
    assert p.rules[0].unless is None


@pytest.mark.parametrize(
    ("field", "given", "stored"),
    [
        ("countries", ["cu", "XK"], ("CU", "XK")),
        ("regions", ["ua-43", "GB-ENG"], ("UA-43", "GB-ENG")),
        ("continents", ["eu"], ("EU",)),
        ("asns", ["AS13335", "as16509", 7, "64512"], (13335, 16509, 7, 64512)),
        ("networks", ["203.0.113.0/24", "2001:DB8::/32", "192.0.2.7"], None),
        ("tags", ["tor", "feed:firehol_level1"], ("tor", "feed:firehol_level1")),
        ("paths", ["/admin/*", "*"], ("/admin/*", "*")),
        ("methods", ["post", "GET"], ("POST", "GET")),
    ],
)
def test_conditions_are_normalised(field: str, given: list[Any], stored: Any) -> None:
    value = getattr(policy(rule(**{field: given})).rules[0], field)
    if field == "networks":
        stored = ("203.0.113.0/24", "2001:db8::/32", "192.0.2.7/32")
    assert value == stored


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("countries", ["UK"], "did you mean 'GB'"),
        ("regions", ["UA-99"], "not an ISO 3166-2 region code"),
        ("continents", ["Europe"], "did you mean 'EU'"),
        ("asns", [0], "not an AS number"),
        ("asns", [2**32], "not an AS number"),
        ("asns", [True], "not an AS number"),
        ("asns", [1.5], "not an AS number"),
        ("asns", ["AS-1"], "not an AS number"),
        ("networks", ["203.0.113.5/24"], "host bits set; did you mean '203.0.113.0/24'"),
        ("networks", ["2001:db8::1/32"], "did you mean '2001:db8::/32'"),
        ("networks", ["300.0.0.0/8"], "not a CIDR network"),
        ("networks", ["010.0.0.0/8"], "not a CIDR network"),
        ("tags", ["proxy"], "did you mean 'public_proxy'"),
        ("tags", ["Tor"], "did you mean 'tor'"),
        ("tags", ["feed:Bad Name"], "feed name must match"),
        ("tags", ["feed:"], "feed name must match"),
        ("paths", ["admin/*"], "must start with '/'"),
        ("methods", ["PSOT"], "did you mean 'POST'"),
        ("methods", ["FROB"], "not an HTTP method"),
        ("countries", [], "empty list never matches"),
        ("countries", "US", "valid tuple"),
    ],
)
def test_bad_condition_values(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        policy(rule(**{field: value}))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "rule has no condition"),
        ({"unless": {}}, "no condition given"),
        ({"countries": ["CU"], "status": 399}, "greater than or equal to 400"),
        ({"countries": ["CU"], "status": 600}, "less than or equal to 599"),
        ({"countries": ["CU"], "action": "allow", "status": 403}, "not allow"),
        ({"countries": ["CU"], "name": ""}, "rule name"),
        ({"countries": ["CU"], "name": " padded"}, "rule name"),
        ({"countries": ["CU"], "action": "block"}, "'allow', 'deny' or 'challenge'"),
        ({"countries": ["CU"], "contries": ["CU"]}, "Extra inputs are not permitted"),
        ({"countries": ["CU"], "unless": {"action": "allow"}}, "Extra inputs"),
    ],
)
def test_bad_rules(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        policy(rule(**fields))


def test_a_rule_may_consist_of_exceptions_only() -> None:
    r = policy(rule(unless={"countries": ["US"]})).rules[0]
    assert r.used == ()
    assert r.unless is not None
    assert r.unless.used == ("countries",)


def test_duplicate_rule_names() -> None:
    with pytest.raises(ValidationError, match="rule name 'r' is used more than once"):
        policy(rule(countries=["CU"]), rule(countries=["IR"]))


def test_policy_keys_are_checked() -> None:
    with pytest.raises(ValidationError, match="country_match"):
        policy(rule(countries=["CU"]), country_match="anywhere")
    with pytest.raises(ValidationError, match="name"):
        Policy.model_validate({"rules": []})


def test_models_are_frozen_and_hashable() -> None:
    p = policy(rule(countries=["CU"], unless={"asns": [1]}))
    with pytest.raises(ValidationError, match="frozen"):
        p.rules[0].name = "other"  # type: ignore[misc]
    assert hash(p) == hash(policy(rule(countries=["cu"], unless={"asns": ["AS1"]})))


def test_models_can_be_built_directly() -> None:
    r = Rule(name="cu", action=Action.DENY, countries=("CU",), unless=Conditions(asns=(13335,)))
    p = Policy(name="p", rules=(r,))
    assert p.rules[0].unless == Conditions(asns=(13335,))


def test_revision_is_a_16_hex_digest_of_the_normalised_model() -> None:
    p = policy(rule(countries=["CU"], asns=["AS1"]))
    assert len(p.revision) == 16
    assert int(p.revision, 16) >= 0
    assert p.revision == p.revision
    same = Policy.model_validate(
        {"rules": [{"asns": [1], "countries": ["cu"], "action": "deny", "name": "r"}], "name": "p"}
    )
    assert same.revision == p.revision


@pytest.mark.parametrize(
    "change",
    [
        {"countries": ["IR"]},
        {"action": "challenge"},
        {"name": "renamed"},
        {"status": 403},
        {"unless": {"paths": ["/health"]}},
    ],
)
def test_revision_changes_with_a_rule(change: dict[str, Any]) -> None:
    base = policy(rule(countries=["CU"]))
    assert policy(rule(**{"countries": ["CU"], **change})).revision != base.revision


def test_revision_changes_with_rule_order() -> None:
    a, b = rule(name="a", countries=["CU"]), rule(name="b", countries=["IR"])
    assert policy(a, b).revision != policy(b, a).revision
