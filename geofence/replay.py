"""Replay access logs through a policy: what would be blocked, by rule, country and tag.

Reads nginx/Apache combined-format lines and JSON lines (one object per line with an address
field), line by line, so a file of any size streams through in constant memory. A log written
behind a load balancer carries the forwarding chain: as a quoted field after the user agent
(nginx ``"$http_x_forwarded_for"``) or a JSON key (``x_forwarded_for``, ``xff``...); it is
replayed as the ``X-Forwarded-For`` header, so ``trusted_proxies`` work as in production.
JSON lines may name the caller (account, declared country, fingerprint, account creation) and
every line its time: the account signals then see the log as production did (see
replay_callers.py), and the report tallies the accounts signal rules flagged.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote

from geofence.decision import Decision
from geofence.engine import Geofence
from geofence.replay_callers import AccountTally, Caller, caller_of, combined_time
from geofence.request import Request

__all__ = ["ADDRESS_FIELDS", "LogEntry", "ReplayReport", "parse_line", "parse_request", "replay"]

_COMBINED = re.compile(
    r'(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]*)\] "(?P<method>[A-Za-z]+) (?P<path>\S+)[^"]*" \d{3} '
)
# After status and size: "referer" "user agent" and, in proxy-aware formats, "x-forwarded-for".
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FORWARDED_FIELDS = ("x_forwarded_for", "http_x_forwarded_for", "xff", "forwarded_for")
ADDRESS_FIELDS = ("client_ip", "remote_addr", "ip", "address", "client", "remote_ip", "clientip")
"""JSON keys tried, in order, for the client address when no field is named."""
_PATH_FIELDS = ("path", "uri", "request_uri", "url")
_METHOD_FIELDS = ("method", "request_method")


class LogEntry(NamedTuple):
    """The part of a log line a policy reads."""

    ip: str
    path: str
    method: str
    forwarded: str | None = None
    """The ``X-Forwarded-For`` chain the balancer in front of this server sent, if logged."""


def parse_line(line: str, address_field: str | None = None) -> LogEntry | None:
    """A combined-format or JSON log line as a ``LogEntry``; ``None`` if it is neither.

    >>> parse_line('203.0.113.9 - - [01/Jun/2026:00:00:01 +0000] "GET /v1?x=1 HTTP/1.1" 200 5')
    LogEntry(ip='203.0.113.9', path='/v1', method='GET', forwarded=None)
    """
    parsed = parse_request(line, address_field, Counter())
    return None if parsed is None else parsed[0]


def parse_request(
    line: str, address_field: str | None, bad: Counter[str]
) -> tuple[LogEntry, Caller] | None:
    """``parse_line`` with the line's caller fields and time; those that cannot be read are
    left out and counted in ``bad`` by name."""
    text = line.strip()
    if text.startswith("{"):
        return _json_entry(text, address_field, bad)
    match = _COMBINED.match(text)
    if match is None:
        return None
    quoted = _QUOTED.findall(text, match.end())
    forwarded = quoted[2].strip() if len(quoted) >= 3 else ""
    entry = LogEntry(
        match["ip"],
        routed_path(match["path"]),
        match["method"].upper(),
        forwarded if forwarded not in ("", "-") else None,
    )
    return entry, Caller(time=combined_time(match["time"]))


def _json_entry(
    text: str, address_field: str | None, bad: Counter[str]
) -> tuple[LogEntry, Caller] | None:
    try:
        record: Any = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    keys = (address_field,) if address_field else ADDRESS_FIELDS
    ip = next((record[k] for k in keys if isinstance(record.get(k), str)), None)
    if ip is None:
        return None
    path = next((record[k] for k in _PATH_FIELDS if isinstance(record.get(k), str)), "/")
    method = next((record[k] for k in _METHOD_FIELDS if isinstance(record.get(k), str)), "GET")
    chain = next((record[k] for k in _FORWARDED_FIELDS if isinstance(record.get(k), str)), "")
    forwarded = chain.strip() if chain.strip() not in ("", "-") else None
    entry = LogEntry(ip, routed_path(path), method.upper(), forwarded)
    return entry, caller_of(record, bad)


def routed_path(target: str) -> str:
    """The path an application routes for a logged request target: the query cut off at the
    first ``?`` (in a raw target only the query starts so), then percent-decoded, as ASGI
    servers and WSGI gateways decode ``path`` / ``PATH_INFO``.

    >>> routed_path("/v1/models/gpt%3F/fine-tune?x=1")
    '/v1/models/gpt?/fine-tune'
    """
    return unquote(target.partition("?")[0]) or "/"


@dataclass
class ReplayReport:
    """Counts from a replay; "blocked" means an action other than allow (in any mode)."""

    lines: int = 0
    unparsed: int = 0
    requests: int = 0
    no_address: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    blocked_rules: Counter[str] = field(default_factory=Counter)
    blocked_countries: Counter[str] = field(default_factory=Counter)
    blocked_tags: Counter[str] = field(default_factory=Counter)
    bad_fields: Counter[str] = field(default_factory=Counter)
    """Caller fields that could not be read (dropped from the request), by name."""
    accounts: AccountTally = field(default_factory=lambda: AccountTally(frozenset()))

    @property
    def blocked(self) -> int:
        """Requests whose action is not allow."""
        return self.requests - self.actions["allow"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary."""
        return {
            "lines": self.lines,
            "unparsed": self.unparsed,
            "requests": self.requests,
            "no_address": self.no_address,
            "blocked": self.blocked,
            "actions": dict(self.actions.most_common()),
            "rules": dict(self.rules.most_common()),
            "blocked_by_rule": dict(self.blocked_rules.most_common()),
            "blocked_by_country": dict(self.blocked_countries.most_common()),
            "blocked_by_tag": dict(self.blocked_tags.most_common()),
            "unreadable_fields": dict(self.bad_fields.most_common()),
            "accounts": self.accounts.to_dict(),
        }


def replay(
    geofence: Geofence,
    lines: Iterable[str],
    *,
    address_field: str | None = None,
    progress: Callable[[int], None] | None = None,
    on_decision: Callable[[int, Request, Decision], None] | None = None,
) -> ReplayReport:
    """Decide every request in ``lines``; ``progress(n)`` is told each line's length in bytes,
    ``on_decision(line_number, request, decision)`` each decision on a request naming an
    account."""
    signal_rules = frozenset(rule.name for rule in geofence.policy.rules if rule.signals)
    report = ReplayReport(accounts=AccountTally(signal_rules))
    for line in lines:
        report.lines += 1
        if progress is not None:
            progress(len(line.encode("utf-8", "surrogateescape")))
        if not line.strip():
            report.unparsed += 1
            continue
        parsed = parse_request(line, address_field, report.bad_fields)
        if parsed is None:
            report.unparsed += 1
            continue
        entry, caller = parsed
        report.requests += 1
        headers = () if entry.forwarded is None else (("x-forwarded-for", entry.forwarded),)
        request = Request(entry.ip, headers, entry.path, entry.method, **caller._asdict())
        decision = geofence.evaluate(request)
        if request.account is not None:
            report.accounts.observe(request.account, decision)
            if on_decision is not None:
                on_decision(report.lines, request, decision)
        if decision.ip is None:
            report.no_address += 1
        action = decision.action.value
        rule = decision.rule or f"({'unknown' if decision.country is None else 'default'})"
        report.actions[action] += 1
        report.rules[rule] += 1
        if action != "allow":
            report.blocked_rules[rule] += 1
            report.blocked_countries[decision.country or "??"] += 1
            for tag in decision.tags:
                report.blocked_tags[tag] += 1
    return report
