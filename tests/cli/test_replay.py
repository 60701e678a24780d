"""``geofence replay`` as a subprocess on the shipped sample logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "replay"
DEFAULT = ROOT / "data" / "policies" / "default.yaml"
REPORT = ROOT / "data" / "policies" / "report-mode.yaml"


def geofence(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geofence", *map(str, args)], capture_output=True, text=True
    )


def test_replay_combined_log_with_progress_bar() -> None:
    result = geofence("replay", DEFAULT, DATA / "access.log", "--progress")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Replay of 2,001 requests (2,002 lines, 1 not understood)")
    assert "blocked by rule:\n  (default)" in result.stdout
    assert "\n  embargoed " in result.stdout
    assert "100% 2,002 lines" in result.stderr  # the bar, finished
    quiet = geofence("replay", DEFAULT, DATA / "access.log")
    assert quiet.stderr == ""  # not a tty: no bar unless asked


def test_replay_json_lines_as_json() -> None:
    result = geofence("replay", REPORT, DATA / "access.jsonl", "--json")
    data = json.loads(result.stdout)
    assert data["policy"] == "supported-regions-dry-run"
    assert (data["lines"], data["requests"]) == (200, 200)
    assert data["rules"]["health-checks"] > 0  # path and method are read from the JSON
    assert data["blocked"] == sum(data["blocked_by_rule"].values())


def test_replay_missing_file_exits_2(tmp_path: Path) -> None:
    result = geofence("replay", DEFAULT, tmp_path / "nope.log")
    assert result.returncode == 2
    assert "cannot read" in result.stderr
