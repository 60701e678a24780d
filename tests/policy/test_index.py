"""``RuleIndex``: a large policy decides through the index exactly as the rule-by-rule walk does."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

import pytest

from geofence.facts import Facts, facts_row
from geofence.net import normalize
from geofence.policy import CompiledPolicy, load_policy

CODES = ["US", "GB", "DE", "CU", "IR", "FR", "JP", "BR", "IN", "CN", "RU", "UA", "KP", "XK"]
ASNS = [15169, 13335, 16509, 3320, 4134, 8075, 20940]
TAGS = ["vpn", "tor", "hosting", "relay"]
NETS = ["10.0.0.0/8", "203.0.113.0/24", "203.0.113.128/25", "198.51.100.0/24",
        "2001:db8::/32", "2001:db8:1::/48", "2002:cb00:7100::/40", "192.0.2.0/24"]  # fmt: skip
ADDRESSES = ["203.0.113.7", "203.0.113.200", "198.51.100.9", "10.1.2.3", "192.0.2.77",
             "8.8.8.8", "2001:db8::1", "2001:db8:1::9", "2a00:1450::1", "2002:cb00:7107::1",
             "::ffff:203.0.113.7", "64:ff9b::c000:24d"]  # fmt: skip


def random_rule(rng: random.Random, number: int) -> dict[str, Any]:
    rule: dict[str, Any] = {"name": f"r{number}", "action": rng.choice(["allow", "deny"])}
    choices: list[tuple[str, list[Any]]] = [
        ("countries", CODES), ("asns", ASNS), ("tags", TAGS), ("networks", NETS),
        ("continents", ["EU", "AS", "NA"]), ("methods", ["POST", "GET"]),
        ("paths", ["/admin/*", "/v1/*"]),
    ]  # fmt: skip
    for field, values in choices:
        if rng.random() < 0.3:
            rule[field] = rng.sample(values, rng.randint(1, min(3, len(values))))
    if len(rule) == 2:
        rule["countries"] = [rng.choice(CODES)]
    return rule


def random_facts(rng: random.Random) -> Facts:
    tags = frozenset(rng.sample(TAGS, rng.randint(0, 2)))
    return Facts(
        normalize(rng.choice(ADDRESSES)),
        country=rng.choice([*CODES, None]),
        registered_country=rng.choice([*CODES, None]),
        continent=rng.choice(["EU", "AS", "NA", None]),
        asn=rng.choice([*ASNS, None]),
        tags=tags,
    )


@pytest.mark.parametrize("country_match", ["location", "registered", "either"])
@pytest.mark.parametrize("seed", range(6))
def test_index_decides_as_the_walk(seed: int, country_match: str) -> None:
    rng = random.Random(seed)
    rules = [random_rule(rng, i) for i in range(rng.randint(9, 60))]
    policy = load_policy({"name": "big", "country_match": country_match, "rules": rules,
                          "default": "deny", "unknown": "challenge"})  # fmt: skip
    indexed, walked = CompiledPolicy(policy), CompiledPolicy(policy)
    assert indexed._index is not None
    walked._index = None
    for _ in range(400):
        facts = random_facts(rng)
        path, method = rng.choice(["/", "/admin/x", "/v1/y"]), rng.choice(["GET", "POST"])
        expected = walked.decide(facts, path, method)
        assert indexed.decide(facts, path, method) == expected, (facts, path, method)
        assert facts.address is not None
        record = facts[1:9]
        row = facts_row(facts.address, record, facts.sources)  # type: ignore[arg-type]
        assert indexed.decide(row, path, method) == expected


def test_an_unless_rule_keeps_the_walk() -> None:
    rules = [{"name": f"r{i}", "action": "deny", "asns": [i + 1]} for i in range(20)]
    rules.append({"name": "last", "action": "allow", "countries": ["US"],
                  "unless": {"tags": ["vpn"]}})  # fmt: skip
    compiled = CompiledPolicy(load_policy({"name": "p", "rules": rules}))
    assert compiled._index is None
    vpn = Facts(normalize("8.8.8.8"), country="US", tags=frozenset({"vpn"}))
    assert compiled.decide(vpn).rule is None


def test_a_thousand_network_rules_find_the_one_that_holds_the_address() -> None:
    nets = list(ipaddress.ip_network("100.64.0.0/10").subnets(new_prefix=20))[:1000]
    rules = [{"name": f"n{i}", "action": "deny", "networks": [str(n)]} for i, n in enumerate(nets)]
    compiled = CompiledPolicy(load_policy({"name": "p", "default": "allow", "rules": rules}))
    assert compiled._index is not None
    inside = Facts(normalize(str(nets[637][5])), country="US")
    assert compiled.decide(inside).rule == "n637"
    assert compiled.decide(Facts(normalize("8.8.8.8"), country="US")).rule is None
