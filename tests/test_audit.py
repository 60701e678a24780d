"""audit() and diff(): decisions for every country and every subject a policy names."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from geofence.audit import Subject, all_countries, audit, changed_signal_rules, diff, signal_rules
from geofence.audit_map import outlines, world_map_svg
from geofence.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "data" / "policies" / "default.yaml"
REGIONS = ROOT / "tests" / "data" / "policies" / "supported-regions.yaml"

BASE = {
    "name": "p",
    "default": "deny",
    "rules": [
        {"name": "embargoed", "action": "deny", "countries": ["CU"]},
        {"name": "vpn", "action": "challenge", "tags": ["vpn"], "unless": {"countries": ["GB"]}},
        {"name": "supported", "action": "allow", "countries": ["US", "GB"]},
    ],
}


def test_all_countries_is_iso_3166_1_plus_kosovo() -> None:
    codes = all_countries()
    assert len(codes) == 250
    assert {"US", "XK", "AQ", "NO"} <= set(codes)
    assert list(codes) == sorted(codes)


def test_every_country_gets_a_row_with_its_rule() -> None:
    rows = audit(DEFAULT)
    by_country = {r.subject.value: r.outcome for r in rows if r.subject.kind == "country"}
    assert len(by_country) == 250
    assert str(by_country["KP"]) == "deny (embargoed)"
    assert by_country["KP"].status == 451
    assert str(by_country["NO"]) == "allow (supported)"
    assert str(by_country["RU"]) == "deny (no rule)"
    (unknown,) = [r for r in rows if r.subject.kind == "unknown"]
    assert str(unknown.outcome) == "deny (no rule)"


def test_tags_are_tried_with_every_country() -> None:
    rows = [r for r in audit(BASE) if r.subject == Subject("tag", "vpn")]
    by_outcome = {str(r.outcome): r.countries for r in rows}
    assert set(by_outcome) == {"challenge (vpn)", "deny (embargoed)", "allow (supported)"}
    assert by_outcome["deny (embargoed)"] == ("CU",)
    assert by_outcome["allow (supported)"] == ("GB",)  # the unless exception
    assert len(by_outcome["challenge (vpn)"]) == 248
    assert all(r.of == 250 for r in rows)


def test_regions_networks_are_audited_where_named() -> None:
    rows = audit(REGIONS)
    kinds = {(r.subject.kind, r.subject.value): str(r.outcome) for r in rows}
    assert kinds[("region", "UA-43")] == "deny (occupied-regions)"
    assert kinds[("network", "203.0.113.0/24")] == "allow (office)"
    assert kinds[("network", "2001:db8::/32")] == "allow (office)"


def test_the_path_is_decided_on() -> None:
    report = ROOT / "data" / "policies" / "report-mode.yaml"
    at_root = {
        r.subject.value: str(r.outcome) for r in audit(report) if r.subject.kind == "country"
    }
    at_health = {
        r.subject.value: str(r.outcome)
        for r in audit(report, path="/healthz", method="GET")
        if r.subject.kind == "country"
    }
    assert at_root["CU"] == "deny (embargoed)"
    assert at_health["CU"] == "allow (health-checks)"


def test_diff_lists_only_what_changes() -> None:
    assert diff(BASE, BASE) == []
    new = {
        **BASE,
        "rules": [
            {"name": "embargoed", "action": "deny", "countries": ["CU", "IR"]},
            *BASE["rules"][1:],  # type: ignore[misc]
        ],
    }
    changes = diff(BASE, new)
    summary = {
        (c.subject.kind, c.subject.value, str(c.old), str(c.new), c.countries) for c in changes
    }
    assert summary == {
        ("country", "IR", "deny (no rule)", "deny (embargoed)", ()),
        ("tag", "vpn", "challenge (vpn)", "deny (embargoed)", ("IR",)),
    }


def test_diff_sees_a_status_change_and_new_networks() -> None:
    new = {
        **BASE,
        "rules": [
            {"name": "office", "action": "allow", "networks": ["203.0.113.0/24"]},
            {"name": "embargoed", "action": "deny", "status": 403, "countries": ["CU"]},
            *BASE["rules"][1:],  # type: ignore[misc]
        ],
    }
    changes = diff(BASE, new)
    office = [c for c in changes if c.subject == Subject("network", "203.0.113.0/24")]
    assert {str(c.new) for c in office} == {"allow (office)"}
    # US and GB were allowed before too, but by another rule: that is a change as well.
    assert sum(len(c.countries) for c in office) == 250
    (rule_only,) = [c for c in office if c.old.action == "allow"]
    assert (rule_only.countries, str(rule_only.old)) == (("GB", "US"), "allow (supported)")
    (cuba,) = [c for c in changes if c.subject == Subject("country", "CU")]
    assert (cuba.old.status, cuba.new.status) == (451, 403)


def test_map_colours_countries_by_action() -> None:
    policy = load_policy(DEFAULT)
    by_country = {r.subject.value: r.outcome for r in audit(policy) if r.subject.kind == "country"}
    svg = world_map_svg(policy, by_country)
    root = ElementTree.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    fills = {
        p.find("s:title", ns).text.split(":")[0]: p.get("fill")  # type: ignore[union-attr]
        for p in root.iter("{http://www.w3.org/2000/svg}path")
    }
    assert len(fills) == len(outlines()) >= 170
    assert fills["US"] == "#3a8d3f"
    assert fills["RU"] == fills["KP"] == "#c0392b"
    assert "Made with Natural Earth" in svg
    assert "Too small to draw at this scale" in svg
    assert "SG" in svg.split("Too small to draw")[1]  # Singapore is listed, not drawn


FARM_FIRST = {
    "name": "farms",
    "default": "deny",
    "rules": [
        {"name": "farm", "action": "deny", "signals": {"network_new_accounts": ">= 10"}},
        {
            "name": "risky",
            "action": "challenge",
            "countries": ["US"],
            "signals": {"score": "> 0.5"},
        },
        {"name": "supported", "action": "allow", "countries": ["US", "GB"]},
    ],
}


def test_a_signals_rule_never_matches_an_address_alone() -> None:
    # No address keys does not mean "every address": without an account the rule cannot hold.
    rows = audit(FARM_FIRST)
    assert {r.outcome.rule for r in rows} == {None, "supported"}
    by_country = {r.subject.value: str(r.outcome) for r in rows if r.subject.kind == "country"}
    assert by_country["US"] == "allow (supported)"
    assert signal_rules(load_policy(FARM_FIRST)) == ("farm", "risky")


def test_diff_names_changed_signal_rules() -> None:
    rules = list(FARM_FIRST["rules"])  # type: ignore[call-overload]
    stricter = {
        **FARM_FIRST,
        "rules": [{**rules[0], "signals": {"network_new_accounts": ">= 5"}}, *rules[1:]],
    }
    old, new = load_policy(FARM_FIRST), load_policy(stricter)
    assert diff(old, new) == []  # no address decides differently
    assert changed_signal_rules(old, new) == ("farm",)
    assert changed_signal_rules(old, old) == ()
    moved = {**FARM_FIRST, "rules": [rules[2], rules[0], rules[1]]}
    assert changed_signal_rules(old, load_policy(moved)) == ("farm", "risky")
