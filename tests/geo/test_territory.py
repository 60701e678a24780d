"""The territory rule (geo/territory.py) over real DB-IP networks, in every database shape.

Third-party databases file Crimea and Sevastopol under RU; geofence reports the ISO 3166 view
(country UA, regions UA-43/UA-40) and keeps the database's attribution as attributed_country.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from geofence import Geofence
from geofence.errors import ConfigurationError
from geofence.facts import GeoRecord
from geofence.geo import MMDBSource
from geofence.geo.places import NAMES_NOTE
from geofence.geo.territory import TERRITORIES, settle

from .regions_sample import Network, city_by_name, entries, flat_city, networks

MakeMMDB = Callable[..., Path]
BY_RU: dict[str, Any] = {"attributed_country": "RU"}
OCCUPIED = ["UA-43", "UA-40", "UA-14", "UA-09"]
POLICY = {
    "name": "occupied",
    "default": "allow",
    "unknown": "allow",
    "rules": [{"name": "occupied-regions", "action": "deny", "regions": OCCUPIED}],
}


def by_code(code: str, country: str | None = None) -> list[Network]:
    rows = [n for n in networks() if n.code == code]
    return [n for n in rows if country is None or n.country_code == country]


def test_the_sample_holds_russian_attributed_crimea_and_sevastopol() -> None:
    # The premise of the rule, in the data itself: DB-IP says RU for these networks.
    assert len(by_code("UA-43", "RU")) >= 20
    assert len(by_code("UA-40", "RU")) >= 5
    assert {n.state1 for n in by_code("UA-43", "RU")} >= {"Crimea"}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (GeoRecord("RU", regions=("UA-43",)), GeoRecord("UA", regions=("UA-43",), **BY_RU)),
        (GeoRecord("RU", regions=("RU-SEV",)), GeoRecord("UA", regions=("UA-40",), **BY_RU)),
        # Whoever attributes it: the territory's own country, the other country's codes dropped.
        (
            GeoRecord("NL", regions=("NL-NH", "UA-14")),
            GeoRecord("UA", regions=("UA-14",), attributed_country="NL"),
        ),
        (GeoRecord("UA", regions=("UA-43",)), GeoRecord("UA", regions=("UA-43",))),
        (GeoRecord("RU", regions=("RU-MOW",)), GeoRecord("RU", regions=("RU-MOW",))),
        (GeoRecord("UA", regions=("UA-30",)), GeoRecord("UA", regions=("UA-30",))),
    ],
)
def test_settle(record: GeoRecord, expected: GeoRecord) -> None:
    assert settle(record) == expected


def test_settle_leaves_records_without_territory_untouched() -> None:
    record = GeoRecord("RU", regions=("RU-MOW",), latitude=55.75, longitude=37.62)
    assert settle(record) is record


def test_every_territory_is_a_ukrainian_iso_code() -> None:
    assert sorted(TERRITORIES) == ["UA-09", "UA-14", "UA-23", "UA-40", "UA-43", "UA-65"]


@pytest.fixture
def flat_city_db(make_mmdb: MakeMMDB) -> Path:
    """ip-location-db's DB-IP City Lite shape, with the sample's real networks."""
    return make_mmdb("dbip-city.mmdb", entries(flat_city), database_type="city")


@pytest.fixture
def named_city_db(make_mmdb: MakeMMDB) -> Path:
    """A GeoIP2-City-shaped database whose subdivisions have names but no ``iso_code``."""
    return make_mmdb("named-city.mmdb", entries(city_by_name), database_type="DBIP-City-Lite")


@pytest.mark.parametrize("shape", ["flat_city_db", "named_city_db"])
def test_russian_attributed_crimea_is_ukraine_in_every_shape(
    shape: str, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(shape)
    with Geofence(POLICY, geo=path, reload_interval=None) as gf:
        for net in by_code("UA-43", "RU") + by_code("UA-40", "RU"):
            for address in net.addresses():
                d = gf.evaluate(address)
                assert (d.country, d.attributed_country, d.action.value) == ("UA", "RU", "deny")
                assert d.regions == (net.code,)
                assert d.rule == "occupied-regions"
                assert any("attributes it to RU" in r for r in d.reasons), d.reasons
                assert NAMES_NOTE in d.data_versions[0]
                facts = d.to_dict()
                assert (facts["country"], facts["attributed_country"]) == ("UA", "RU")
                assert facts["latitude"] == pytest.approx(net.latitude, abs=1e-3)


@pytest.mark.parametrize("shape", ["flat_city_db", "named_city_db"])
def test_a_countries_ru_rule_does_not_match_crimea(
    shape: str, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(shape)
    policy: dict[str, Any] = {
        "name": "ru",
        "default": "allow",
        "rules": [{"name": "ru", "action": "deny", "countries": ["RU"]}],
    }
    with Geofence(policy, geo=path, reload_interval=None) as gf:
        crimea = by_code("UA-43", "RU")[0].addresses()[0]
        moscow = by_code("RU-MOW")[0].addresses()[0]
        assert gf.evaluate(crimea).allowed
        assert gf.evaluate(moscow).rule == "ru"
        assert gf.evaluate(moscow).attributed_country is None


def test_kyiv_and_lviv_are_allowed_on_named_data(named_city_db: Path) -> None:
    with Geofence(POLICY, geo=named_city_db, reload_interval=None) as gf:
        for net in by_code("UA-30") + by_code("UA-46"):
            d = gf.evaluate(net.addresses()[0])
            assert (d.allowed, d.country, d.regions) == (True, "UA", (net.code,))
            assert d.attributed_country is None
            assert not any("territory" in r for r in d.reasons)


def test_a_city_database_with_no_codes_and_no_names_refuses_a_region_policy(
    make_mmdb: MakeMMDB,
) -> None:
    # The fail-open the issue found: subdivisions that can never become codes.
    def nameless(net: Network) -> dict[str, Any]:
        record = city_by_name(net)
        record["subdivisions"] = [{"geoname_id": 703883}]
        return record

    path = make_mmdb("nameless.mmdb", entries(nameless), database_type="DBIP-City-Lite")
    with MMDBSource(path) as source:
        assert "regions" not in source.provides
    with pytest.raises(ConfigurationError, match="regions"):
        Geofence(POLICY, geo=path, reload_interval=None)


def test_a_city_database_with_codes_keeps_them_and_says_nothing(maxmind_db: Any) -> None:
    with MMDBSource(maxmind_db("GeoIP2-City-Test")) as source:
        assert "regions" in source.provides
        assert source.schema.note == ""
        assert NAMES_NOTE not in source.version
