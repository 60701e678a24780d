"""Compile one ``Conditions`` block into checks: ``check(facts, path, method) -> reason | None``.

A check returns the (precomputed) sentence explaining why it matched, so matching and explaining
cost one dict lookup on the request path.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from typing import NamedTuple

from geofence.facts import Facts
from geofence.net import Via
from geofence.policy.models import Conditions, CountryMatch

__all__ = ["Check", "compile_checks", "condition_needs"]

Check = Callable[[Facts, str, str], "str | None"]
"""A compiled condition: the reason it matched, or ``None``."""

_COUNTRY_KINDS: dict[str, frozenset[str]] = {
    "location": frozenset({"country"}),
    "registered": frozenset({"registered_country"}),
    "either": frozenset({"country", "registered_country"}),
}
_KIND_OF = {"regions": "regions", "continents": "continent", "asns": "asn", "tags": "tags"}


def condition_needs(conditions: Conditions, country_match: CountryMatch) -> frozenset[str]:
    """The fact kinds (``geofence.facts`` names) that ``conditions`` read."""
    needs: set[str] = set()
    if conditions.countries:
        needs |= _COUNTRY_KINDS[country_match]
    needs.update(kind for field, kind in _KIND_OF.items() if getattr(conditions, field))
    return frozenset(needs)


def compile_checks(
    conditions: Conditions, rule: str, country_match: CountryMatch, where: str = ""
) -> tuple[Check, ...]:
    """One check per condition set in ``conditions``; ``where`` prefixes field names."""

    def say(what: str, field: str) -> str:
        return f"{what} is in rule {rule!r} {where}{field}"

    checks: list[Check] = []
    c = conditions
    # Request-only checks first: they are the cheapest and need no facts.
    if c.methods:
        checks.append(_methods({m: say(f"method {m}", "methods") for m in c.methods}))
    if c.paths:
        checks.append(_paths(c.paths, lambda p: say(f"path matches {p!r}", "paths")))
    if c.countries:
        checks.append(_countries(c.countries, country_match, say))
    if c.continents:
        checks.append(
            _attr("continent", {x: say(f"continent {x}", "continents") for x in c.continents})
        )
    if c.asns:
        checks.append(_attr("asn", {a: say(f"AS{a}", "asns") for a in c.asns}))
    if c.regions:
        checks.append(_regions({r: say(f"region {r}", "regions") for r in c.regions}))
    if c.tags:
        checks.append(_tags({t: say(f"tag {t}", "tags") for t in c.tags}))
    if c.networks:
        checks.append(
            _networks(c.networks, lambda n, a: f"{a} is in {n} (rule {rule!r} {where}networks)")
        )
    return tuple(checks)


def _methods(table: dict[str, str]) -> Check:
    get = table.get

    def check(facts: Facts, path: str, method: str) -> str | None:
        return get(method) or get(method.upper())

    return check


def _paths(globs: Iterable[str], say: Callable[[str], str]) -> Check:
    compiled = [(re.compile(fnmatch.translate(g)).match, say(g)) for g in globs]
    any_match = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs)).match

    def check(facts: Facts, path: str, method: str) -> str | None:
        if "?" in path:
            path = path.partition("?")[0]
        if any_match(path) is None:
            return None
        return next(reason for match, reason in compiled if match(path))

    return check


def _countries(
    codes: Iterable[str], country_match: CountryMatch, say: Callable[[str, str], str]
) -> Check:
    located: dict[object, str] = {c: say(f"country {c}", "countries") for c in codes}
    registered: dict[object, str] = {c: say(f"registered country {c}", "countries") for c in codes}
    if country_match == "location":
        return _attr("country", located)
    if country_match == "registered":
        return _attr("registered_country", registered)
    get_located, get_registered = located.get, registered.get

    def check_either(facts: Facts, path: str, method: str) -> str | None:
        return get_located(facts.country) or get_registered(facts.registered_country)

    return check_either


def _attr(name: str, table: dict[object, str]) -> Check:
    get = table.get
    if name == "country":

        def check_country(facts: Facts, path: str, method: str) -> str | None:
            return get(facts.country)

        return check_country
    if name == "registered_country":

        def check_registered(facts: Facts, path: str, method: str) -> str | None:
            return get(facts.registered_country)

        return check_registered
    if name == "continent":

        def check_continent(facts: Facts, path: str, method: str) -> str | None:
            return get(facts.continent)

        return check_continent

    def check_asn(facts: Facts, path: str, method: str) -> str | None:
        return get(facts.asn)

    return check_asn


def _regions(table: dict[str, str]) -> Check:
    get = table.get

    def check(facts: Facts, path: str, method: str) -> str | None:
        for region in facts.regions:
            reason = get(region)
            if reason is not None:
                return reason
        return None

    return check


def _tags(table: dict[str, str]) -> Check:
    items = tuple(table.items())

    def check(facts: Facts, path: str, method: str) -> str | None:
        tags = facts.tags
        if tags:
            for tag, reason in items:
                if tag in tags:
                    return reason
        return None

    return check


class _Span(NamedTuple):
    start: int
    end: int
    members: tuple[tuple[int, int, str], ...]  # the original networks, for the reason


class _Ranges:
    """Sorted, merged integer intervals of one address family; lookup by bisection."""

    __slots__ = ("_ends", "_spans", "_starts")

    def __init__(self, nets: list[tuple[int, int, str]]) -> None:
        spans: list[_Span] = []
        for start, end, text in sorted(nets, key=lambda n: (n[0], -n[1])):
            if spans and start <= spans[-1].end + 1:
                last = spans[-1]
                member = (start, end, text)
                spans[-1] = _Span(last.start, max(last.end, end), (*last.members, member))
            else:
                spans.append(_Span(start, end, ((start, end, text),)))
        self._spans = spans
        self._starts = [s.start for s in spans]
        self._ends = [s.end for s in spans]

    def find(self, value: int) -> str | None:
        """The text of a network containing ``value``, or ``None``."""
        i = bisect_right(self._starts, value) - 1
        if i < 0 or value > self._ends[i]:
            return None
        return next((t for lo, hi, t in self._spans[i].members if lo <= value <= hi), None)


def _networks(networks: Iterable[str], say: Callable[[str, str], str]) -> Check:
    by_family: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
    for text in networks:
        net = ipaddress.ip_network(text)
        first, last = int(net.network_address), int(net.broadcast_address)
        by_family[net.version].append((first, last, text))
    v4, v6 = _Ranges(by_family[4]), _Ranges(by_family[6])
    reasons = {t: say(t, "address") for *_, t in (*by_family[4], *by_family[6])}
    original_reasons = {t: say(t, "original address") for *_, t in by_family[6]}
    from_bytes = int.from_bytes
    direct = Via.DIRECT

    def check(facts: Facts, path: str, method: str) -> str | None:
        address = facts.address
        if address is None:
            return None
        ranges = v4 if address.version == 4 else v6
        hit = ranges.find(from_bytes(address.packed, "big"))
        if hit is not None:
            return reasons[hit]
        if address.via is not direct:
            hit = v6.find(from_bytes(address.original_packed, "big"))
            if hit is not None:
                return original_reasons[hit]
        return None

    return check
