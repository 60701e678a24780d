"""One request's store updates, and the signals read back from their results.

``plan()`` turns a request (account, declared country, fingerprint, time) and the facts of its
address into one batch of store ``Op``s: every counter this request moves, each answering with
its new value, so the whole assessment costs one round trip. ``assess()`` reads the results
into ``Signal``s with their evidence and combines them into the score (see settings.py).

Groups (one hash slot each on a Redis Cluster): ``a:<account digest>`` (countries, networks,
ASNs, requests, mismatches, anonymized requests, first seen, last location), ``n4:/n6:<network>``
(accounts, new accounts), ``s:<asn>`` (accounts) and ``f:``/``d:<fingerprint digest>``
(accounts; ``d:`` when derived from headers).
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import NamedTuple

from geofence.facts import FactsRow, address_fields
from geofence.signals.activity import activity_evidence, activity_op
from geofence.signals.geometry import haversine_km
from geofence.signals.keys import digest, network_key, network_text
from geofence.signals.settings import SignalSettings
from geofence.store import Op
from geofence.vocab.signals import Assessment, Signal

__all__ = ["Locate", "Observation", "Plan", "assess", "plan"]

Locate = Callable[[FactsRow], "tuple[float, float] | None"]
"""``(latitude, longitude)`` of an address from its facts, or ``None``."""

_COUNTRY, _ASN, _TAGS = 1, 6, 8  # FactsRow positions (facts.py)
_new_op = object.__new__
_set = object.__setattr__


def op(kind: str, group: str, name: str, value: str = "", amount: int = 1, window: float = 0) -> Op:
    """An ``Op`` without its validation: every field here is built by this module."""
    o = _new_op(Op)
    _set(o, "kind", kind)
    _set(o, "group", group)
    _set(o, "name", name)
    _set(o, "value", value)
    _set(o, "amount", amount)
    _set(o, "window_s", window)
    return o


class Observation(NamedTuple):
    """What one request contributes, derived once from the request and its facts."""

    account: str  # digest
    t: float  # request time, epoch seconds
    country: str | None
    declared: str | None  # a valid ISO code, else None
    network: str | None  # n4:/n6: key
    network_text: str | None
    asn: int | None
    fingerprint: str | None  # f:/d: group
    anonymized: bool
    tolerated: bool
    location: tuple[float, float] | None
    created: float | None  # account_created, epoch seconds


class Plan(NamedTuple):
    """The batch for one request and where each answer lands in its results."""

    ops: list[Op]
    at: dict[str, int]


def plan(obs: Observation, settings: SignalSettings) -> Plan:
    """The ops for ``obs``: every counter it moves, each answering with its new value."""
    w = settings.window_s
    group = "a:" + obs.account
    ops: list[Op] = []
    at: dict[str, int] = {}

    def add(key: str, o: Op) -> None:
        at[key] = len(ops)
        ops.append(o)

    if obs.country is not None:
        add("account_countries", op("distinct", group, "cc", obs.country, window=w))
    if obs.network is not None:
        add("account_networks", op("distinct", group, "net", obs.network, window=w))
        add("network_accounts", op("distinct", obs.network, "acct", obs.account, window=w))
        # Read here; raised once per account, by the batch after its first request fleet-wide
        # (see stage.py): an exact count of new accounts, not a guess per process.
        add("network_new_accounts", op("count", obs.network, "new", amount=0, window=w))
    if obs.asn is not None:
        add("account_asns", op("distinct", group, "asn", str(obs.asn), window=w))
        add("asn_accounts", op("distinct", f"s:{obs.asn}", "acct", obs.account, window=w))
    if obs.fingerprint is not None:
        add("fingerprint_accounts", op("distinct", obs.fingerprint, "acct", obs.account, window=w))
    add("requests", op("count", group, "req", window=w))
    add("activity_hours", activity_op(group, obs.t, w))
    mismatch = (
        obs.declared is not None
        and obs.country is not None
        and obs.country != obs.declared
        and not obs.tolerated
    )
    if obs.declared is not None:
        add("mismatches", op("count", group, "mis", amount=int(mismatch), window=w))
    add("anonymized", op("count", group, "anon", amount=int(obs.anonymized), window=w))
    add("first_seen", op("first", group, "first", repr(obs.t), window=settings.travel_window_s))
    if obs.location is not None:
        lat, lon = obs.location
        here = f"{lat:.2f},{lon:.2f},{obs.t!r},{int(obs.anonymized or obs.tolerated)}"
        add("travel", op("swap", group, "loc", here, window=settings.travel_window_s))
    return Plan(ops, at)


def is_new(obs: Observation, first: object, window: float) -> bool:
    """Whether this request is the account's first anywhere (the store's ``first`` value is
    this request's time) and the account was created within the window, if the app says."""
    if first != repr(obs.t):
        return False
    return obs.created is None or obs.t - obs.created <= window


