"""CompositeGeo merges sources field by field; open_geo builds sources from paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from geofence.errors import ConfigurationError, DataError
from geofence.facts import GeoRecord
from geofence.geo import CompositeGeo, GeoSource, MMDBSource, open_geo

MakeMMDB = Callable[..., Path]
MaxMindDB = Callable[[str], Path]


@pytest.fixture
def dbip(make_mmdb: MakeMMDB) -> Path:
    """A DB-IP style file: 1.128.0.0/11 in AU, 81.2.69.0/24 in FR (MaxMind says GB)."""
    return make_mmdb(
        "dbip-country.mmdb",
        [("1.128.0.0/11", {"country_code": "AU"}), ("81.2.69.0/24", {"country_code": "FR"})],
    )


def test_country_from_one_database_asn_from_another(dbip: Path, maxmind_db: MaxMindDB) -> None:
    with CompositeGeo([MMDBSource(dbip), MMDBSource(maxmind_db("GeoLite2-ASN-Test"))]) as geo:
        assert isinstance(geo, GeoSource)
        assert geo.name == "dbip-country+GeoLite2-ASN-Test"
        assert geo.provides == {"country", "asn", "as_org"}
        assert geo.lookup("1.128.0.1") == GeoRecord(
            country="AU", asn=1221, as_org="Telstra Pty Ltd"
        )
        assert geo.lookup("81.2.69.160") == GeoRecord(country="FR")
        assert geo.lookup("10.0.0.1") == GeoRecord()
        assert geo.version == "dbip-country 2026-06-01, GeoLite2-ASN-Test 2026-02-04"
        assert geo.versions == ("dbip-country 2026-06-01", "GeoLite2-ASN-Test 2026-02-04")


@pytest.mark.parametrize(
    ("first_dbip", "country", "registered"),
    [(True, "FR", "US"), (False, "GB", "US")],
)
def test_the_first_source_that_knows_a_field_wins(
    dbip: Path, maxmind_db: MaxMindDB, first_dbip: bool, country: str, registered: str
) -> None:
    sources = [MMDBSource(dbip), MMDBSource(maxmind_db("GeoIP2-City-Test"))]
    with CompositeGeo(sources if first_dbip else sources[::-1]) as geo:
        record = geo.lookup("81.2.69.160")
    assert (record.country, record.registered_country) == (country, registered)
    assert record.regions == ("GB-ENG",)
    assert record.continent == "EU"


def test_tags_are_unioned(maxmind_db: MaxMindDB) -> None:
    anonymous = MMDBSource(maxmind_db("GeoIP2-Anonymous-IP-Test"))
    residential = MMDBSource(maxmind_db("GeoIP-Residential-Proxy-Test"))
    plus = MMDBSource(maxmind_db("GeoIP-Anonymous-Plus-Test"))
    with CompositeGeo([anonymous, residential, plus]) as geo:
        # 1.2.0.4: residential-proxy database only; 1.2.0.0: both anonymizer databases.
        assert geo.lookup("1.2.0.4").tags >= {"residential_proxy"}
        assert geo.lookup("1.2.0.0").tags == {"anonymous", "vpn"}
        assert geo.lookup("81.2.69.1").tags == {
            "anonymous",
            "vpn",
            "hosting",
            "public_proxy",
            "residential_proxy",
            "tor",
        }


def test_a_failing_source_is_reported_and_the_others_still_answer(
    dbip: Path, maxmind_db: MaxMindDB
) -> None:
    broken = MMDBSource(maxmind_db("GeoLite2-ASN-Test"))
    broken.close()  # every lookup now fails with DataError
    with CompositeGeo([MMDBSource(dbip), broken]) as geo:
        record, errors = geo.lookup_partial("1.128.0.1")
        assert record == GeoRecord(country="AU")
        assert len(errors) == 1
        assert errors[0].startswith("GeoLite2-ASN-Test: ")
        with pytest.raises(DataError, match="GeoLite2-ASN-Test"):
            geo.lookup("1.128.0.1")


def test_check_reload_asks_every_source(dbip: Path, maxmind_db: MaxMindDB, tmp_path: Path) -> None:
    asn = tmp_path / "asn.mmdb"
    asn.write_bytes(maxmind_db("GeoLite2-ASN-Test").read_bytes())
    with CompositeGeo([MMDBSource(dbip), MMDBSource(asn)]) as geo:
        assert geo.check_reload() is False
        asn.write_bytes(maxmind_db("GeoIP2-ISP-Test").read_bytes())  # same fact kinds
        assert geo.check_reload() is True
        assert geo.lookup("149.101.100.0").as_org == "CELLCO-PART"


def test_composite_needs_a_source() -> None:
    with pytest.raises(ConfigurationError):
        CompositeGeo([])


def test_open_geo_a_single_path_is_an_mmdb_source(dbip: Path) -> None:
    for spec in (dbip, str(dbip), [dbip]):
        with open_geo(spec) as geo:  # type: ignore[attr-defined]
            assert isinstance(geo, MMDBSource)
            assert geo.lookup("81.2.69.1") == GeoRecord(country="FR")


def test_open_geo_keeps_a_given_source_and_composes_several(
    dbip: Path, maxmind_db: MaxMindDB
) -> None:
    asn = MMDBSource(maxmind_db("GeoLite2-ASN-Test"))
    assert open_geo(asn) is asn
    assert open_geo([asn]) is asn
    geo = open_geo([dbip, asn])
    assert isinstance(geo, CompositeGeo)
    assert geo.lookup("1.128.0.1") == GeoRecord(country="AU", asn=1221, as_org="Telstra Pty Ltd")
    geo.close()


def test_open_geo_none_is_the_embedded_data() -> None:
    geo = open_geo(None)
    try:
        assert "country" in geo.provides
        assert geo.lookup("81.2.69.160").country == "GB"
    finally:
        geo.close()


@pytest.mark.parametrize("spec", [[], (), b"x.mmdb", 42, [42]], ids=repr)
def test_open_geo_rejects_what_is_not_a_source(spec: object) -> None:
    with pytest.raises(ConfigurationError, match="geo"):
        open_geo(spec)  # type: ignore[arg-type]


def test_open_geo_bad_path_in_a_list_is_a_data_error(dbip: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.mmdb"):
        open_geo([dbip, tmp_path / "missing.mmdb"])
