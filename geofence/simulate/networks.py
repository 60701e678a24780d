"""Real networks for the simulation, found in the embedded data so the real policy runs on them.

Each kind of network (residential ISP, mobile carrier, cloud host) is a set of well-known
autonomous systems; a seeded sample of random IPv4 addresses is looked up in the embedded ASN
and country databases, and every hit whose AS is of the kind and whose country is served
gives one real /24 of that AS in that country. Sampling (a second or so) instead of walking
the whole ASN database (about six seconds) keeps a test's simulation fast; the same seed and
data give the same networks. Private Relay egress comes from the embedded Apple relay list.
"""

from __future__ import annotations

import gzip
import ipaddress
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

import maxminddb

from geofence.embedded import data_dir, default_geo_paths

__all__ = ["CLOUD", "MOBILE", "RESIDENTIAL", "Catalogue", "Network", "find_networks"]

# Consumer broadband: cable, DSL and fibre ISPs of the served countries.
RESIDENTIAL = frozenset({
    7922, 20115, 22773, 7018, 701, 20001, 11427,  # US: Comcast, Charter, Cox, AT&T, Verizon
    3320, 3209, 6805, 8881,  # DE: Telekom, Vodafone, Telefonica, 1&1
    2856, 5089, 5607, 13285,  # GB: BT, Virgin Media, Sky, TalkTalk
    3215, 12322, 5410, 15557,  # FR: Orange, Free, Bouygues, SFR
    4713, 2516, 17676, 2527,  # JP: OCN, KDDI, SoftBank, So-net
    577, 812, 6327, 5769,  # CA: Bell, Rogers, Shaw, Videotron
})  # fmt: skip
# Mobile carriers: CGNAT, many subscribers behind each address, addresses churn.
MOBILE = frozenset({21928, 22394, 20057, 12576, 9605, 51207})  # fmt: skip
# Cloud and hosting providers (the embedded feeds tag many of their ranges "hosting").
CLOUD = frozenset({16509, 14618, 15169, 396982, 8075, 14061, 24940, 16276, 63949})  # fmt: skip


@dataclass(frozen=True)
class Network:
    """One real IPv4 /24 (or relay range): first address, AS and country per the embedded data."""

    base: int  # the first address, as an integer
    version: int
    asn: int
    country: str
    size: int = 256

    def address(self, host: int) -> str:
        """An address inside this network (``host`` modulo its size, never its first or last)."""
        return str(ipaddress.IPv4Address(self.base + 1 + host % (self.size - 2)))


@dataclass
class Catalogue:
    """The networks found, by kind and country."""

    residential: dict[str, list[Network]] = field(default_factory=dict)
    mobile: dict[str, list[Network]] = field(default_factory=dict)
    cloud: dict[str, list[Network]] = field(default_factory=dict)
    relay: dict[str, list[Network]] = field(default_factory=dict)

    def countries(self, kind: str) -> list[str]:
        """The countries with networks of ``kind``, sorted."""
        found: dict[str, list[Network]] = getattr(self, kind)
        return sorted(code for code, nets in found.items() if nets)


def find_networks(countries: Iterable[str], seed: int, samples: int = 250_000) -> Catalogue:
    """A ``Catalogue`` of real networks in ``countries``, from ``samples`` seeded look-ups."""
    wanted = frozenset(countries)
    rng = random.Random(seed)  # noqa: S311 (a simulation, not secrets)
    country_path, asn_path = default_geo_paths()[:2]
    catalogue = Catalogue()
    seen: set[int] = set()
    kinds = ((RESIDENTIAL, catalogue.residential), (MOBILE, catalogue.mobile),
             (CLOUD, catalogue.cloud))  # fmt: skip
    with (
        maxminddb.open_database(str(asn_path)) as asns,
        maxminddb.open_database(str(country_path)) as geo,
    ):
        for _ in range(samples):
            base = rng.getrandbits(24) << 8
            if base in seen:
                continue
            seen.add(base)
            asn = _asn(asns.get(str(ipaddress.IPv4Address(base + 1))))
            if asn is None:
                continue
            for members, into in kinds:
                if asn in members:
                    country = _country(geo.get(str(ipaddress.IPv4Address(base + 1))))
                    # A /24 split between countries would put some hosts elsewhere.
                    last = _country(geo.get(str(ipaddress.IPv4Address(base + 254))))
                    if country in wanted and last == country:
                        into.setdefault(country, []).append(Network(base, 4, asn, country))
        catalogue.relay = _relays(wanted, asns, geo)
    return catalogue


def _relays(
    wanted: frozenset[str], asns: maxminddb.Reader, geo: maxminddb.Reader
) -> dict[str, list[Network]]:
    """Apple Private Relay egress ranges (IPv4, the embedded snapshot) in served countries."""
    out: dict[str, list[Network]] = {}
    with gzip.open(data_dir() / "feeds" / "apple-relay.txt.gz", "rt") as lines:
        for line in lines:
            text = line.split(",")[0].strip()
            if not text or text.startswith("#"):
                continue
            try:
                net = ipaddress.ip_network(text, strict=False)
            except ValueError:
                continue
            if net.version != 4 or not 24 <= net.prefixlen <= 28:
                continue
            first, last = str(net.network_address + 1), str(net.broadcast_address - 1)
            country, asn = _country(geo.get(first)), _asn(asns.get(first))
            if country in wanted and asn is not None and _country(geo.get(last)) == country:
                network = Network(int(net.network_address), 4, asn, country, net.num_addresses)
                out.setdefault(country, []).append(network)
    return out


def _asn(record: object) -> int | None:
    if isinstance(record, dict):
        value = record.get("autonomous_system_number")
        return value if isinstance(value, int) else None
    return None


def _country(record: object) -> str | None:
    if isinstance(record, dict):
        value = record.get("country_code") or (record.get("country") or {}).get("iso_code")
        return value if isinstance(value, str) else None
    return None
