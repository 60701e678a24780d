"""Compile one ``Conditions`` block into checks: ``check(facts, path, method) -> reason | None``.

A check returns the (precomputed) sentence explaining why it matched, so matching and explaining
cost one dict lookup on the request path. Checks read facts by position (``facts[COUNTRY]``), so
they take a ``Facts`` or the engine's cached ``FactsRow`` alike.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable
from typing import Any, NamedTuple, TypeVar

from geofence.facts import ROW_PACKED, ROW_VERSION, ROW_VIA, Facts, FactsRow, address_fields
from geofence.net import Address
from geofence.policy.models import Conditions, CountryMatch

__all__ = [
    "Check",
    "compile_checks",
    "compile_verdict_check",
    "condition_needs",
    "indexable_values",
    "single_value_table",
]

V = TypeVar("V")

Check = Callable[[FactsRow, str, str], "str | None"]
"""A compiled condition: the reason it matched, or ``None``."""

_COUNTRY_KINDS: dict[str, frozenset[str]] = {
    "location": frozenset({"country"}),
    "registered": frozenset({"registered_country"}),
    "either": frozenset({"country", "registered_country"}),
}
_KIND_OF = {"regions": "regions", "continents": "continent", "asns": "asn", "tags": "tags"}

# Positions in ``Facts`` / ``FactsRow`` and in its address (named, so a reordered field fails
# here at import rather than reading the wrong fact).
_ADDRESS, _COUNTRY, _REGISTERED, _REGIONS, _CONTINENT, _ASN, _TAGS = map(
    Facts._fields.index,
    ("address", "country", "registered_country", "regions", "continent", "asn", "tags"),
)
_VERSION, _PACKED, _VIA = map(Address._fields.index, ("version", "packed", "via"))


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
    return _checks(conditions, rule, country_match, where, _same)


def compile_verdict_check(
    conditions: Conditions, rule: str, country_match: CountryMatch, verdict: Callable[[str], V]
) -> Callable[[FactsRow, str, str], V | None]:
    """The check of a one-condition block, answering ``verdict(reason)`` instead of the reason.

    Every reason a check can give is written when it is compiled, so ``verdict`` runs then,
    once per reason, and a match costs the check alone: no mapping from reason to verdict per
    request. Raises ``ValueError`` unless ``conditions`` sets exactly one condition.
    """
    checks = _checks(conditions, rule, country_match, "", verdict)
    if len(checks) != 1:
        raise ValueError(f"{len(checks)} conditions, not one")
    return checks[0]


def _same(reason: str) -> str:
    return reason


def _checks(
    c: Conditions, rule: str, country_match: CountryMatch, where: str, wrap: Callable[[str], Any]
) -> tuple[Callable[[FactsRow, str, str], Any], ...]:
    base = _sayer(rule, where)

    def say(what: str, field: str) -> Any:
        return wrap(base(what, field))

    checks: list[Callable[[FactsRow, str, str], Any]] = []
    # Request-only checks first: they are the cheapest and need no facts.
    if c.methods:
        checks.append(_methods({m: say(f"method {m}", "methods") for m in c.methods}))
    if c.paths:
        checks.append(_paths(c.paths, lambda p: say(f"path matches {p!r}", "paths")))
    if c.countries and country_match == "either":
        checks.append(_countries_either(c.countries, say))
    checks.extend(
        _attr(position, table) for position, table in _value_tables(c, country_match, say)
    )
    if c.regions:
        checks.append(_regions({r: say(f"region {r}", "regions") for r in c.regions}))
    if c.tags:
        checks.append(_tags({t: say(f"tag {t}", "tags") for t in c.tags}))
    if c.networks:
        checks.append(
            _networks(
                c.networks, lambda n, a: wrap(f"{a} is in {n} (rule {rule!r} {where}networks)")
            )
        )
    return tuple(checks)


def single_value_table(
    conditions: Conditions, rule: str, country_match: CountryMatch
) -> tuple[int, dict[object, str]] | None:
    """``(fact position, reason per value)`` when ``conditions`` is one ``countries`` (location
    or registered), ``continents`` or ``asns`` condition and nothing else, else ``None``.

    Such a rule is one dict lookup, and consecutive ones on the same fact can share one
    (the first rule listing a value keeps it), whatever the number of rules.
    """
    if len(conditions.used) != 1:
        return None
    tables = _value_tables(conditions, country_match, _sayer(rule, ""))
    return tables[0] if len(tables) == 1 else None


def indexable_values(
    conditions: Conditions, country_match: CountryMatch
) -> tuple[int, Collection[object]] | None:
    """``(fact position, values)`` of one condition that is a lookup of a fact's value
    (``countries`` read at one position, ``continents``, ``asns``), for ``RuleIndex``."""
    if conditions.countries and country_match != "either":
        return (_COUNTRY if country_match == "location" else _REGISTERED), conditions.countries
    if conditions.continents:
        return _CONTINENT, conditions.continents
    if conditions.asns:
        return _ASN, conditions.asns
    return None


def _sayer(rule: str, where: str) -> Callable[[str, str], str]:
    def say(what: str, field: str) -> str:
        return f"{what} is in rule {rule!r} {where}{field}"

    return say


def _value_tables(
    c: Conditions, country_match: CountryMatch, say: Callable[[str, str], str]
) -> list[tuple[int, dict[object, str]]]:
    """The conditions that are a lookup of one fact's value, as (position, reason per value)."""
    tables: list[tuple[int, dict[object, str]]] = []
    if c.countries and country_match != "either":
        position, what = (
            (_COUNTRY, "country")
            if country_match == "location"
            else (_REGISTERED, "registered country")
        )
        tables.append((position, {x: say(f"{what} {x}", "countries") for x in c.countries}))
    if c.continents:
        tables.append((_CONTINENT, {x: say(f"continent {x}", "continents") for x in c.continents}))
    if c.asns:
        tables.append((_ASN, {a: say(f"AS{a}", "asns") for a in c.asns}))
    return tables


