"""The fused lookup (rows.py) and the cached rows: the same facts as the generic path, entries
the garbage collector stops tracking, and the generic path when a reader fails."""

from __future__ import annotations

import gc
import ipaddress
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import maxminddb
import pytest

from geofence import Geofence
from geofence.facts import Facts, facts_of_row, facts_row
from geofence.geo import GeoSource, open_geo
from geofence.geo.mmdb import MMDBSource
from geofence.net import Address, normalize
from geofence.reputation.feedset import FeedSet, open_feeds
from geofence.reputation.wiring import with_feeds
from geofence.rows import row_maker
from geofence.testing import StaticGeo

VERSIONS = ("test 2026-01-01",)
FORMS = ["::ffff:8.8.8.8", "2002:0808:0808::1", "64:ff9b::808:808", "10.1.2.3", "192.168.0.1",
         "::1", "2001:db8::1", "0.0.0.0", "224.0.0.1"]  # fmt: skip


def public_addresses(count: int, seed: int = 3) -> Iterator[str]:
    rng = random.Random(seed)
    blocks = [ipaddress.ip_network(b) for b in ("2001:4860::/32", "2a00::/12", "2400::/12")]
    for _ in range(count):
        if rng.random() < 0.3:
            net = rng.choice(blocks)
            yield str(net[rng.randrange(net.num_addresses)])
        else:
            yield str(ipaddress.IPv4Address(rng.randrange(1 << 24, 224 << 24)))


def feed_addresses(feeds: FeedSet, count: int, seed: int = 5) -> Iterator[str]:
    rng = random.Random(seed)
    for version in (4, 6):
        pool = feeds.ranges.intervals(version)
        for _ in range(count):
            first, last, _ = pool[rng.randrange(len(pool))]
            yield str(ipaddress.ip_address(rng.randint(first, last)))


def generic_facts(geo: GeoSource, address: Address) -> Facts:
    return facts_of_row(facts_row(address, geo.lookup(address.text), VERSIONS))


def assert_same_as_generic(geo: GeoSource, texts: list[str]) -> int:
    make = row_maker(geo)
    assert make is not None
    known = 0
    for text in texts:
        address = normalize(text)
        row = make(address, VERSIONS)
        assert type(row) is tuple
        assert facts_of_row(row) == generic_facts(geo, address), text
        known += row[1] is not None
    return known


@pytest.fixture(scope="module")
def embedded() -> Iterator[GeoSource]:
    geo = open_geo(None)
    yield geo
    geo.close()


@pytest.fixture(scope="module")
def feeds() -> FeedSet:
    loaded = open_feeds("embedded")
    assert loaded is not None
    return loaded


def test_embedded_data_fused_equals_generic(embedded: GeoSource) -> None:
    known = assert_same_as_generic(embedded, [*public_addresses(600), *FORMS])
    assert known > 400  # most public addresses have a country: the comparison compares facts


def test_embedded_data_with_feeds_fused_equals_generic(embedded: GeoSource, feeds: FeedSet) -> None:
    geo = with_feeds(embedded, feeds)
    listed = list(feed_addresses(feeds, 150))
    assert_same_as_generic(geo, [*public_addresses(200), *listed, *FORMS])
    make = row_maker(geo)
    assert make is not None
    tagged = [t for t in listed if make(normalize(t), VERSIONS)[8]]
    assert len(tagged) == len(listed)  # every address drawn inside a feed range has its tags


def networks_of(path: Path) -> list[str]:
    with maxminddb.open_database(str(path)) as reader:
        return [str(net[0]) for net, _ in reader][:400]


@pytest.mark.parametrize(
    "location", ["GeoIP2-City-Test", "GeoIP2-Country-Test", "GeoLite2-City-Test"]
)
def test_maxmind_pairs_fused_equal_generic(
    maxmind_db: Callable[[str], Path], location: str
) -> None:
    asn = maxmind_db("GeoLite2-ASN-Test")
    geo = open_geo([maxmind_db(location), asn])
    try:
        texts = networks_of(maxmind_db(location)) + networks_of(asn)
        assert_same_as_generic(geo, [*texts, *FORMS])
        make = row_maker(geo)
        assert make is not None
        facts = [facts_of_row(make(normalize(t), VERSIONS)) for t in texts]
        assert any(f.asn for f in facts)
        assert any(f.continent for f in facts)
        if "City" in location:
            assert any(f.regions for f in facts)
    finally:
        geo.close()


@pytest.mark.parametrize(
    "names",
    [
        ["GeoIP2-Enterprise-Test"],  # ASN and tags in the same record: not this shape
        ["GeoLite2-ASN-Test", "GeoIP2-Country-Test"],  # ASN first
        ["GeoIP2-Country-Test", "GeoIP2-Anonymous-IP-Test"],
        ["GeoIP2-Country-Test", "GeoLite2-ASN-Test", "GeoIP2-ISP-Test"],
    ],
)
def test_other_shapes_take_the_generic_path(
    maxmind_db: Callable[[str], Path], names: list[str]
) -> None:
    geo = open_geo([maxmind_db(n) for n in names])
    try:
        assert row_maker(geo) is None
    finally:
        geo.close()


def test_a_custom_source_takes_the_generic_path() -> None:
    assert row_maker(StaticGeo({"192.0.2.0/24": {"country": "GB"}})) is None


POLICY: dict[str, Any] = {
    "name": "p", "default": "allow", "unknown": "deny",
    "rules": [{"name": "us", "action": "deny", "countries": ["US"]}],
}  # fmt: skip


def test_cache_entries_are_untracked_and_decide_as_the_first_time() -> None:
    texts = list(public_addresses(300, seed=9))
    with Geofence(POLICY, reload_interval=None) as gf:
        first = {t: gf.evaluate(t).to_dict() for t in texts}
        gc.collect()
        entries = [gf._gen.cache.get(t) for t in texts]
        assert all(e is not None and not gc.is_tracked(e) for e in entries)
        for text in texts:
            again = gf.evaluate(text)
            expected = {**first[text], "decision_id": again.decision_id}
            assert again.to_dict() == expected
            assert again.facts == gf.lookup(text)


class _FailingReader:
    def __init__(self, real: Any) -> None:
        self.real = real

    def get(self, ip: str) -> Any:
        raise ValueError("simulated failure")

    def metadata(self) -> Any:
        return self.real.metadata()

    def close(self) -> None:
        self.real.close()


def test_a_failing_reader_falls_back_to_the_generic_path() -> None:
    with Geofence(POLICY, reload_interval=None) as gf:
        before = gf.evaluate("8.8.8.8")
        assert (before.country, before.asn) == ("US", 15169)
        asn_source = gf.geo.sources[1]  # type: ignore[attr-defined]
        assert isinstance(asn_source, MMDBSource)
        asn_source.reader = _FailingReader(asn_source.reader)
        gf.clear_cache()
        after = gf.evaluate("8.8.4.4")  # the country database still answers
        assert (after.action, after.rule, after.country) == ("deny", "us", "US")
        assert after.asn is None
        assert any("simulated failure" in e for e in after.facts.errors)
        asn_source.reader = asn_source.reader.real
