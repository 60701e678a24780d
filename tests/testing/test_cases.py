"""Case files: loading (YAML and TOML), validation messages naming file and case, running."""

from __future__ import annotations

from pathlib import Path

import pytest

from geofence import PolicyError
from geofence.testing.cases import CaseRunner, is_case_file, load_cases, run_file

POLICY = """\
name: p
default: deny
rules:
  - name: embargoed
    action: deny
    countries: [CU]
  - name: supported
    action: allow
    countries: [US, "NO"]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "policy.yaml").write_text(POLICY)
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_is_case_file() -> None:
    assert is_case_file("a/policy.geofence.yaml")
    assert is_case_file("P.GEOFENCE.TOML")
    assert is_case_file("x.geofence.yml")
    assert not is_case_file("policy.yaml")
    assert not is_case_file("geofence.yaml")


def test_yaml_and_toml_say_the_same(folder: Path) -> None:
    yaml_file = write(
        folder,
        "a.geofence.yaml",
        "policy: policy.yaml\ncases:\n"
        "  - {name: cu, facts: {country: CU}, expect: {action: deny, rule: embargoed}}\n"
        "  - {name: fr, facts: {country: FR}, expect: {action: deny, rule: null}}\n",
    )
    toml_file = write(
        folder,
        "a.geofence.toml",
        'policy = "policy.yaml"\n'
        '[[cases]]\nname = "cu"\nfacts = {country = "CU"}\n'
        'expect = {action = "deny", rule = "embargoed"}\n'
        '[[cases]]\nname = "fr"\nfacts = {country = "FR"}\nexpect = {action = "deny", rule = ""}\n',
    )
    for path in (yaml_file, toml_file):
        results = run_file(path)
        assert [(r.case.name, r.passed) for r in results] == [("cu", True), ("fr", True)]
        assert load_cases(path).policy == folder / "policy.yaml"


def test_a_failing_case_explains_itself(folder: Path) -> None:
    path = write(
        folder,
        "f.geofence.yaml",
        "policy: policy.yaml\ncases:\n"
        "  - {name: 'cuba allowed?', facts: {country: CU}, expect: {action: allow}}\n",
    )
    (result,) = run_file(path)
    assert not result.passed
    assert result.message.startswith("expected action 'allow'; got deny by rule 'embargoed'")
    assert "country CU is in rule 'embargoed' countries" in result.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "cases:\n  - {name: a, facts: {country: UK}, expect: {action: deny}}\n",
            r"cases\[0\] \('a'\)\.facts: .*did you mean 'GB'",
        ),
        (
            "cases:\n  - {name: b, facts: {country: NO}, expect: {action: deny}}\n",
            r"cases\[0\] \('b'\)\.facts\.country: .*quote country codes",
        ),
        (
            "cases:\n  - {name: c, facts: {}, request: {ip: 1.2.3.4}, expect: {action: deny}}\n",
            r"cases\[0\] \('c'\): .*exactly one of facts or request",
        ),
        ("cases:\n  - {name: d, facts: {}, expect: {}}\n", r"\('d'\)\.expect: .*at least one"),
        (
            "cases:\n  - {name: e, facts: {}, expect: {action: block}}\n",
            r"\('e'\)\.expect\.action: Input should be 'allow', 'deny' or 'challenge'",
        ),
        ("cases:\n  - {name: f, facts: {}, expect: {action: deny}, when: now}\n", "unknown key"),
        ("cases: []\n", r"cases: Tuple should have at least 1 item"),
        ("- just a list\n", "top level must be a mapping"),
        ("cases: [\n", "invalid YAML"),
    ],
)
def test_invalid_files_name_file_and_case(folder: Path, body: str, expected: str) -> None:
    path = write(folder, "bad.geofence.yaml", body)
    with pytest.raises(PolicyError, match=expected) as info:
        load_cases(path)
    assert str(info.value).startswith(str(path))


def test_unknown_rule_names_are_refused_against_the_policy(folder: Path) -> None:
    path = write(
        folder,
        "r.geofence.yaml",
        "policy: policy.yaml\ncases:\n"
        "  - {name: typo, facts: {country: CU}, expect: {rule: embargo}}\n",
    )
    with pytest.raises(PolicyError, match=r"expects rule 'embargo'.*rules: embargoed, supported"):
        CaseRunner(load_cases(path))


def test_no_policy_anywhere(folder: Path) -> None:
    path = write(
        folder, "n.geofence.yaml", "cases:\n  - {name: a, facts: {}, expect: {action: deny}}\n"
    )
    with pytest.raises(PolicyError, match="no policy"):
        CaseRunner(load_cases(path))
    runner = CaseRunner(load_cases(path), folder / "policy.yaml")
    assert runner.run(runner.suite.cases[0]).passed  # the policy given explicitly is used


def test_request_cases_use_addresses_then_given_geo(folder: Path, make_mmdb) -> None:  # type: ignore[no-untyped-def]
    mmdb = make_mmdb(
        "c.mmdb", [("152.206.0.0/16", {"country_code": "CU"})], database_type="DBIP-Country-Lite"
    )
    path = write(
        folder,
        "g.geofence.yaml",
        f"policy: policy.yaml\ngeo: [{mmdb.name}]\n"
        "trusted_proxies: [private]\n"
        "addresses:\n  203.0.113.0/24: {country: US}\n"
        "cases:\n"
        "  - {name: static, request: {ip: 203.0.113.5}, expect: {rule: supported}}\n"
        "  - name: database via a trusted proxy\n"
        "    request: {ip: 10.0.0.1, headers: {x-forwarded-for: 152.206.9.9}}\n"
        "    expect: {rule: embargoed}\n"
        "  - {name: neither, request: {ip: 8.8.8.8}, expect: {rule: null}}\n",
    )
    results = run_file(path)
    assert [r.passed for r in results] == [True, True, True], [r.message for r in results]
    assert results[1].decision.ip == "152.206.9.9"


def test_request_cases_with_embedded_feeds(folder: Path) -> None:
    # 185.220.101.5 is in the shipped Tor exit snapshot and in DE (supported by country).
    write(
        folder,
        "tags.yaml",
        "name: t\ndefault: deny\nrules:\n"
        "  - {name: anonymizers, action: deny, tags: [tor, vpn]}\n"
        "  - {name: supported, action: allow, countries: [US, DE]}\n",
    )
    path = write(
        folder,
        "f.geofence.yaml",
        "policy: tags.yaml\nfeeds: [embedded]\ncases:\n"
        "  - {name: tor exit, request: {ip: 185.220.101.5}, expect: {rule: anonymizers}}\n"
        "  - {name: plain US, request: {ip: 8.8.8.8}, expect: {rule: supported}}\n",
    )
    results = run_file(path)
    assert [r.passed for r in results] == [True, True], [r.message for r in results]
    assert "tor" in results[0].decision.tags
    without = write(folder, "n.geofence.yaml", path.read_text().replace("feeds: [embedded]\n", ""))
    with pytest.raises(PolicyError, match="tags"):
        run_file(without)


def test_a_signals_rule_does_not_decide_facts_cases(folder: Path) -> None:
    (folder / "farms.yaml").write_text(
        "name: farms\ndefault: deny\nrules:\n"
        "  - {name: farm, action: deny, signals: {network_accounts: '>= 2'}}\n"
        "  - {name: supported, action: allow, countries: [US]}\n"
    )
    path = write(
        folder,
        "farms.geofence.yaml",
        "policy: farms.yaml\ncases:\n"
        "  - {name: us, facts: {country: US}, expect: {action: allow, rule: supported}}\n"
        "  - name: no-account\n"
        "    request: {ip: 8.8.8.8}\n"
        "    expect: {action: allow, rule: supported}\n",
    )
    assert [(r.case.name, r.passed, r.message) for r in run_file(path)] == [
        ("us", True, ""),
        ("no-account", True, ""),
    ]
