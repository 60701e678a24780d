"""Decision logs and metrics: an ``on_decision`` hook logging one JSON object per decision.

>>> import logging
>>> from geofence import Geofence                                     # doctest: +SKIP
>>> counts = DecisionCounter()
>>> hook = DecisionLogger(redact=hash_addresses("a secret salt"), metrics=counts)
>>> gf = Geofence("policy.yaml", on_decision=hook)                   # doctest: +SKIP

Every record carries the decision id, time, policy name and revision, the rule, the action and
the facts with the versions of the data they came from, so a decision can be explained and
replayed later (as OPA's decision logs are). Records go through ``logging`` (logger
``geofence.decisions`` by default): the message is the JSON text, and the dict is attached as
``record.geofence_decision`` for structured handlers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from geofence.decision import Decision

__all__ = [
    "DecisionCounter",
    "DecisionLogger",
    "PrometheusMetrics",
    "decision_record",
    "hash_addresses",
]

Redactor = Callable[[dict[str, Any]], dict[str, Any]]
"""Takes a decision record, returns the record to log (may change it in place)."""
MetricsHook = Callable[[Decision], None]
"""Told of every decision (counters, histograms...)."""


def decision_record(decision: Decision) -> dict[str, Any]:
    """The JSON-serialisable log record of one decision."""
    facts = decision.to_dict()
    return {
        "decision_id": decision.decision_id,
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "policy": decision.policy_name,
        "policy_revision": decision.policy_revision,
        "mode": decision.mode.value,
        "rule": decision.rule,
        "action": decision.action.value,
        "allowed": decision.allowed,
        "status": decision.status,
        "reasons": list(decision.reasons),
        "facts": {
            key: facts[key]
            for key in (
                "ip",
                "original_ip",
                "via",
                "ip_source",
                "ip_problem",
                "country",
                "registered_country",
                "represented_country",
                "regions",
                "continent",
                "asn",
                "as_org",
                "tags",
            )
        },
        "data_versions": facts["data_versions"],
        "data_errors": facts["data_errors"],
    }


def hash_addresses(salt: str | bytes) -> Redactor:
    """A redactor replacing the client addresses by a keyed hash (HMAC-SHA-256, 16 hex digits).

    The same address hashes alike under one salt, so logs can still be correlated; without the
    salt the address cannot be recovered by hashing every IPv4 address.
    """
    key = salt.encode() if isinstance(salt, str) else salt
    if not key:
        raise ValueError("hash_addresses needs a non-empty salt")

    def redact(record: dict[str, Any]) -> dict[str, Any]:
        facts = record["facts"]
        # ip_problem quotes the hop text a client wrote, which may be an address.
        for name in ("ip", "original_ip", "ip_problem"):
            value = facts.get(name)
            if value is not None:
                digest = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
                facts[name] = "hmac:" + digest[:16]
        return record

    return redact


class DecisionLogger:
    """An ``on_decision`` hook: log each decision as one JSON object, and feed a metrics hook.

    ``only_not_allowed`` logs only decisions whose action is not allow (counting all of them).
    """

    def __init__(
        self,
        logger: logging.Logger | str = "geofence.decisions",
        *,
        level: int = logging.INFO,
        redact: Redactor | None = None,
        metrics: MetricsHook | None = None,
        only_not_allowed: bool = False,
    ) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level
        self.redact = redact
        self.metrics = metrics
        self.only_not_allowed = only_not_allowed

    def __call__(self, decision: Decision) -> None:
        if self.metrics is not None:
            self.metrics(decision)
        if self.only_not_allowed and decision.action == "allow":
            return
        if not self.logger.isEnabledFor(self.level):
            return  # build no record nobody will read
        record = decision_record(decision)
        if self.redact is not None:
            record = self.redact(record)
        text = json.dumps(record, separators=(",", ":"))
        self.logger.log(self.level, text, extra={"geofence_decision": record})


class DecisionCounter:
    """A metrics hook counting decisions per ``(action, rule)`` (rule ``None``: the fallback)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str | None]] = Counter()

    def __call__(self, decision: Decision) -> None:
        key = (decision.action.value, decision.rule)
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[tuple[str, str | None], int]:
        """The counts so far."""
        with self._lock:
            return dict(self._counts)

    def by_action(self) -> dict[str, int]:
        """Totals per action."""
        totals: Counter[str] = Counter()
        for (action, _), n in self.snapshot().items():
            totals[action] += n
        return dict(totals)


class PrometheusMetrics:
    """A metrics hook exporting ``geofence_decisions_total{policy,mode,action,rule}``.

    Needs the ``prometheus`` extra: ``pip install 'geofence-policy[prometheus]'``. The counter is
    registered in ``registry`` (default: prometheus_client's global registry).
    """

    def __init__(self, registry: Any = None, *, name: str = "geofence_decisions") -> None:
        try:
            import prometheus_client
        except ImportError:
            raise ImportError(
                "PrometheusMetrics needs prometheus-client: "
                "pip install 'geofence-policy[prometheus]'"
            ) from None
        self.counter = prometheus_client.Counter(
            name,
            "geofence decisions by policy, mode, action and matched rule",
            ["policy", "mode", "action", "rule"],
            registry=registry if registry is not None else prometheus_client.REGISTRY,
        )

    def __call__(self, decision: Decision) -> None:
        self.counter.labels(
            decision.policy_name,
            decision.mode.value,
            decision.action.value,
            decision.rule or "",
        ).inc()
