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


def _ranges(nets: list[tuple[int, int, str]], width: int) -> Callable[[bytes], str | None]:
    """A lookup from packed address to the reason of a network containing it, or ``None``.

    Overlapping networks are merged into sorted spans searched by bisection. The bounds are
    kept as packed bytes: for equal lengths they sort as the numbers do, so the request path
    never converts the address to an int.
    """
    spans: list[_Span] = []
    for start, end, reason in sorted(nets, key=lambda n: (n[0], -n[1])):
        if spans and start <= spans[-1].end + 1:
            last = spans[-1]
            member = (start, end, reason)
            spans[-1] = _Span(last.start, max(last.end, end), (*last.members, member))
        else:
            spans.append(_Span(start, end, ((start, end, reason),)))
    starts = [s.start.to_bytes(width, "big") for s in spans]
    ends = [s.end.to_bytes(width, "big") for s in spans]
    only = [s.members[0][2] if len(s.members) == 1 else None for s in spans]

    def find(packed: bytes) -> str | None:
        i = bisect_right(starts, packed) - 1
        if i < 0 or packed > ends[i]:
            return None
        if only[i] is not None:
            return only[i]
        value = int.from_bytes(packed, "big")
        return next((r for lo, hi, r in spans[i].members if lo <= value <= hi), None)

    return find


def _networks(networks: Iterable[str], say: Callable[[str, str], str]) -> Check:
    nets = [ipaddress.ip_network(text) for text in networks]

    def table(version: int, who: str) -> list[tuple[int, int, str]]:
        return [
            (int(n.network_address), int(n.broadcast_address), say(str(n), who))
            for n in nets
            if n.version == version
        ]

    find4, find6 = _ranges(table(4, "address"), 4), _ranges(table(6, "address"), 16)
    find_original = _ranges(table(6, "original address"), 16)
    direct = Via.DIRECT

    def check(facts: Facts, path: str, method: str) -> str | None:
        address = facts.address
        if address is None:
            return None
        hit = find4(address.packed) if address.version == 4 else find6(address.packed)
        if hit is None and address.via is not direct:
            hit = find_original(address.original_packed)
        return hit

    return check
