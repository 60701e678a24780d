"""The geofence command, run as a subprocess the way users run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"


def geofence(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geofence", *args], capture_output=True, text=True, cwd=cwd
    )


def test_check_answers_from_embedded_data() -> None:
    result = geofence("check", "1.0.1.1", "8.8.8.8")
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("1.0.1.1\t")
    assert "country=CN" in lines[0]
    assert "country=US" in lines[1]
    assert "AS15169" in lines[1]
    assert result.returncode == (0 if all("\tallow\t" in line for line in lines) else 1)


def test_check_json_and_exit_codes(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "name: us-only\ndefault: deny\nrules:\n"
        "  - name: us\n    action: allow\n    countries: [US]\n"
    )
    allowed = geofence("check", "--policy", str(policy), "--json", "8.8.8.8", "::ffff:8.8.4.4")
    assert allowed.returncode == 0, allowed.stderr
    records = [json.loads(line) for line in allowed.stdout.splitlines()]
    assert [r["action"] for r in records] == ["allow", "allow"]
    assert records[1]["via"] == "ipv4-mapped"
    denied = geofence("check", "--policy", str(policy), "8.8.8.8", "1.0.1.1")
    assert denied.returncode == 1
    bad_address = geofence("check", "--policy", str(policy), "127.1")
    assert bad_address.returncode == 2
    assert "not a valid IP address" in bad_address.stderr


def test_check_with_invalid_policy_exits_2(tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("name: bad\nrules:\n  - name: uk\n    action: deny\n    countries: [UK]\n")
    result = geofence("check", "--policy", str(policy), "8.8.8.8")
    assert result.returncode == 2
    assert "GB" in result.stderr


def test_lookup_shows_facts() -> None:
    result = geofence("lookup", "--json", "2002:808:808::1")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert (facts["ip"], facts["via"], facts["country"], facts["asn"]) == (
        "8.8.8.8",
        "6to4",
        "US",
        15169,
    )


def test_lookup_with_maxmind_databases() -> None:
    maxmind = DATA / "maxmind" / "test-data"
    result = geofence(
        "lookup",
        "--json",
        "--geo",
        str(maxmind / "GeoIP2-City-Test.mmdb"),
        "--geo",
        str(maxmind / "GeoIP2-Anonymous-IP-Test.mmdb"),
        "81.2.69.160",
    )
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["regions"] == ["GB-ENG"]
    assert "tor" in facts["tags"]


def test_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps({"name": "g", "rules": [{"name": "r", "action": "allow", "countries": ["XK"]}]})
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "b"\n[[rules]]\nname = "r"\naction = "allow"\ncontries = ["US"]\n')
    assert geofence("validate", str(good)).returncode == 0
    result = geofence("validate", str(bad))
    assert result.returncode == 2
    assert "countries" in result.stdout


def test_usage_error_exits_2() -> None:
    assert geofence("frobnicate").returncode == 2
    assert geofence("check").returncode == 2
