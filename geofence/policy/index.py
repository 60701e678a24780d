"""``RuleIndex``: which rules can match a request, found by lookups instead of trying each rule.

First match wins, so a policy is a list tried in order; with hundreds of rules that walk is
most of an uncached decision. Each rule is indexed by one condition it must meet: the value of
a fact (``countries``, ``continents``, ``asns``: a dict from value to rules) or its
``networks`` (sorted interval bounds, each with the rules covering it). A rule with neither
(only tags, regions, paths, methods, or ``country_match: either``) is a candidate always. A
candidate is still checked in full, in policy order, so the answer is the walk's answer.
"""

from __future__ import annotations

import ipaddress
import socket
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence

from geofence.facts import FactsRow, address_fields
from geofence.policy.conditions import indexable_values
from geofence.policy.models import CountryMatch, Rule

__all__ = ["RuleIndex"]


class _Intervals:
    """Integer intervals, each with a rule number: the rules whose intervals hold a value."""

    __slots__ = ("_points", "_rules")

    def __init__(self, spans: Sequence[tuple[int, int, int]]) -> None:
        opens: defaultdict[int, list[int]] = defaultdict(list)
        closes: defaultdict[int, list[int]] = defaultdict(list)
        for first, last, rule in spans:
            opens[first].append(rule)
            closes[last + 1].append(rule)
        active: Counter[int] = Counter()  # a rule may hold overlapping networks
        self._points = sorted(opens.keys() | closes.keys())
        self._rules: list[tuple[int, ...]] = []
        for point in self._points:
            active.subtract(closes.get(point, ()))
            active.update(opens.get(point, ()))
            self._rules.append(tuple(sorted(r for r, n in active.items() if n > 0)))

    def rules_at(self, value: int) -> tuple[int, ...]:
        k = bisect_right(self._points, value) - 1
        return self._rules[k] if k >= 0 else ()


class RuleIndex:
    """The rules (by position in the policy) a request's facts can match, in policy order."""

    __slots__ = ("_always", "_nets4", "_nets6", "_tables")

    def __init__(self, rules: Sequence[Rule], country_match: CountryMatch) -> None:
        always: list[int] = []
        tables: defaultdict[int, defaultdict[object, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )
        spans: dict[int, list[tuple[int, int, int]]] = {4: [], 6: []}
        for number, rule in enumerate(rules):
            values: tuple[int, Collection[object]] | None = indexable_values(rule, country_match)
            if values is not None:
                position, keys = values
                for key in keys:
                    tables[position][key].append(number)
            elif rule.networks:
                for text in rule.networks:
                    net = ipaddress.ip_network(text)
                    spans[net.version].append(
                        (int(net.network_address), int(net.broadcast_address), number)
                    )
            else:
                always.append(number)
        self._always = tuple(always)
        self._tables = tuple(
            (position, {key: tuple(found) for key, found in table.items()})
            for position, table in tables.items()
        )
        self._nets4 = _Intervals(spans[4]) if spans[4] else None
        self._nets6 = _Intervals(spans[6]) if spans[6] else None

    def candidates(self, facts: FactsRow) -> list[int]:
        """Rule numbers that may match ``facts`` (which has an address), ascending."""
        found = list(self._always)
        for position, table in self._tables:
            hit = table.get(facts[position])
            if hit is not None:
                found += hit
        if self._nets4 is not None or self._nets6 is not None:
            fields = address_fields(facts)
            if fields is not None:
                _, version, packed, original, via = fields
                nets = self._nets4 if version == 4 else self._nets6
                if nets is not None:
                    found += nets.rules_at(int.from_bytes(packed, "big"))
                if via != "direct" and self._nets6 is not None:  # a rule may name the 6to4 form
                    value = int.from_bytes(socket.inet_pton(socket.AF_INET6, original), "big")
                    found += self._nets6.rules_at(value)
        found.sort()
        return found
