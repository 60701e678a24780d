"""What ``replay`` reads and reports about callers: a log line's account fields and request
time, and the tally of the accounts the policy's signal rules flagged.

A JSON log line may carry ``account`` (or ``account_id``; a number is read as its decimal
text), ``declared_country``, ``fingerprint``, ``account_created`` and ``time`` (or
``timestamp``, ``@timestamp``, ``ts``): times as ISO 8601 text (naive = UTC) or seconds since
the epoch (milliseconds when above 10^11, as JavaScript loggers write them). A combined-format
line's ``[01/Jun/2026:00:00:01 +0000]`` is its time. The request times drive the signal
windows, so a day of log replays as that day did. A value that cannot be read is dropped, the
request replayed without it, and counted per field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

from geofence.decision import Decision

__all__ = ["AccountTally", "Caller", "caller_of", "log_time"]

_TIME_FIELDS = ("time", "timestamp", "@timestamp", "ts")
_ACCOUNT_FIELDS = ("account", "account_id")
_MILLISECONDS = 1e11  # an epoch value above this is in ms: 10^11 s is the year 5138
_LONGEST = 256  # characters kept of an account id or fingerprint read from a log
FLAGGED_KEPT = 100_000  # accounts tallied: bounds memory on a log of endless distinct accounts


class Caller(NamedTuple):
    """The caller fields of one log line (``Request`` keyword arguments), all optional."""

    account: str | None = None
    declared_country: str | None = None
    fingerprint: str | None = None
    account_created: datetime | None = None
    time: datetime | None = None


def log_time(value: object) -> datetime | None:
    """A logged time as an aware datetime, or ``None`` if it is none of the forms above.

    >>> log_time("2026-06-01T12:00:00Z").isoformat()
    '2026-06-01T12:00:00+00:00'
    >>> log_time(1780315200).isoformat()
    '2026-06-01T12:00:00+00:00'
    """
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            seconds = value / 1000 if value > _MILLISECONDS else value
            return datetime.fromtimestamp(seconds, timezone.utc)
        if isinstance(value, str):
            when = datetime.fromisoformat(value.strip())
            return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def combined_time(stamp: str) -> datetime | None:
    """``01/Jun/2026:00:00:01 +0000`` (the bracketed time of a combined-format line)."""
    try:
        return datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        return None


def caller_of(record: Mapping[str, Any], bad: Counter[str]) -> Caller:
    """The caller fields of a JSON log ``record``; each unreadable one is counted in ``bad``."""
    account = _text(record, _ACCOUNT_FIELDS, "account", bad, numbers=True)
    country = _text(record, ("declared_country",), "declared_country", bad)
    if country is not None:
        country = country.strip().upper()
        if not (len(country) == 2 and country.isascii() and country.isalpha()):
            bad["declared_country"] += 1
            country = None
    fingerprint = _text(record, ("fingerprint",), "fingerprint", bad)
    created = _time(record, ("account_created",), "account_created", bad)
    return Caller(account, country, fingerprint, created, _time(record, _TIME_FIELDS, "time", bad))


def _text(
    record: Mapping[str, Any],
    keys: tuple[str, ...],
    name: str,
    bad: Counter[str],
    numbers: bool = False,
) -> str | None:
    value = next((record[k] for k in keys if record.get(k) not in (None, "")), None)
    if value is None:
        return None
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        bad[name] += 1
        return None
    return value[:_LONGEST]


def _time(
    record: Mapping[str, Any], keys: tuple[str, ...], name: str, bad: Counter[str]
) -> datetime | None:
    value = next((record[k] for k in keys if record.get(k) not in (None, "")), None)
    if value is None:
        return None
    when = log_time(value)
    if when is None:
        bad[name] += 1
    return when


@dataclass
class _Account:
    requests: int = 0
    flagged: int = 0
    first_flagged: int = 0  # the account's request number that was first flagged
    top_score: float = 0.0
    rules: Counter[str] = field(default_factory=Counter)
    tripped: tuple[str, ...] = ()  # signals at or over their default threshold at the first flag


class AccountTally:
    """Per account named in the log: requests, and those a signal rule did not allow."""

    def __init__(self, signal_rules: frozenset[str]) -> None:
        self._signal_rules = signal_rules
        self._accounts: dict[str, _Account] = {}
        self.untracked = 0
        """Requests of accounts beyond the first ``FLAGGED_KEPT`` seen (counted only)."""

    def observe(self, account: str, decision: Decision) -> None:
        seen = self._accounts.get(account)
        if seen is None:
            if len(self._accounts) >= FLAGGED_KEPT:
                self.untracked += 1
                return
            seen = self._accounts[account] = _Account()
        seen.requests += 1
        seen.top_score = max(seen.top_score, decision.score)
        if decision.action.value == "allow" or decision.rule not in self._signal_rules:
            return
        seen.flagged += 1
        seen.rules[decision.rule] += 1
        if seen.flagged == 1:
            seen.first_flagged = seen.requests
            seen.tripped = tuple(
                f"{name}={signal.value:g} (threshold {signal.threshold:g})"
                for name, signal in decision.signals.items()
                if signal.threshold is not None and signal.value >= signal.threshold
            )

    @property
    def named(self) -> int:
        """Distinct accounts tallied."""
        return len(self._accounts)

    def flagged(self) -> list[tuple[str, _Account]]:
        """The flagged accounts, highest score first."""
        found = [(name, a) for name, a in self._accounts.items() if a.flagged]
        return sorted(found, key=lambda item: (-item[1].top_score, item[0]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "named": self.named,
            "untracked_requests": self.untracked,
            "flagged": [
                {
                    "account": name,
                    "requests": a.requests,
                    "flagged_requests": a.flagged,
                    "first_flagged_request": a.first_flagged,
                    "top_score": a.top_score,
                    "rules": dict(a.rules.most_common()),
                    "signals_over_threshold": list(a.tripped),
                }
                for name, a in self.flagged()
            ],
        }

    def lines(self, top: int) -> list[str]:
        """The text report: a count, then the ``top`` flagged accounts."""
        flagged = self.flagged()
        out = [f"{self.named:,} accounts named; {len(flagged):,} flagged by signal rules"]
        for name, a in flagged[:top]:
            rules = ",".join(a.rules)
            out.append(
                f"  {name[:32]:<32} score {a.top_score:.2f}  {a.flagged:,} of {a.requests:,} "
                f"requests flagged (first: request {a.first_flagged})  rule {rules}  "
                + (" ".join(a.tripped) or "-")
            )
        if len(flagged) > top:
            out.append(f"  ... and {len(flagged) - top:,} more")
        return out
