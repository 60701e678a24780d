"""How ``build_regions.py`` makes DB-IP City Lite small, and what it measures doing so.

DB-IP's networks alternate between neighbouring subdivisions at a fine grain (two thirds of the
IPv4 networks of the shipped countries are a /24 or smaller), so the layer's size is set by how
many spans of one ``(country, subdivision)`` remain, not by the coordinates. Two reductions,
both measured and printed by the build:

- **Blocks** (``--blocks 24,32``): inside one IPv4 /24 or IPv6 /32 that DB-IP splits between
  several subdivisions, the subdivision holding the most addresses takes the whole block. The
  addresses that change subdivision are counted per country (``Loss``). A block holding any
  network of an occupied territory (``geofence.geo.territory``) is never merged: those networks
  keep their own values, so a territory neither spreads into nor vanishes from a block.
- **Coordinates** (``--coords subdivision``): one coordinate per ``(country, subdivision)``, the
  address-weighted centroid (on the sphere) of DB-IP's own coordinates there, so coordinates
  add no spans; ``--coords 1`` rounds each network's coordinate to 1 degree instead.
  ``Errors`` measures, per IPv4 address, the distance between DB-IP's coordinate and the
  shipped one.

``Coverage`` counts, per country, the networks and addresses whose subdivision name maps to an
ISO 3166-2 code, and every name that does not.
"""

from __future__ import annotations

import array
import collections
import math
from collections.abc import Callable, Iterator
from typing import Any

Key = tuple[Any, ...]
"""``(country, subdivision code or None, cell...)``: what one span of the layer holds."""
Net = tuple[int, int, Key, int, bool, float | None, float | None]
"""``(first, last, key, IPv4 addresses, in an occupied territory, latitude, longitude)`` of one
source network, as DB-IP gives it."""
Observe = Callable[[Key, Net], None]
"""Called once per source network with the key it is shipped under."""

EARTH_KM = 6371.0088


class Coverage:
    """Per country: networks and IPv4 addresses seen and mapped, and the unmapped names."""

    def __init__(self) -> None:
        self.networks: collections.Counter[str] = collections.Counter()
        self.mapped: collections.Counter[str] = collections.Counter()
        self.addresses: collections.Counter[str] = collections.Counter()
        self.mapped_addresses: collections.Counter[str] = collections.Counter()
        self.unmapped: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )

    def count(self, country: str, name: str, code: str | None, size: int, version: int) -> None:
        self.networks[country] += 1
        self.mapped[country] += code is not None
        if version == 4:
            self.addresses[country] += size
            self.mapped_addresses[country] += size if code else 0
        if code is None:
            self.unmapped[country][name or "(no subdivision given)"] += 1

    def report(self) -> Iterator[str]:
        total = sum(self.addresses.values()) or 1
        mapped = sum(self.mapped_addresses.values())
        yield f"coverage: {mapped / total:.4%} of {total} IPv4 addresses in the selection"
        for country in sorted(self.networks, key=lambda c: -self.addresses[c]):
            nets, addrs = self.networks[country], self.addresses[country] or 1
            yield (
                f"  {country}: networks {self.mapped[country]}/{nets} "
                f"({self.mapped[country] / nets:.4%}), IPv4 addresses "
                f"{self.mapped_addresses[country] / addrs:.4%}"
            )
            for name, n in self.unmapped[country].most_common():
                yield f"    unmapped: {name!r} ({n} networks)"


class Loss:
    """Per country: networks and IPv4 addresses whose subdivision a block merge changed."""

    def __init__(self) -> None:
        self.networks: collections.Counter[str] = collections.Counter()
        self.addresses: collections.Counter[str] = collections.Counter()

    def count(self, key: Key, addresses: int) -> None:
        self.networks[key[0]] += 1
        self.addresses[key[0]] += addresses


