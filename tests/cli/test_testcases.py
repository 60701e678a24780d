"""``geofence test`` as a subprocess, on the example policies and shipped case files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "tests" / "data" / "policies"
DEFAULT_POLICY = ROOT / "data" / "policies" / "default.yaml"


def geofence(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geofence", *map(str, args)], capture_output=True, text=True
    )


def test_all_pass_exit_0() -> None:
    result = geofence("test", DEFAULT_POLICY, POLICIES / "default.geofence.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("default.geofence.toml: embargoed country is blocked")
    assert lines[0].startswith("PASS  ")
    assert lines[-1].startswith("5 passed, 0 failed (policy 'supported-regions', revision ")


def test_a_failure_exit_1(tmp_path: Path) -> None:
    cases = tmp_path / "x.geofence.yaml"
    cases.write_text(
        "cases:\n"
        "  - {name: north korea, facts: {country: KP}, expect: {action: deny}}\n"
        "  - {name: russia, facts: {country: RU}, expect: {action: allow}}\n"
    )
    result = geofence("test", "-q", DEFAULT_POLICY, cases)
    assert result.returncode == 1
    assert "PASS" not in result.stdout  # -q prints failures only
    assert f"FAIL  {cases}: russia" in result.stdout
    assert "expected action 'allow'; got deny by no rule" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 passed, 1 failed")


def test_invalid_case_file_exit_2(tmp_path: Path) -> None:
    cases = tmp_path / "x.geofence.yaml"
    cases.write_text("cases:\n  - {name: typo, facts: {country: CU}, expect: {rule: embargo}}\n")
    result = geofence("test", DEFAULT_POLICY, cases, POLICIES / "default.geofence.toml")
    assert result.returncode == 2
    assert f"ERROR {cases}: invalid case file" in result.stdout
    assert "expects rule 'embargo'" in result.stdout
    assert "5 passed, 0 failed, 1 errors" in result.stdout


def test_invalid_policy_exit_2(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\nrules: [{name: r, action: deny, countries: [UK]}]\n")
    result = geofence("test", policy, POLICIES / "default.geofence.toml")
    assert result.returncode == 2
    assert "did you mean 'GB'" in result.stderr
