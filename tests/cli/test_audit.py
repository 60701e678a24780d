"""``geofence audit`` and ``geofence diff`` as subprocesses on the example policies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "data" / "policies" / "default.yaml"
REPORT = ROOT / "data" / "policies" / "report-mode.yaml"
REGIONS = ROOT / "tests" / "data" / "policies" / "supported-regions.yaml"


def geofence(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geofence", *map(str, args)], capture_output=True, text=True
    )


def test_audit_table_and_map(tmp_path: Path) -> None:
    svg = tmp_path / "map.svg"
    result = geofence("audit", REGIONS, "--map", svg)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Audit of policy 'supported-regions' (revision ")
    assert lines[2] == "250 countries: 7 allow, 243 deny"
    rows = {tuple(line.split()[:2]): line for line in lines[4:]}
    assert "embargoed" in rows[("country", "CU")]
    assert "occupied-regions" in rows[("region", "UA-43")]
    assert "246 of 250 countries" in rows[("tag", "vpn")] or "CU IR KP SY" in rows[("tag", "vpn")]
    assert svg.read_text().startswith("<svg")
    assert "map written" in result.stderr


def test_audit_json_and_markdown() -> None:
    data = json.loads(geofence("audit", DEFAULT, "--format", "json").stdout)
    countries = {r["subject"]: r for r in data["rows"] if r["kind"] == "country"}
    assert countries["IR"]["rule"] == "embargoed"
    assert countries["CN"]["rule"] is None
    assert countries["CN"]["action"] == "deny"
    networks = [r for r in data["rows"] if r["kind"] == "network"]
    assert {r["subject"] for r in networks} >= {"10.0.0.0/8", "::1/128"}
    assert all(r["of"] == 250 and len(r["countries"]) == 250 for r in networks)
    markdown = geofence("audit", DEFAULT, "--format", "markdown").stdout
    assert markdown.startswith("# Audit of policy 'supported-regions'")
    assert "| country | IR | deny | embargoed | 451 |  |" in markdown


def test_diff_exit_codes_and_table() -> None:
    same = geofence("diff", DEFAULT, DEFAULT)
    assert same.returncode == 0
    assert "no decision changes" in same.stdout
    changed = geofence("diff", DEFAULT, REPORT)
    assert changed.returncode == 1
    assert "mode: enforce -> report" in changed.stdout
    rows = {tuple(line.split()[:2]): line for line in changed.stdout.splitlines()}
    assert ("country", "RU") not in rows  # denied by the default in both: no change
    assert "allow (supported) 200" in rows[("country", "UA")]
    assert "deny (no rule) 451" in rows[("country", "UA")]
    data = json.loads(geofence("diff", DEFAULT, REPORT, "--format", "json").stdout)
    assert data["old"]["mode"] == "enforce"
    assert data["new"]["mode"] == "report"
    ad = next(c for c in data["changes"] if c["subject"] == "AD")
    assert (ad["old"]["action"], ad["new"]["action"]) == ("allow", "deny")


def test_diff_of_an_invalid_policy_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nrules: [{name: r, action: deny, countries: [UK]}]\n")
    result = geofence("diff", DEFAULT, bad)
    assert result.returncode == 2
    assert "did you mean 'GB'" in result.stderr


def test_audit_and_diff_mention_signal_rules(tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    rule = "  - {name: farm, action: deny, signals: {network_accounts: '%s'}}\n"
    tail = "  - {name: supported, action: allow, countries: [US]}\n"
    old.write_text("name: p\nrules:\n" + rule % ">= 5" + tail)
    new.write_text("name: p\nrules:\n" + rule % ">= 3" + tail)
    audited = geofence("audit", old)
    assert "signal rules (they decide requests naming an account" in audited.stdout
    assert "): farm\n" in audited.stdout
    assert json.loads(geofence("audit", old, "--format", "json").stdout)["signal_rules"] == ["farm"]
    changed = geofence("diff", old, new)
    assert changed.returncode == 1  # no address changes, but a signal rule did
    assert "changed signal rules (they decide" in changed.stdout
    assert geofence("diff", old, old).returncode == 0
