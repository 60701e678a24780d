"""``geofence validate --geo/--feeds``: a policy checked against the data it will run on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geofence import Geofence
from geofence.cli import EXIT_ERROR, EXIT_NOT_ALLOWED, EXIT_OK, main
from geofence.data_checks import DATA_CHECKS, check_against_data

ROOT = Path(__file__).resolve().parents[2]
ANONYMOUS = ROOT / "tests" / "data" / "maxmind" / "test-data" / "GeoIP2-Anonymous-IP-Test.mmdb"
COUNTRY = ROOT / "data" / "dbip-country.mmdb"


@pytest.fixture
def tag_policy(tmp_path: Path) -> Path:
    policy = tmp_path / "anon.yaml"
    policy.write_text(
        "name: anon\ndefault: allow\nrules:\n"
        "  - {name: anonymizers, action: deny, tags: [public_proxy, vpn]}\n",
        encoding="utf-8",
    )
    return policy


def test_without_data_options_validate_checks_the_file_only(
    tag_policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tag_policy)]) == EXIT_OK
    assert "OK" in capsys.readouterr().out


def test_tag_rules_without_a_tag_source_are_invalid_for_that_data(
    tag_policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--geo", str(COUNTRY), str(tag_policy)]) == EXIT_ERROR
    out = capsys.readouterr().out
    assert "INVALID" in out
    assert "uses tags, but no geo source provides tags" in out


def test_a_tag_no_configured_feed_gives_is_a_finding(
    tag_policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--feeds", str(tag_policy)]) == EXIT_NOT_ALLOWED
    out = capsys.readouterr().out
    assert "1 warnings" in out
    assert "gives the tag 'public_proxy'" in out
    assert main(["validate", "--json", "--feed", "tor-exits", str(tag_policy)]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["valid"] is True
    assert [w["rule"] for w in record["warnings"]] == ["anonymizers", "anonymizers"]
    assert {w["field"] for w in record["warnings"]} == {"rules (anonymizers).tags"}


def test_a_database_that_gives_tags_satisfies_every_tag(
    tag_policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["validate", "--geo", str(COUNTRY), "--geo", str(ANONYMOUS), str(tag_policy)]
    assert main(args) == EXIT_OK, capsys.readouterr().out


def test_unknown_feed_tag_is_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "name: p\ndefault: allow\nrules: [{name: ci, action: deny, tags: [feed:github]}]\n",
        encoding="utf-8",
    )
    assert main(["validate", "--feeds", str(policy)]) == EXIT_ERROR
    assert "no feed 'github' is configured" in capsys.readouterr().out


def test_data_checks_is_the_hook_for_more_checks(tag_policy: Path) -> None:
    calls: list[str] = []
    DATA_CHECKS.append(lambda gf: calls.append(gf.policy.name) or [])
    try:
        with Geofence(tag_policy, feeds="embedded", reload_interval=None) as gf:
            assert len(check_against_data(gf)) == 1
    finally:
        DATA_CHECKS.pop()
    assert calls == ["anon"]
