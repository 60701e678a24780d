"""parse_line and replay(), on the shipped sample logs and on hand-made lines."""

from __future__ import annotations

from pathlib import Path

from geofence import Geofence
from geofence.replay import LogEntry, parse_line, replay
from geofence.testing import StaticGeo

DATA = Path(__file__).parent / "data" / "replay"
DEFAULT = Path(__file__).resolve().parents[1] / "data" / "policies" / "default.yaml"


def test_parse_combined_and_json_lines() -> None:
    combined = (
        '2001:db8::7 - alice [01/Jun/2026:10:00:00 +0000] "post /v1/messages?beta=1 HTTP/2.0" '
        '201 96 "-" "curl/8"'
    )
    assert parse_line(combined) == LogEntry("2001:db8::7", "/v1/messages", "POST")
    assert parse_line('{"remote_addr": "192.0.2.1", "uri": "/x?y", "request_method": "put"}') == (
        LogEntry("192.0.2.1", "/x", "PUT")
    )
    assert parse_line('{"peer": "192.0.2.1"}') is None
    assert parse_line('{"peer": "192.0.2.1"}', address_field="peer") == LogEntry(
        "192.0.2.1", "/", "GET"
    )
    assert parse_line("{not json") is None
    assert parse_line("[1, 2]") is None
    assert parse_line("garbage") is None


def test_replay_of_the_sample_log_with_embedded_data() -> None:
    with Geofence(DEFAULT, reload_interval=None) as gf, (DATA / "access.log").open() as log:
        report = replay(gf, log)
    assert (report.lines, report.unparsed, report.requests) == (2002, 1, 2001)
    assert report.no_address == 1  # the "-" address
    assert report.actions["allow"] + report.actions["deny"] == 2001
    assert report.blocked == report.actions["deny"] > 0
    assert set(report.blocked_countries) >= {"CN", "RU", "IR", "CU", "KP", "SY"}
    assert "US" not in report.blocked_countries
    assert report.blocked_rules["embargoed"] == sum(
        report.blocked_countries[c] for c in ("CU", "IR", "KP", "SY")
    )
    assert report.blocked_rules["(unknown)"] == 1


def test_replay_counts_tags_and_progress() -> None:
    policy = {
        "name": "anon",
        "default": "allow",
        "unknown": "allow",
        "rules": [{"name": "vpn", "action": "challenge", "tags": ["vpn"]}],
    }
    geo = StaticGeo({"192.0.2.0/24": {"country": "US", "tags": ["vpn", "hosting"]}})
    lines = [
        '{"client_ip": "192.0.2.1"}\n',
        '{"client_ip": "198.51.100.1"}\n',
        "\n",
    ]
    seen: list[int] = []
    report = replay(Geofence(policy, geo=geo), lines, progress=seen.append)
    assert seen == [len(line) for line in lines]
    assert report.to_dict()["blocked_by_tag"] == {"vpn": 1, "hosting": 1}
    assert report.to_dict()["blocked_by_rule"] == {"vpn": 1}
    assert report.unparsed == 1
