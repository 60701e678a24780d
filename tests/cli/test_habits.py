"""CLI habits: --version, did-you-mean, --help examples, --json, exit codes, check options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import geofence
from geofence.cli import COMMANDS, EXIT_ERROR, main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "policy.yaml"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"geofence {geofence.__version__}"


def test_mistyped_command_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chek", "8.8.8.8"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "unknown command 'chek' (did you mean 'check'?)" in err
    assert main(["fedes", "list"]) == EXIT_ERROR
    assert "did you mean 'feeds'?" in capsys.readouterr().err


def test_every_command_help_has_an_example_and_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--help"])
    assert "exit status: 0" in capsys.readouterr().out
    names = [c.name for c in COMMANDS]
    assert {"check", "lookup", "validate", "feeds", "replay", "test", "audit", "diff"} <= set(names)
    for name in names:
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        assert f"example:\n  geofence {name}" in out, name
        assert "1 something denied" in out, name
        assert "2 usage, policy or data error" in out, name
    for action in ("list", "update", "status"):
        assert main(["feeds", action, "--help"]) == 0
        assert "example:\n  geofence feeds" in capsys.readouterr().out


def test_check_with_path_method_headers_and_a_trusted_proxy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["check", "--policy", str(EXAMPLE), "--json", "10.0.0.5"]
    assert main(args) == 1  # the balancer's own address is private: unknown, denied
    behind = ["--trusted-proxy", "private", "--header", "X-Forwarded-For: 81.2.69.142"]
    capsys.readouterr()
    assert main([*args, *behind, "--path", "/v1/messages", "--method", "post"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert (decision["ip"], decision["country"], decision["rule"]) == (
        "81.2.69.142",
        "GB",
        "supported",
    )
    assert main([*args, "--path", "/healthz"]) == 0  # the health rule matches on the path
    assert json.loads(capsys.readouterr().out)["rule"] == "health"
    assert main([*args, "--method", "POST", "--path", "/healthz"]) == 1
    capsys.readouterr()
    assert main([*args, "--header", "no colon here"]) == EXIT_ERROR
    assert "expected 'Name: value'" in capsys.readouterr().err


def test_validate_json_lists_each_problem_as_an_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nrules:\n  - name: a\n    action: deny\n    countrys: [CU]\n"
        "  - name: b\n    action: alow\n",
        encoding="utf-8",
    )
    assert main(["validate", "--json", str(bad)]) == EXIT_ERROR
    record = json.loads(capsys.readouterr().out)
    assert record["valid"] is False
    errors = record["errors"]
    assert isinstance(errors, list)
    assert len(errors) == 2
    for error in errors:
        assert set(error) == {"file", "rule", "field", "message", "suggestion"}
        assert error["file"] == str(bad)
    first = errors[0]
    assert (first["rule"], first["field"], first["suggestion"]) == (
        "a",
        "rules[0].countrys",
        "countries",
    )
    assert errors[1]["rule"] == "b"
    assert errors[1]["field"] == "rules[1].action"


def test_feeds_list_and_status_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GEOFENCE_FEEDS_DIR", str(tmp_path))
    assert main(["feeds", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    tor = next(f for f in listed if f["name"] == "tor-exits")
    assert tor["tag"] == "tor"
    assert tor["embedded"] is True
    assert tor["snapshot_date"]
    main(["feeds", "status", "--json", "tor-exits"])
    (status,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status["name"] == "tor-exits"
    assert status["source"] == "snapshot"
    assert status["entries"] > 0
    assert status["age_days"] > 0


def test_feed_names_get_did_you_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feeds", "status", "tor-exit"]) == EXIT_ERROR
    assert "unknown feed 'tor-exit' (did you mean 'tor-exits'?" in capsys.readouterr().err
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "name: x\nfeeds: [embeded]\nrules: [{name: t, action: deny, tags: [tor]}]\n",
        encoding="utf-8",
    )
    assert main(["validate", str(policy)]) == EXIT_ERROR
    assert "unknown feed 'embeded' (did you mean 'embedded'?" in capsys.readouterr().out


def test_audit_map_refuses_an_extension_it_would_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "map.png"
    assert main(["audit", str(EXAMPLE), "--map", str(target)]) == EXIT_ERROR
    assert "name the file *.svg" in capsys.readouterr().err
    assert not target.exists()
    svg = tmp_path / "map.svg"
    assert main(["audit", str(EXAMPLE), "--map", str(svg)]) == 0
    assert svg.read_text(encoding="utf-8").startswith("<svg")


def test_test_command_reads_the_policy_the_case_file_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cases = ROOT / "examples" / "policy.geofence.yaml"
    assert main(["test", str(cases)]) == 0
    out = capsys.readouterr().out
    assert "4 passed, 0 failed (policy 'supported-regions'" in out
    assert main(["test", str(EXAMPLE), str(cases)]) == 0  # the explicit form still works


def test_sample_log_tool_has_help() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_sample_access_log.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--behind-proxy" in result.stdout
    assert "--gzip" in result.stdout


def test_embedded_paths_are_exported() -> None:
    assert geofence.example_policy_path().is_file()
    assert all(path.is_file() for path in geofence.default_geo_paths())