def blocked(
    nets: Iterator[Net], bits: int, block: int | None, loss: Loss, observe: Observe
) -> Iterator[Net]:
    """``nets`` with each split ``block``-bit block given to its largest subdivision."""
    shift = bits - (bits if block is None else block)
    pending: list[Net] = []
    current = -1
    for net in nets:
        first, last = net[0], net[1]
        if last - first + 1 >= 1 << shift:  # a block or larger: nothing to merge with
            yield from _settled(pending, loss, observe)
            pending = []
            observe(net[2], net)
            yield net
            continue
        if first >> shift != current:
            yield from _settled(pending, loss, observe)
            pending, current = [], first >> shift
        pending.append(net)
    yield from _settled(pending, loss, observe)


def _settled(pending: list[Net], loss: Loss, observe: Observe) -> Iterator[Net]:
    keys = {net[2] for net in pending}
    if len(keys) <= 1 or any(net[4] for net in pending):
        for net in pending:
            observe(net[2], net)
        yield from pending
        return
    # Weight by addresses (IPv6 too: the networks' sizes); ties go to a stable order.
    weight: collections.Counter[Key] = collections.Counter()
    for net in pending:
        weight[net[2]] += net[1] - net[0] + 1
    winner = max(sorted(weight, key=repr), key=weight.__getitem__)
    for net in pending:
        if net[2] != winner:
            loss.count(net[2], net[3])
        observe(winner, net)
    yield pending[0][0], pending[-1][1], winner, 0, False, None, None


class Centroids:
    """Address-weighted centroids of DB-IP's coordinates per key (IPv6 networks count one each,
    and only where a key has no IPv4 address)."""

    def __init__(self) -> None:
        self.v4: dict[Key, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
        self.v6: dict[Key, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0])

    def add(self, key: Key, lat: float, lon: float, addresses: int) -> None:
        sums = self.v4[key] if addresses else self.v6[key]
        x, y, z = _unit(lat, lon)
        w = addresses or 1
        sums[0] += w * x
        sums[1] += w * y
        sums[2] += w * z

    def of(self, key: Key) -> tuple[float, float] | None:
        sums = self.v4.get(key) or self.v6.get(key)
        if sums is None or not any(sums):
            return None
        x, y, z = sums
        lat = math.degrees(math.atan2(z, math.hypot(x, y)))
        return round(lat, 2), round(math.degrees(math.atan2(y, x)), 2)


class Errors:
    """Distances from DB-IP's coordinate to the shipped one, weighted by IPv4 addresses."""

    def __init__(self) -> None:
        # Millions of points: compact arrays, keys by number.
        self.keys: dict[Key, int] = {}
        self.key = array.array("i")
        self.lat = array.array("f")
        self.lon = array.array("f")
        self.addresses = array.array("d")

    def add(self, key: Key, lat: float, lon: float, addresses: int) -> None:
        if addresses:
            self.key.append(self.keys.setdefault(key, len(self.keys)))
            self.lat.append(lat)
            self.lon.append(lon)
            self.addresses.append(addresses)

    def quantiles(self, shipped: dict[Key, tuple[float, float]]) -> dict[str, float]:
        """p50/p90/p95/p99 and the maximum, km, by IPv4 address count."""
        at = {number: shipped[key] for key, number in self.keys.items() if key in shipped}
        pairs = sorted(
            (haversine_km(lat, lon, *at[k]), n)
            for k, lat, lon, n in zip(self.key, self.lat, self.lon, self.addresses, strict=True)
            if k in at
        )
        total = sum(n for _, n in pairs) or 1
        out: dict[str, float] = {}
        seen = 0.0
        wanted = [0.5, 0.9, 0.95, 0.99]
        for km, n in pairs:
            seen += n
            while wanted and seen >= wanted[0] * total:
                out[f"p{round(wanted.pop(0) * 100)}"] = round(km)
        out["max"] = round(pairs[-1][0]) if pairs else 0
        return out


def _unit(lat: float, lon: float) -> tuple[float, float, float]:
    a, b = math.radians(lat), math.radians(lon)
    return math.cos(a) * math.cos(b), math.cos(a) * math.sin(b), math.sin(a)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance, km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2
    h += math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))