def assess(
    obs: Observation,
    results: list[int | str | None],
    where: dict[str, int],
    settings: SignalSettings,
    derived: bool,
    extra_new: int,
) -> Assessment:
    """The signals of one request from its batch results, and the combined score."""
    w = settings.window_s
    signals: dict[str, Signal] = {}
    factor = settings.tolerance if obs.tolerated else 1.0
    tolerated = (f"tolerated network: thresholds x{factor:g}",) if obs.tolerated else ()

    def count(key: str) -> int:
        index = where.get(key)
        value = None if index is None else results[index]
        return value if isinstance(value, int) else 0

    def put(name: str, value: float, evidence: tuple[str, ...], scale: float = 1.0) -> None:
        threshold = settings.of(name).threshold * scale
        signals[name] = Signal(float(value), threshold, w, evidence)

    requests = max(1, count("requests"))
    if "account_countries" in where:
        put("account_countries", count("account_countries"), (f"country {obs.country}",))
    if obs.network is not None:
        net = (f"network {obs.network_text}",)
        put("account_networks", count("account_networks"), net)
        put("network_accounts", count("network_accounts"), net + tolerated, factor)
        new = count("network_new_accounts") + extra_new
        put("network_new_accounts", new, net + tolerated, factor)
    if obs.asn is not None:
        asn = (f"AS{obs.asn}",)
        put("account_asns", count("account_asns"), asn)
        put("asn_accounts", count("asn_accounts"), asn + tolerated, factor)
    if "mismatches" in where:
        share = count("mismatches") / requests
        seen = f"declared {obs.declared}, seen {obs.country}"
        put("declared_mismatch", share, (seen, f"{count('mismatches')} of {requests} requests"))
    if obs.fingerprint is not None:
        kind = "derived from headers (weak)" if derived else "given by the application"
        scale = settings.derived_fingerprint_tolerance if derived else 1.0
        put("fingerprint_accounts", count("fingerprint_accounts"), (f"fingerprint {kind}",), scale)
    hours = count("activity_hours")
    put("activity_hours", hours, activity_evidence(hours))
    anonymized = f"{count('anonymized')} of {requests} requests from anonymizer-tagged addresses"
    put("anonymizer_share", count("anonymized") / requests, (anonymized,))
    if "travel" in where:
        travel = _travel(obs, results[where["travel"]], settings)
        if travel is not None:
            signals["travel_kmh"] = travel
    score = _score(signals, settings, requests, derived)
    return Assessment(MappingProxyType(signals), score)  # read-only, as Decision.signals promises


def _travel(obs: Observation, previous: object, settings: SignalSettings) -> Signal | None:
    if not isinstance(previous, str) or obs.location is None:
        return None
    try:
        lat, lon, then, masked = previous.split(",")
        distance = haversine_km(float(lat), float(lon), *obs.location)
        hours = abs(obs.t - float(then)) / 3600
    except ValueError:
        return None  # not ours: a value this version did not write
    limit = settings.of("travel_kmh").threshold
    window = settings.travel_window_s
    if masked == "1" or obs.anonymized or obs.tolerated:
        return Signal(0.0, limit, window, ("an anonymizer or relay at either end: not judged",))
    if distance < settings.travel_min_km:
        return Signal(0.0, limit, window, (f"{distance:.0f} km from the last location",))
    speed = distance / max(hours, 1 / 60)  # a minute at least: clocks and batching
    return Signal(round(speed, 1), limit, window, (f"{distance:.0f} km in {hours:.2f} h",))


def _score(
    signals: dict[str, Signal], settings: SignalSettings, requests: int, derived: bool
) -> float:
    keep = 1.0
    for name, signal in signals.items():
        if signal.threshold is None:
            continue
        if name in ("declared_mismatch", "anonymizer_share") and requests < settings.min_requests:
            continue
        weight = settings.of(name).weight
        if name == "fingerprint_accounts" and derived:
            weight = settings.derived_fingerprint_weight
        ratio = signal.value / signal.threshold
        strength = 0.0 if ratio <= 0.5 else min(1.0, (ratio - 0.5) * 2)
        keep *= 1 - weight * strength
    return round(1 - keep, 4)


def observation(
    account: str,
    row: FactsRow,
    t: float,
    declared: str | None,
    fingerprint: str | None,
    created: float | None,
    settings: SignalSettings,
    locate: Locate,
    tolerated_asns: frozenset[int],
) -> Observation:
    """The ``Observation`` of a request: ``fingerprint`` is already a ``f:``/``d:`` group."""
    tags = row[_TAGS] or frozenset()
    # A cached row or a ``Facts``: address_fields reads either, by its own layout.
    fields = address_fields(row)
    network = text = None
    if fields is not None:
        version, packed = fields[1], fields[2]
        network, text = network_key(version, packed), network_text(version, packed)
    asn = row[_ASN]
    relayed = not tags.isdisjoint(settings.tolerated_tags)
    tolerated = relayed or asn in tolerated_asns
    # A tolerated relay (Private Relay) keeps the user's country; a VPN list that also names
    # its egress (x4bnet does) must not make its users look like anonymizer users.
    anonymized = not relayed and not tags.isdisjoint(settings.anonymizer_tags)
    return Observation(
        digest(account, "account"), t, row[_COUNTRY], declared, network, text, asn,
        fingerprint, anonymized, tolerated,
        None if row[0] is None else locate(row), created,
    )  # fmt: skip
