"""``geofence replay`` on the policy one deploys: feeds, a proxy in front, gzipped logs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from geofence.cli import EXIT_ERROR, main
from geofence.replay import parse_line

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "replay"
EXAMPLE = ROOT / "examples" / "policy.yaml"  # names `feeds: [embedded]`
BEHIND = DATA / "access-behind-proxy.log.gz"  # peer 10.0.0.5, client in X-Forwarded-For


def _report(capsys: pytest.CaptureFixture[str], *args: str | Path) -> dict[str, object]:
    capsys.readouterr()
    assert main(["replay", *map(str, args), "--json", "--no-progress"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_gzipped_log_behind_a_proxy_replays_as_the_clients(
    capsys: pytest.CaptureFixture[str],
) -> None:
    direct = _report(capsys, EXAMPLE, DATA / "access.log")
    behind = _report(capsys, EXAMPLE, BEHIND, "--trusted-proxy", "10.0.0.5/32")
    assert behind["requests"] == direct["requests"] == 2001
    assert behind["blocked_by_country"] == direct["blocked_by_country"]
    assert behind["rules"] == direct["rules"]
    untrusted = _report(capsys, EXAMPLE, BEHIND)  # the balancer's private address: unknown
    assert untrusted["blocked_by_country"] == {"??": untrusted["blocked"]}


def test_policy_naming_embedded_feeds_replays_and_feeds_tag_addresses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = gzip.decompress((ROOT / "data" / "feeds" / "tor-exits.txt.gz").read_bytes())
    exit_node = next(
        line.strip()
        for line in snapshot.decode("utf-8").splitlines()
        if line.strip() and not line.startswith("#") and ":" not in line
    )
    log = tmp_path / "tor.log"
    log.write_text(
        f'{exit_node} - - [01/Jun/2026:00:00:01 +0000] "GET /v1/models HTTP/1.1" 200 5 "-" "x"\n',
        encoding="utf-8",
    )
    report = _report(capsys, EXAMPLE, log)
    assert report["blocked_by_tag"]["tor"] == 1  # type: ignore[index]
    plain = tmp_path / "plain.yaml"
    plain.write_text(
        "name: p\nrules: [{name: anon, action: deny, tags: [tor]}]\ndefault: allow\n",
        encoding="utf-8",
    )
    assert _report(capsys, plain, log, "--feeds")["blocked_by_tag"]["tor"] == 1  # type: ignore[index]


@pytest.mark.parametrize(
    "content",
    [b"\x1f\x8b\x08\x00garbage that is no deflate stream", bytes(range(256)) * 8],
    ids=["corrupt-gzip", "binary"],
)
def test_unreadable_input_is_an_error_not_zero_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(content)
    assert main(["replay", str(EXAMPLE), str(log), "--no-progress"]) == EXIT_ERROR
    assert f"{log}" in capsys.readouterr().err


def test_gzip_is_detected_by_content_not_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "access.log.1"  # logrotate's compressed names do not always end in .gz
    log.write_bytes(gzip.compress((DATA / "access.log").read_bytes()))
    assert _report(capsys, EXAMPLE, log)["requests"] == 2001


def test_forwarded_chain_is_read_from_combined_and_json_lines() -> None:
    line = '10.0.0.5 - - [01/Jun/2026:00:00:01 +0000] "GET /v1 HTTP/1.1" 200 5 "-" "ua" "1.2.3.4"'
    assert parse_line(line) is not None
    assert parse_line(line).forwarded == "1.2.3.4"  # type: ignore[union-attr]
    plain = '10.0.0.5 - - [01/Jun/2026:00:00:01 +0000] "GET /v1 HTTP/1.1" 200 5 "-" "ua" "-"'
    assert parse_line(plain).forwarded is None  # type: ignore[union-attr]
    record = '{"remote_addr": "10.0.0.5", "x_forwarded_for": "1.2.3.4, 10.0.0.9"}'
    assert parse_line(record).forwarded == "1.2.3.4, 10.0.0.9"  # type: ignore[union-attr]


def test_policy_embedded_feeds_together_with_feeds_embedded() -> None:
    from geofence import Geofence

    # The policy names `feeds: [embedded]`; the caller passes feeds="embedded" as well.
    with Geofence(EXAMPLE, feeds="embedded", reload_interval=None) as gf:
        assert "tor-exits" in gf.feeds.names  # type: ignore[union-attr]
