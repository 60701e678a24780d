"""``geofence replay`` on logs with account fields, and ``geofence check --account``: signals
measured on the log's own times, per-decision signals in --json, flagged accounts in text."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from geofence.cli import main
from geofence.testing.redis_server import command as redis_command

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
POLICY = {
    "name": "farms",
    "default": "allow",
    "rules": [
        {"name": "farm-network", "action": "deny", "signals": {"network_new_accounts": ">= 10"}},
    ],
}


def _line(account: str | None, ip: str, when: datetime | str, **extra: Any) -> str:
    record: dict[str, Any] = {"client_ip": ip, "path": "/v1/messages", "method": "POST"}
    record["time"] = when.isoformat() if isinstance(when, datetime) else when
    if account is not None:
        record.update(account=account, declared_country="GB", fingerprint="fp-1")
    record.update(extra)
    return json.dumps(record)


def _farm(spacing: timedelta, rounds: int = 2) -> list[str]:
    """12 new accounts on one /24, ``spacing`` apart, ``rounds`` requests each, plus alice."""
    lines = []
    for r in range(rounds):
        for i in range(12):
            when = T0 + spacing * i + timedelta(seconds=r)
            lines.append(_line(f"farm-{i}", f"81.2.69.{10 + i}", when))
        lines.append(_line("alice", "8.8.8.8", T0 + timedelta(hours=r), declared_country="US"))
    return lines


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    policy = tmp_path / "farms.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    return policy, tmp_path / "access.jsonl"


def _replay(files: tuple[Path, Path], lines: list[str], *args: str) -> str:
    policy, log = files
    log.write_text("\n".join(lines) + "\n")
    assert main(["replay", str(policy), str(log), "--no-progress", *args]) == 0
    return log.name


def test_text_report_names_the_flagged_accounts(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _replay(files, _farm(timedelta(minutes=1)))
    out = capsys.readouterr().out
    assert "13 accounts named; 12 flagged by signal rules" in out
    assert "farm-9" in out
    assert "(first: request 1)" in out  # farm-9 is the 10th new account: flagged at once
    # 10 new accounts is under the default threshold (30): the rule, not the default, flags it
    assert "rule farm-network" in out
    assert "network_new_accounts=10 (threshold " not in out
    assert "alice" not in out.split("accounts:")[-1]


def test_the_log_times_drive_the_windows(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # The same 12 accounts, three hours apart: never 10 new ones within a day of each other
    # (replayed on the wall clock, all would fall in one window and be flagged).
    _replay(files, _farm(timedelta(hours=3), rounds=1), "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["accounts"]["flagged"] == []
    most = max(d["signals"]["network_new_accounts"]["value"] for d in data["decisions"])
    assert 7 <= most <= 9  # 24 h / 3 h, give or take the window's time buckets


def test_json_lists_each_account_decision_with_its_signals(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _farm(timedelta(minutes=1))
    lines.append(_line("bob", "8.8.8.8", T0, declared_country="USA"))  # dropped, counted
    lines.append(_line("bob", "8.8.8.8", "yesterday"))
    lines.append('81.2.69.1 - - [01/Jun/2026:09:30:00 +0000] "GET / HTTP/1.1" 200 5')
    _replay(files, lines, "--json")
    data = json.loads(capsys.readouterr().out)
    decisions = data["decisions"]
    assert len(decisions) == 28  # every request naming an account, none of the others
    first = decisions[0]
    assert (first["line"], first["account"], first["time"]) == (1, "farm-0", T0.isoformat())
    tenth = next(d for d in decisions if d["account"] == "farm-9")
    assert tenth["rule"] == "farm-network"
    assert tenth["signals"]["network_new_accounts"]["value"] == 10
    assert tenth["signals"]["fingerprint_accounts"]["value"] == 10
    # 10 new accounts and 10 on one fingerprint are under the defaults (30, 25): the rule
    # flags it, the score does not yet
    assert 0.0 <= tenth["score"] < 0.5
    flagged = {a["account"]: a for a in data["accounts"]["flagged"]}
    assert set(flagged) == {f"farm-{i}" for i in range(12)}
    assert flagged["farm-0"]["first_flagged_request"] == 2
    assert data["unreadable_fields"] == {"declared_country": 1, "time": 1}
    assert data["requests"] == 29


def test_replay_through_a_real_redis(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], redis_server: Any
) -> None:
    redis_command(redis_server.port, "FLUSHALL")
    _replay(files, _farm(timedelta(minutes=1)), "--store", redis_server.url)
    assert "12 flagged by signal rules" in capsys.readouterr().out


def test_check_prints_the_signals_of_an_account(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", "81.2.69.160", "--account", "a1", "--declared-country", "us"]
    assert main([*args, "--fingerprint", "fp-9"]) == 0
    out = capsys.readouterr().out
    assert "score 0.000" in out
    assert "! declared_mismatch" in out  # 1 of 1 requests outside the declared US
    assert "fingerprint_accounts" in out
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["signals"]["declared_mismatch"]["evidence"][0].startswith("declared US, seen GB")
    assert main(["check", "81.2.69.160"]) == 0
    assert "score" not in capsys.readouterr().out  # no account, no signals


def test_check_refuses_caller_fields_without_an_account(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "81.2.69.160", "--fingerprint", "fp"]) == 2
    assert "describe an --account" in capsys.readouterr().err
    assert main(["check", "81.2.69.160", "--account", "a", "--declared-country", "USA"]) == 2
    assert "ISO 3166-1 alpha-2" in capsys.readouterr().err
