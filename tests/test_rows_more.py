"""More on the engine's rows (complements test_rows.py): verdict numbers from many threads,
policies reading a row as they read ``Facts``, rows with feed tags through the cache, the
fused lookup across a reload, and the generic path deciding what the fused one refuses."""

from __future__ import annotations

import gc
import ipaddress
import os
import random
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import maxminddb
import pytest

from geofence import Geofence
from geofence.facts import Facts, facts_of_row, facts_row
from geofence.geo import open_geo
from geofence.net import normalize
from geofence.policy import CompiledPolicy, Verdict, load_policy
from geofence.policy.models import Action
from geofence.reputation.feedset import FeedSet, open_feeds
from geofence.reputation.wiring import with_feeds
from geofence.rows import row_maker

from .conftest import MakeMMDB

VERSIONS = ("test 2026-01-01",)
FORMS = ["::ffff:81.2.69.142", "2002:5102:458e::1", "64:ff9b::5102:458e", "10.0.0.1", "::1"]


@pytest.fixture(scope="module")
def feeds() -> FeedSet:
    loaded = open_feeds("embedded")
    assert loaded is not None
    return loaded


def feed_addresses(feeds: FeedSet, count: int, seed: int = 11) -> Iterator[str]:
    rng = random.Random(seed)
    for version in (4, 6):
        pool = feeds.ranges.intervals(version)
        for _ in range(count):
            first, last, _ = pool[rng.randrange(len(pool))]
            yield str(ipaddress.ip_address(rng.randint(first, last)))


def number_from_threads(compiled: CompiledPolicy, verdicts: list[Verdict]) -> None:
    barrier = threading.Barrier(8)
    results: list[list[tuple[Verdict, int | None]]] = [[] for _ in range(8)]

    def work(slot: int) -> None:
        mine = verdicts[:]
        random.Random(slot).shuffle(mine)
        barrier.wait()
        results[slot] = [(v, compiled.verdict_number(v)) for v in mine]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers: dict[int, int] = {}
    for result in results:
        assert len(result) == len(verdicts)
        for verdict, number in result:
            assert number is not None
            assert compiled.verdicts[number] is verdict
            assert numbers.setdefault(id(verdict), number) == number  # every thread agrees
            assert compiled.number_of_id(id(verdict)) == number
    assert sorted(numbers.values()) == list(range(len(verdicts)))  # one number per object
    assert len(compiled.verdicts) == len(verdicts)


