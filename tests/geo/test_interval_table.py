"""The precompiled interval table (geo/interval_table.py, table_cache.py) says what the row-build
path says: over real .mmdb files (MaxMind test data, DB-IP sample networks, a region layer with
the territory rule), every address form, feed tags, and across a hot reload."""

from __future__ import annotations

import ipaddress
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import maxminddb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geofence import Geofence
from geofence.geo import GeoSource, open_geo
from geofence.geo.table_cache import cache_dir
from geofence.net import Normalizer
from geofence.reputation.feedset import open_feeds
from geofence.reputation.wiring import with_feeds
from geofence.rows import RowMaker, row_maker

from .regions_sample import Network, entries, networks

MakeMMDB = Callable[..., Path]
VERSIONS = ("test",)
FORMS = ["::ffff:8.8.8.8", "::8.8.8.8", "2002:0808:0808::1", "64:ff9b::808:808", "::1", "::",
         "2001:0:4136:e378:8000:63bf:f7f7:f7f7", "fe80::1%eth0", "[2001:db8::1]:443",
         "10.1.2.3", "0.0.0.0", "255.255.255.255", "ffff:ffff:ffff:ffff::1"]  # fmt: skip
NORMALIZER = Normalizer()


@pytest.fixture
def tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tables built on demand into a fresh cache directory."""
    monkeypatch.setenv("GEOFENCE_TABLES", "build")
    monkeypatch.setenv("GEOFENCE_TABLES_DIR", str(tmp_path / "tables"))
    return cache_dir()


def ready(make: RowMaker) -> Any:
    slot = getattr(make, "slot")  # noqa: B009  # set by rows._tabled
    assert slot.ready.wait(60), "the table was not built"
    return slot


def row_build(geo: GeoSource) -> RowMaker:
    """The row-build path for ``geo``: the fused maker without a table."""
    saved = os.environ.get("GEOFENCE_TABLES")
    os.environ["GEOFENCE_TABLES"] = "off"
    try:
        make = row_maker(geo)
    finally:
        os.environ["GEOFENCE_TABLES"] = saved or ""
    assert make is not None
    assert not hasattr(make, "slot")
    return make


def edges(path: Path) -> Iterator[str]:
    """The first and last address of every network in the file, and the ones just outside."""
    with maxminddb.open_database(str(path)) as reader:
        for net, _ in reader:
            for n in (int(net[0]) - 1, int(net[0]), int(net[-1]), int(net[-1]) + 1):
                if 0 <= n < (1 << net.max_prefixlen):
                    yield str(
                        ipaddress.ip_address(n) if net.version == 6 else ipaddress.IPv4Address(n)
                    )


def assert_same(geo: GeoSource, texts: list[str]) -> None:
    tabled = row_maker(geo)
    assert tabled is not None
    ready(tabled)
    fused = row_build(geo)
    for text in texts:
        address = NORMALIZER.normalize_or_none(text)
        if address is not None:
            assert tabled(address, VERSIONS) == fused(address, VERSIONS), text


def sample_dbs(make_mmdb: MakeMMDB) -> tuple[Path, Path]:
    """A flat country database (DB-IP's attribution: Crimea under RU) and a region layer."""
    country = make_mmdb(
        "dbip-country.mmdb",
        entries(lambda n: {"country_code": n.country_code}),
        database_type="ip-location-db-country",
    )
    layer = make_mmdb("regions.mmdb", entries(place), database_type="geofence-regions")
    return country, layer


def place(net: Network) -> dict[str, Any]:
    record: dict[str, Any] = {"country_code": net.country_code}
    record.update(latitude=round(net.latitude), longitude=round(net.longitude))
    if net.code is not None:
        record["subdivision_code"] = net.code
    return record


@pytest.mark.parametrize("location", ["GeoIP2-City-Test", "GeoIP2-Country-Test"])
def test_maxmind_data_through_the_table_equals_the_row_build(
    tables: Path, maxmind_db: Callable[[str], Path], location: str
) -> None:
    paths = [maxmind_db(location), maxmind_db("GeoLite2-ASN-Test")]
    geo = open_geo(paths)
    try:
        assert_same(geo, [*edges(paths[0]), *edges(paths[1]), *FORMS])
    finally:
        geo.close()
    assert len(list(tables.glob("*.table"))) == 1


def test_region_layer_and_the_territory_rule_through_the_table(
    tables: Path, make_mmdb: MakeMMDB
) -> None:
    country, layer = sample_dbs(make_mmdb)
    geo = open_geo([country, layer])
    try:
        texts = [a for n in networks() for a in n.addresses()]
        assert_same(geo, [*texts, *edges(country), *FORMS])
        tabled = row_maker(geo)
        assert tabled is not None
        ready(tabled)
        crimea = [n for n in networks() if n.code == "UA-43" and n.country_code == "RU"]
        row = tabled(NORMALIZER.normalize(crimea[0].addresses()[0]), VERSIONS)
        assert (row[1], row[4], row[17]) == ("UA", ("UA-43",), "RU")
    finally:
        geo.close()


def test_feed_tags_join_the_table_facts(tables: Path, maxmind_db: Callable[[str], Path]) -> None:
    feeds = open_feeds("embedded")
    geo = with_feeds(open_geo([maxmind_db("GeoIP2-Country-Test")]), feeds)
    try:
        pool = [str(ipaddress.ip_address(first)) for first, _, _ in feeds.ranges.intervals(4)]
        pool += [str(ipaddress.ip_address(last)) for _, last, _ in feeds.ranges.intervals(6)]
        assert_same(geo, pool[::50] + FORMS)
    finally:
        geo.close()


@given(st.lists(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), max_size=200))
def test_any_address_through_the_table_equals_the_row_build(
    city_geo: tuple[RowMaker, RowMaker], addresses: list[Any]
) -> None:
    tabled, fused = city_geo
    for ip in addresses:
        for text in (str(ip), f"::ffff:{ip}" if ip.version == 4 else f"{ip}%zone"):
            address = NORMALIZER.normalize_or_none(text)
            if address is not None:
                assert tabled(address, VERSIONS) == fused(address, VERSIONS), text


