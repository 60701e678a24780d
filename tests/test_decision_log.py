"""Decision logs through logging, redaction, counters and the Prometheus exporter."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import prometheus_client
import pytest

from geofence import Geofence
from geofence.decision_log import (
    DecisionCounter,
    DecisionLogger,
    PrometheusMetrics,
    decision_record,
    hash_addresses,
)
from geofence.testing import StaticGeo

POLICY = {
    "name": "logged",
    "default": "allow",
    "rules": [
        {"name": "embargoed", "action": "deny", "countries": ["CU"]},
        {"name": "vpn", "action": "challenge", "tags": ["vpn"]},
    ],
}
GEO = {
    "152.206.0.0/16": {"country": "CU", "asn": 27725, "as_org": "ETECSA"},
    "198.51.100.0/24": {"country": "US", "tags": ["vpn"]},
    "8.8.8.0/24": {"country": "US"},
}


def make(hook: DecisionLogger | DecisionCounter | PrometheusMetrics) -> Geofence:
    return Geofence(POLICY, geo=StaticGeo(GEO, name="test-geo"), on_decision=hook)


def test_one_json_object_per_decision(caplog: pytest.LogCaptureFixture) -> None:
    gf = make(DecisionLogger())
    with caplog.at_level(logging.INFO, logger="geofence.decisions"):
        decision = gf.evaluate("152.206.1.2")
        gf.evaluate("8.8.8.8")
    assert len(caplog.records) == 2
    record = json.loads(caplog.records[0].getMessage())
    assert record == caplog.records[0].geofence_decision  # type: ignore[attr-defined]
    assert record["decision_id"] == decision.decision_id
    assert record["policy"] == "logged"
    assert record["policy_revision"] == gf.policy.revision
    assert (record["rule"], record["action"], record["allowed"]) == ("embargoed", "deny", False)
    assert record["facts"]["ip"] == "152.206.1.2"
    assert record["facts"]["asn"] == 27725
    assert record["data_versions"] == ["test-geo static"]
    assert record["time"].endswith("+00:00")
    assert json.loads(caplog.records[1].getMessage())["rule"] is None


def test_redaction_hashes_addresses_consistently(caplog: pytest.LogCaptureFixture) -> None:
    gf = make(DecisionLogger(redact=hash_addresses("salt")))
    with caplog.at_level(logging.INFO, logger="geofence.decisions"):
        gf.evaluate("152.206.1.2")
        gf.evaluate("152.206.1.2")
        gf.evaluate("152.206.1.3")
    ips = [json.loads(r.getMessage())["facts"]["ip"] for r in caplog.records]
    assert ips[0] == ips[1] != ips[2]
    assert ips[0].startswith("hmac:")
    assert "152.206" not in caplog.text
    other = hash_addresses("pepper")(decision_record(gf.evaluate("152.206.1.2")))
    assert other["facts"]["ip"] != ips[0]
    with pytest.raises(ValueError, match="salt"):
        hash_addresses("")


def test_only_not_allowed_and_disabled_logger(caplog: pytest.LogCaptureFixture) -> None:
    counter = DecisionCounter()
    gf = make(DecisionLogger("audit.test", only_not_allowed=True, metrics=counter))
    with caplog.at_level(logging.INFO, logger="audit.test"):
        for address in ("8.8.8.8", "198.51.100.1", "152.206.1.2", "8.8.8.9"):
            gf.evaluate(address)
    assert [json.loads(r.getMessage())["rule"] for r in caplog.records] == ["vpn", "embargoed"]
    assert counter.snapshot() == {
        ("allow", None): 2,
        ("challenge", "vpn"): 1,
        ("deny", "embargoed"): 1,
    }
    assert counter.by_action() == {"allow": 2, "challenge": 1, "deny": 1}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="audit.test"):
        gf.evaluate("152.206.1.2")
    assert caplog.records == []
    assert counter.by_action()["deny"] == 2  # counted even when not logged


def test_prometheus_exporter() -> None:
    registry = prometheus_client.CollectorRegistry()
    gf = make(PrometheusMetrics(registry))
    for address in ("8.8.8.8", "8.8.8.9", "152.206.1.2"):
        gf.evaluate(address)
    labels = {"policy": "logged", "mode": "enforce"}
    allowed = {**labels, "action": "allow", "rule": ""}
    denied = {**labels, "action": "deny", "rule": "embargoed"}
    assert registry.get_sample_value("geofence_decisions_total", allowed) == 2
    assert registry.get_sample_value("geofence_decisions_total", denied) == 1
    text = prometheus_client.generate_latest(registry).decode()
    assert 'geofence_decisions_total{action="deny",mode="enforce"' in text


def test_prometheus_missing_extra_names_it() -> None:
    # A subprocess where importing prometheus_client fails as it does when it is not installed.
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "from geofence.decision_log import PrometheusMetrics\n"
        "try:\n    PrometheusMetrics()\nexcept ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install 'geofence-policy[prometheus]'" in result.stdout, result.stderr


def test_hash_addresses_redacts_ip_problem_quoting_client_hop_text() -> None:
    gf = make(DecisionLogger(redact=hash_addresses("salt")))
    record = decision_record(gf.evaluate("152.206.1.2"))
    record["facts"]["ip_problem"] = "unparseable hop '203.0.113.9x' in X-Forwarded-For"
    redacted = hash_addresses("salt")(record)
    assert "203.0.113" not in json.dumps(redacted)
    assert redacted["facts"]["ip_problem"].startswith("hmac:")