def _methods(table: dict[str, str]) -> Check:
    get = table.get

    def check(facts: FactsRow, path: str, method: str) -> str | None:
        return get(method) or get(method.upper())

    return check


def _paths(globs: Iterable[str], say: Callable[[str], str]) -> Check:
    compiled = [(re.compile(fnmatch.translate(g)).match, say(g)) for g in globs]
    any_match = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs)).match

    # ``path`` is the routed path (ASGI ``path``, WSGI ``PATH_INFO``): it never carries the
    # query, so a ``?`` in it is a literal character (sent as %3F) and is matched as one.
    def check(facts: FactsRow, path: str, method: str) -> str | None:
        if any_match(path) is None:
            return None
        return next(reason for match, reason in compiled if match(path))

    return check


def _countries_either(codes: Iterable[str], say: Callable[[str, str], str]) -> Check:
    located = {c: say(f"country {c}", "countries") for c in codes}
    registered = {c: say(f"registered country {c}", "countries") for c in codes}
    get_located, get_registered = located.get, registered.get

    def check_either(facts: FactsRow, path: str, method: str) -> str | None:
        return get_located(facts[_COUNTRY]) or get_registered(facts[_REGISTERED])

    return check_either


def _attr(position: int, table: dict[object, str]) -> Check:
    get = table.get

    def check(facts: FactsRow, path: str, method: str) -> str | None:
        return get(facts[position])

    return check


def _regions(table: dict[str, str]) -> Check:
    get = table.get

    def check(facts: FactsRow, path: str, method: str) -> str | None:
        for region in facts[_REGIONS]:
            reason = get(region)
            if reason is not None:
                return reason
        return None

    return check


def _tags(table: dict[str, str]) -> Check:
    items = tuple(table.items())

    def check(facts: FactsRow, path: str, method: str) -> str | None:
        tags = facts[_TAGS]
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


_Find = Callable[[bytes], "str | None"]


def _ranges(nets: list[tuple[int, int, str]], width: int) -> tuple[list[bytes], list[bytes], _Find]:
    """A lookup from packed address to the reason of a network containing it, or ``None``;
    with the sorted span bounds it searches, so a caller can rule out a miss without a call.

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

    return starts, ends, find


def _networks(networks: Iterable[str], say: Callable[[str, str], str]) -> Check:
    nets = [ipaddress.ip_network(text) for text in networks]

    def table(version: int, who: str) -> list[tuple[int, int, str]]:
        return [
            (int(n.network_address), int(n.broadcast_address), say(str(n), who))
            for n in nets
            if n.version == version
        ]

    starts4, ends4, find4 = _ranges(table(4, "address"), 4)
    find6 = _ranges(table(6, "address"), 16)[2]
    find_original = _ranges(table(6, "original address"), 16)[2]
    pton, inet6 = socket.inet_pton, socket.AF_INET6

    def check(facts: FactsRow, path: str, method: str) -> str | None:
        address = facts[_ADDRESS]
        if address is None:
            return None
        if type(address) is str:  # the engine's row: the address fields are flat
            version, packed, via = facts[ROW_VERSION], facts[ROW_PACKED], facts[ROW_VIA]
        else:
            version, packed, via = address[_VERSION], address[_PACKED], address[_VIA]
        if version == 4:  # a miss, the usual answer, costs the bisection only
            i = bisect_right(starts4, packed) - 1
            hit = find4(packed) if i >= 0 and packed <= ends4[i] else None
        else:
            hit = find6(packed)
        # A Via member or its text (in a row): a str enum compares equal to its value.
        if hit is None and via != "direct":
            fields = address_fields(facts)
            assert fields is not None
            hit = find_original(pton(inet6, fields[3]))
        return hit

    return check