@pytest.fixture(scope="module")
def city_geo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RowMaker, RowMaker]]:
    data = Path(__file__).resolve().parents[1] / "data" / "maxmind" / "test-data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEOFENCE_TABLES", "build")
        patch.setenv("GEOFENCE_TABLES_DIR", str(tmp_path_factory.mktemp("tables")))
        geo = open_geo([data / "GeoIP2-City-Test.mmdb", data / "GeoLite2-ASN-Test.mmdb"])
        tabled = row_maker(geo)
        assert tabled is not None
        ready(tabled)
        yield tabled, row_build(geo)
        geo.close()


def test_hot_reload_serves_new_data_and_builds_its_table(
    tables: Path, make_mmdb: MakeMMDB, tmp_path: Path
) -> None:
    old = make_mmdb("old.mmdb", [("81.2.69.0/24", {"country_code": "GB"})],
                    database_type="ip-location-db-country")  # fmt: skip
    new = make_mmdb("new.mmdb", [("81.2.69.0/24", {"country_code": "FR"})],
                    database_type="ip-location-db-country")  # fmt: skip
    live = tmp_path / "live.mmdb"
    shutil.copy(old, live)
    policy = {"name": "p", "default": "allow", "rules": [
        {"name": "no-fr", "action": "deny", "countries": ["FR"]}]}  # fmt: skip
    with Geofence(policy, geo=live, reload_interval=None, store=None) as gf:
        slot = ready(gf._make_row)
        assert gf.evaluate("81.2.69.1").country == "GB"
        os.replace(shutil.copy(new, tmp_path / "next.mmdb"), live)
        assert gf.reload()
        decision = gf.evaluate("81.2.69.2")  # at once, whether or not the new table is ready
        assert (decision.country, decision.allowed) == ("FR", False)
        assert slot.ready.wait(60)
        gf.clear_cache()
        assert gf.evaluate("81.2.69.3").country == "FR"
        assert slot.readers[0] is gf.geo.reader  # type: ignore[attr-defined]
    assert len(list(tables.glob("*.table"))) == 2


def test_cached_mode_maps_a_built_table_and_never_builds(
    tables: Path, maxmind_db: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = maxmind_db("GeoIP2-Country-Test")
    monkeypatch.setenv("GEOFENCE_TABLES", "cached")
    geo = open_geo([path])
    slot = getattr(row_maker(geo), "slot")  # noqa: B009
    slot._thread.join(60)
    assert slot.table is None
    assert not list(tables.glob("*.table"))  # nothing built
    monkeypatch.setenv("GEOFENCE_TABLES", "build")
    ready(row_maker(geo))
    monkeypatch.setenv("GEOFENCE_TABLES", "cached")
    ready(row_maker(geo))  # the built file, mapped
    geo.close()