def test_verdict_numbers_from_eight_threads_are_consistent() -> None:
    # Equal twins, distinct objects: a number stands for one object, not for an equal value.
    verdicts = [Verdict(Action.DENY, f"r{i % 150}", (f"why {i % 150}",), 451) for i in range(300)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _ in range(20):  # a race shows in some rounds only
            number_from_threads(CompiledPolicy(load_policy({"name": "p", "rules": []})), verdicts)
    finally:
        sys.setswitchinterval(interval)


RULES: list[dict[str, Any]] = [
    {"name": "sixtofour", "action": "deny", "networks": ["2002::/16"]},
    {"name": "nat64", "action": "challenge", "networks": ["64:ff9b::/96"]},
    {"name": "eng", "action": "challenge", "regions": ["GB-ENG"]},
    {"name": "telstra", "action": "deny", "asns": [1221]},
    {"name": "hosting", "action": "deny", "tags": ["hosting"]},
    {"name": "eu", "action": "challenge", "continents": ["EU"], "unless": {"countries": ["SE"]}},
    {"name": "us", "action": "deny", "countries": ["US"]},
]
FILLER = [{"name": f"f{c}", "action": "deny", "countries": [c]} for c in ("CU", "IR", "KP", "SY")]


def policies() -> dict[str, dict[str, Any]]:
    plain = [{k: v for k, v in r.items() if k != "unless"} for r in RULES]
    return {
        "plain": {"name": "plain", "unknown": "deny", "rules": plain},
        "indexed": {"name": "indexed", "unknown": "deny", "rules": [*FILLER, *plain]},
        "unless": {
            "name": "unless",
            "country_match": "either",
            "rules": RULES,
        },
    }


@pytest.mark.parametrize("which", ["plain", "indexed", "unless"])
def test_policies_decide_a_row_as_its_facts(
    maxmind_db: Callable[[str], Path], feeds: FeedSet, which: str
) -> None:
    compiled = CompiledPolicy(load_policy(policies()[which]))
    names = ("GeoIP2-City-Test", "GeoLite2-ASN-Test")
    geo = with_feeds(open_geo([maxmind_db(n) for n in names]), feeds)
    try:
        make = row_maker(geo)
        assert make is not None
        texts = [*FORMS, *feed_addresses(feeds, 40)]
        for name in names:
            with maxminddb.open_database(str(maxmind_db(name))) as reader:
                texts += [str(net[0]) for net, _ in reader][:200]
        rules = set()
        for text in texts:
            row = make(normalize(text), VERSIONS)
            verdict = compiled.decide(row, "/", "GET")
            assert verdict == compiled.decide(facts_of_row(row), "/", "GET"), text
            rules.add(verdict.rule)
        assert {"sixtofour", "nat64", "eng", "telstra", "hosting", "us"} <= rules
    finally:
        geo.close()


POLICY: dict[str, Any] = {
    "name": "p", "default": "allow", "unknown": "deny",
    "rules": [{"name": "hosting", "action": "deny", "tags": ["hosting"]}],
}  # fmt: skip


def test_cached_rows_with_feed_tags_decide_as_the_first_time(feeds: FeedSet) -> None:
    listed = list(feed_addresses(feeds, 60))
    rng = random.Random(4)
    plain = [str(ipaddress.IPv4Address(rng.randrange(1 << 24, 224 << 24))) for _ in range(200)]
    with Geofence(POLICY, feeds="embedded", reload_interval=None) as gf:
        assert row_maker(gf.geo) is not None
        first = {t: gf.evaluate(t).to_dict() for t in [*listed, *plain]}
        gc.collect()
        gc.collect()
        for text in [*listed, *plain]:
            entry = gf._gen.cache.get(text)
            assert entry is not None
            if not entry[8]:  # no tags: every value atomic, so the collector let go of it
                assert not gc.is_tracked(entry), text
            again = gf.evaluate(text)
            assert again.to_dict() == {**first[text], "decision_id": again.decision_id}
            assert type(again.tags) is frozenset
            record = gf.geo.lookup(normalize(text).text)
            expected = Facts(normalize(text), *record[:8])._replace(
                latitude=record.latitude,
                longitude=record.longitude,
                attributed_country=record.attributed_country,
            )
            assert again.facts == expected._replace(sources=gf.data_versions)
        assert all(first[t]["tags"] for t in listed)
        assert sum(first[t]["rule"] == "hosting" for t in listed) > 10


GB_POLICY: dict[str, Any] = {
    "name": "gb", "default": "allow", "unknown": "challenge",
    "rules": [{"name": "gb", "action": "deny", "countries": ["GB"]}],
}  # fmt: skip


def test_the_fused_lookup_serves_reloaded_data(make_mmdb: MakeMMDB) -> None:
    path = make_mmdb("country.mmdb", [("1.2.3.0/24", {"country_code": "GB"})])
    with Geofence(GB_POLICY, geo=[path], reload_interval=None) as gf:
        assert row_maker(gf.geo) is not None
        assert gf.evaluate("1.2.3.4").rule == "gb"
        before = gf.data_versions
        fr = [("1.2.3.0/24", {"country_code": "FR"})]
        new = make_mmdb("next.mmdb", fr, build_epoch=1_800_000_000)
        os.replace(new, path)
        assert gf.reload()
        after = gf.evaluate("1.2.3.4")
        assert (after.country, after.rule, after.action) == ("FR", None, "allow")
        assert after.data_versions == gf.data_versions != before


# Past the 16 records schema detection samples: a flat record without its code.
CODELESS = [*((f"1.0.{i}.0/24", {"country_code": "GB"}) for i in range(40)), ("200.0.0.0/24", {})]


@pytest.mark.parametrize(
    ("entries", "ip_version", "text"),
    [
        (CODELESS, 6, "200.0.0.1"),
        ([("1.2.3.0/24", {"country_code": "GB"})], 4, "2001:db8::1"),  # IPv4-only database
    ],
)
def test_what_the_fused_lookup_refuses_the_generic_path_decides(
    make_mmdb: MakeMMDB, entries: list[tuple[str, Any]], ip_version: int, text: str
) -> None:
    path = make_mmdb("odd.mmdb", entries, ip_version=ip_version)
    with Geofence(GB_POLICY, geo=[path], reload_interval=None) as gf:
        make = row_maker(gf.geo)
        assert make is not None
        with pytest.raises((KeyError, ValueError)):
            make(normalize(text), VERSIONS)
        decision = gf.evaluate(text)
        assert (decision.action, decision.rule, decision.country) == ("challenge", None, None)
        assert decision.facts.errors == ()  # a miss, not a failure
        generic = gf.geo.lookup(text)  # the source's own lookup: no fused path there
        expected = facts_of_row(facts_row(normalize(text), generic, gf.data_versions))
        assert decision.facts == expected == gf.lookup(text)
        assert gf.evaluate("1.0.3.9" if ip_version == 6 else "1.2.3.4").rule == "gb"
