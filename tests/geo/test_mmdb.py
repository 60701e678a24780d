"""MMDBSource over the MaxMind reference databases and small DB-IP / IPinfo style files."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from geofence.errors import DataError
from geofence.facts import EMPTY_TAGS, GeoRecord
from geofence.geo import FACT_KINDS, GeoSource, MMDBSource

MAXMIND = Path(__file__).resolve().parents[1] / "data" / "maxmind"
MakeMMDB = Callable[..., Path]

ALL_TAGS = frozenset({"anonymous", "vpn", "hosting", "public_proxy", "residential_proxy", "tor"})
LOCATION = {"country", "registered_country", "represented_country", "continent"}

# (asn, as_org, tags, latitude, longitude) of the City records: MaxMind's test data gives locations.
LONDON = (None, None, EMPTY_TAGS, 51.5142, -0.0931)
OXFORD = (None, None, EMPTY_TAGS, 51.75, -1.25)
TACOMA = (None, None, EMPTY_TAGS, 47.2513, -122.3149)
LINKOPING = (None, None, EMPTY_TAGS, 58.4167, 15.6167)
KNOWN_LOOKUPS = [
    ("GeoIP2-Country-Test", "81.2.69.160", GeoRecord("GB", "US", continent="EU")),
    ("GeoIP2-Country-Test", "2a02:d3c0::1", GeoRecord("GB", "GB", continent="EU")),
    ("GeoLite2-Country-Test", "81.2.69.160", GeoRecord("GB", "US", continent="EU")),
    ("GeoIP2-Country-Test", "202.196.224.1", GeoRecord("PH", "PH", "US", continent="AS")),
    ("GeoIP2-City-Test", "81.2.69.160", GeoRecord("GB", "US", None, ("GB-ENG",), "EU", *LONDON)),
    (
        "GeoIP2-City-Test",
        "2.125.160.216",
        GeoRecord("GB", "FR", None, ("GB-ENG", "GB-WBK"), "EU", *OXFORD),
    ),
    ("GeoIP2-City-Test", "216.160.83.56", GeoRecord("US", "GB", None, ("US-WA",), "NA", *TACOMA)),
    ("GeoIP2-City-Test", "89.160.20.112", GeoRecord("SE", "DE", None, ("SE-E",), "EU", *LINKOPING)),
    ("GeoLite2-City-Test", "81.2.69.160", GeoRecord("GB", "US", None, ("GB-ENG",), "EU", *LONDON)),
    (
        "GeoIP2-Enterprise-Test",
        "74.209.24.0",
        GeoRecord(
            "US",
            "US",
            None,
            ("US-NY",),
            "NA",
            14671,
            "FairPoint Communications",
            EMPTY_TAGS,
            42.3478,
            -73.5549,
        ),
    ),
    (
        "GeoIP2-Enterprise-Test",
        "149.101.100.0",
        GeoRecord("US", "GB", None, (), "NA", 6167, "CELLCO-PART", EMPTY_TAGS, 37.751, -97.822),
    ),
    ("GeoLite2-ASN-Test", "1.128.0.0", GeoRecord(asn=1221, as_org="Telstra Pty Ltd")),
    ("GeoLite2-ASN-Test", "2600:6000::", GeoRecord(asn=237, as_org="Merit Network Inc.")),
    ("GeoIP2-ISP-Test", "149.101.100.0", GeoRecord(asn=6167, as_org="CELLCO-PART")),
    ("GeoIP2-Anonymous-IP-Test", "1.2.0.1", GeoRecord(tags=frozenset({"anonymous", "vpn"}))),
    ("GeoIP2-Anonymous-IP-Test", "81.2.69.0", GeoRecord(tags=ALL_TAGS)),
    (
        "GeoIP2-Anonymous-IP-Test",
        "186.30.236.0",
        GeoRecord(tags=frozenset({"anonymous", "public_proxy"})),
    ),
    ("GeoIP-Anonymous-Plus-Test", "1.2.0.1", GeoRecord(tags=frozenset({"anonymous", "vpn"}))),
    ("GeoIP-Residential-Proxy-Test", "1.2.0.4", GeoRecord(tags=frozenset({"residential_proxy"}))),
]
MISSES = ["10.0.0.1", "192.0.2.1", "2001:db8::1"]
PROVIDES = {
    "GeoIP2-Country-Test": LOCATION,
    "GeoIP2-City-Test": LOCATION | {"regions", "latitude", "longitude"},
    "GeoIP2-Enterprise-Test": LOCATION
    | {"regions", "latitude", "longitude", "asn", "as_org", "tags"},
    "GeoLite2-ASN-Test": {"asn", "as_org"},
    "GeoIP2-ISP-Test": {"asn", "as_org"},
    "GeoIP2-Anonymous-IP-Test": {"tags"},
    "GeoIP-Anonymous-Plus-Test": {"tags"},
    "GeoIP-Residential-Proxy-Test": {"tags"},
}


@pytest.mark.parametrize(("stem", "ip", "expected"), KNOWN_LOOKUPS)
def test_known_lookups(
    maxmind_db: Callable[[str], Path], stem: str, ip: str, expected: GeoRecord
) -> None:
    with MMDBSource(maxmind_db(stem)) as source:
        assert source.lookup(ip) == expected


@pytest.mark.parametrize(("stem", "provides"), PROVIDES.items())
def test_misses_are_unknown_and_provides_matches_schema(
    maxmind_db: Callable[[str], Path], stem: str, provides: set[str]
) -> None:
    with MMDBSource(maxmind_db(stem)) as source:
        assert isinstance(source, GeoSource)
        assert source.provides == provides <= FACT_KINDS
        for ip in MISSES:
            assert source.lookup(ip) == GeoRecord()


def _expected_per_network(stem: str, to_record: Callable[[dict[str, Any]], GeoRecord]) -> list[Any]:
    """(address, expected record) for the first address of every network in the JSON source."""
    entries = json.loads((MAXMIND / "source-data" / f"{stem}.json").read_text(encoding="utf-8"))
    networks = [(ipaddress.ip_network(net), rec) for entry in entries for net, rec in entry.items()]
    cases = []
    for network, _ in networks:
        first = network.network_address
        # Later, more specific networks in the source win, as they do in the built database.
        covering = [(n, r) for n, r in networks if n.version == first.version and first in n]
        record = max(covering, key=lambda nr: nr[0].prefixlen)[1]
        if first.version == 6 and network.prefixlen >= 96 and int(first) < 2**32:
            first = ipaddress.IPv4Address(int(first))  # "::1.2.0.0" is IPv4 1.2.0.0 in the DB
        cases.append((str(first), to_record(record)))
    return cases


def _flag_record(record: dict[str, Any]) -> GeoRecord:
    flags = {
        "is_anonymous": "anonymous",
        "is_anonymous_vpn": "vpn",
        "is_hosting_provider": "hosting",
        "is_public_proxy": "public_proxy",
        "is_residential_proxy": "residential_proxy",
        "is_tor_exit_node": "tor",
    }
    return GeoRecord(tags=frozenset(tag for flag, tag in flags.items() if record.get(flag)))


SOURCE_DATA = [
    ("GeoIP2-Anonymous-IP-Test", _flag_record),
    ("GeoIP-Anonymous-Plus-Test", _flag_record),
    ("GeoIP-Residential-Proxy-Test", lambda r: GeoRecord(tags=frozenset({"residential_proxy"}))),
    (
        "GeoLite2-ASN-Test",
        lambda r: GeoRecord(
            asn=r.get("autonomous_system_number"), as_org=r.get("autonomous_system_organization")
        ),
    ),
]


@pytest.mark.parametrize(("stem", "to_record"), SOURCE_DATA)
def test_every_network_of_the_json_source_reads_back(
    maxmind_db: Callable[[str], Path], stem: str, to_record: Callable[[dict[str, Any]], GeoRecord]
) -> None:
    cases = _expected_per_network(stem, to_record)
    assert len(cases) >= 12
    with MMDBSource(maxmind_db(stem)) as source:
        wrong = [(ip, source.lookup(ip), want) for ip, want in cases if source.lookup(ip) != want]
    assert wrong == []


def test_name_and_version_from_file_name_and_build_epoch(make_mmdb: MakeMMDB) -> None:
    path = make_mmdb("dbip-country.mmdb", [("81.2.69.0/24", {"country_code": "GB"})])
    with MMDBSource(path) as source:
        assert source.name == "dbip-country"
        assert source.version == "dbip-country 2026-06-01"
        assert source.database_type == "country"
    with MMDBSource(path, name="countries") as source:
        assert source.version == "countries 2026-06-01"


def test_dbip_flat_country(make_mmdb: MakeMMDB) -> None:
    path = make_mmdb(
        "dbip-country.mmdb",
        [
            ("1.0.0.0/24", {"country_code": "AU"}),
            ("81.2.69.0/24", {"country_code": "GB"}),
            ("2a02:d3c0::/29", {"country_code": "GB"}),
            ("2001:4860::/32", {"country_code": "US"}),
        ],
    )
    with MMDBSource(path) as source:
        assert source.schema.kind == "flat-country"
        assert source.provides == {"country"}
        assert source.lookup("81.2.69.160") == GeoRecord(country="GB")
        assert source.lookup("2001:4860:4860::8888") == GeoRecord(country="US")
        assert source.lookup("8.8.8.8") == GeoRecord()


def test_ipv6_lookup_in_an_ipv4_only_database_is_a_miss(make_mmdb: MakeMMDB) -> None:
    path = make_mmdb("v4.mmdb", [("81.2.69.0/24", {"country_code": "GB"})], ip_version=4)
    with MMDBSource(path) as source:
        assert source.lookup("81.2.69.1") == GeoRecord(country="GB")
        assert source.lookup("2001:db8::1") == GeoRecord()


def test_ipinfo_flat_schema(make_mmdb: MakeMMDB) -> None:
    path = make_mmdb(
        "ipinfo.mmdb",
        [
            (
                "1.1.1.0/24",
                {
                    "country": "AU",
                    "country_name": "Australia",
                    "continent": "OC",
                    "continent_name": "Oceania",
                    "asn": "AS13335",
                    "as_name": "Cloudflare, Inc.",
                    "as_domain": "cloudflare.com",
                },
            ),
            ("10.0.0.0/8", {"country": "", "asn": "", "as_name": ""}),
        ],
        database_type="ipinfo generic_country_asn_free.mmdb",
    )
    with MMDBSource(path) as source:
        assert source.schema.kind == "flat"
        assert source.provides == {"country", "continent", "asn", "as_org"}
        assert source.lookup("1.1.1.1") == GeoRecord(
            country="AU", continent="OC", asn=13335, as_org="Cloudflare, Inc."
        )
        assert source.lookup("10.1.2.3") == GeoRecord()


def test_flat_asn_schema(make_mmdb: MakeMMDB) -> None:
    record = {"autonomous_system_number": 13335, "autonomous_system_organization": "CLOUDFLARENET"}
    path = make_mmdb("asn.mmdb", [("1.1.1.0/24", record)], database_type="ip-location-db-asn")
    with MMDBSource(path) as source:
        assert source.schema.kind == "flat-asn"
        assert source.lookup("1.1.1.1") == GeoRecord(asn=13335, as_org="CLOUDFLARENET")


def _bad_files() -> list[Path]:
    bad = sorted((MAXMIND / "bad-data").rglob("*.mmdb"))
    broken = ["Broken-Double-Format", "Invalid-Node-Count", "broken-pointers", "broken-search-tree"]
    bad += [
        p
        for p in sorted((MAXMIND / "test-data").glob("*.mmdb"))
        if any(b in p.name for b in broken)
    ]
    return bad


@pytest.mark.parametrize("path", _bad_files(), ids=lambda p: p.name)
def test_corrupt_files_are_refused_at_construction(path: Path) -> None:
    with pytest.raises(DataError) as caught:
        MMDBSource(path)
    assert str(path) in str(caught.value)
    assert caught.value.path == str(path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "missing.mmdb", "No such file"),
        (lambda d: d, "cannot read"),
        (lambda d: _write(d / "empty.mmdb", b""), "empty file"),
        (lambda d: _write(d / "text.mmdb", b"not a database\n" * 100), "not a valid MaxMind DB"),
        (
            lambda d: _write(
                d / "truncated.mmdb",
                (MAXMIND / "test-data" / "GeoIP2-City-Test.mmdb").read_bytes()[:5000],
            ),
            "not a valid MaxMind DB",
        ),
        (
            lambda d: _write(d / "LICENSE", (MAXMIND / "LICENSE-MIT").read_bytes()),
            "not a valid MaxMind DB",
        ),
    ],
    ids=["missing", "directory", "empty", "text", "truncated", "licence"],
)
def test_unusable_paths_are_refused_naming_the_path(
    tmp_path: Path, make: Callable[[Path], Path], reason: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(DataError, match=reason) as caught:
        MMDBSource(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "geofence-" not in str(caught.value)  # the private copy is an implementation detail


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "secret.mmdb", (MAXMIND / "test-data" / "GeoLite2-ASN-Test.mmdb").read_bytes()
    )
    path.chmod(0)
    with pytest.raises(DataError, match="Permission denied"):
        MMDBSource(path)


@pytest.mark.parametrize(
    ("stem", "database_type"),
    [
        ("GeoIP2-Connection-Type-Test", "GeoIP2-Connection-Type"),
        ("MaxMind-DB-test-decoder", "MaxMind DB Decoder Test"),
    ],
)
def test_unrecognised_schema_names_path_and_type(
    maxmind_db: Callable[[str], Path], stem: str, database_type: str
) -> None:
    path = maxmind_db(stem)
    with pytest.raises(DataError, match="unrecognised database type") as caught:
        MMDBSource(path)
    assert str(path) in str(caught.value)
    assert repr(database_type) in str(caught.value)


def test_a_corrupt_record_past_the_validated_prefix_raises_data_error(make_mmdb: MakeMMDB) -> None:
    # More networks than construction decodes, the last one with a corrupted type byte.
    entries: list[tuple[str, Any]] = [
        (f"10.{i >> 8}.{i & 255}.0/24", {"country_code": "US"}) for i in range(5000)
    ]
    entries.append(("11.0.0.0/24", {"country_code": "CORRUPTME"}))
    path = make_mmdb("big.mmdb", entries)
    data = path.read_bytes()
    at = data.index(b"CORRUPTME")
    assert data[at - 1] == 0x49  # UTF-8 string (type 2) of length 9
    path.write_bytes(data[: at - 1] + b"\x00" + data[at:])  # extended type 7 + 0x43: invalid
    with MMDBSource(path) as source:
        assert source.lookup("10.0.0.1") == GeoRecord(country="US")
        with pytest.raises(DataError, match=re.escape("lookup of 11.0.0.1 failed")) as caught:
            source.lookup("11.0.0.1")
        assert caught.value.path == str(path)


def test_lookup_after_close_raises_data_error(maxmind_db: Callable[[str], Path]) -> None:
    source = MMDBSource(maxmind_db("GeoLite2-ASN-Test"))
    source.close()
    source.close()  # idempotent
    with pytest.raises(DataError):
        source.lookup("1.128.0.0")
    assert source.check_reload() is False


def test_lookup_of_text_that_is_not_an_address_raises_data_error(
    maxmind_db: Callable[[str], Path],
) -> None:
    with MMDBSource(maxmind_db("GeoLite2-ASN-Test")) as source, pytest.raises(DataError):
        source.lookup("not-an-ip")


def _mapped_files() -> set[str]:
    with open("/proc/self/maps") as f:
        return {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_the_embedded_data_is_mapped_in_place_and_other_files_are_private_copies(
    tmp_path: Path,
) -> None:
    from geofence.embedded import default_geo_paths
    from geofence.geo import open_geo

    country, asn, regions = (str(p.resolve()) for p in default_geo_paths())
    copied = tmp_path / "country.mmdb"
    copied.write_bytes(Path(country).read_bytes())
    embedded, user = open_geo(None), MMDBSource(copied)
    try:
        maps = _mapped_files()
        # Every worker maps the same installed pages: no private copy of the embedded files.
        assert {country, asn, regions} <= maps
        assert str(copied) not in maps  # a user's file: a private copy, mapped instead
        assert not user.shared
        for ip in ("81.2.69.142", "8.8.8.8", "2a02:d3c0::1", "1.0.0.1", "2001:4860::1"):
            assert embedded.lookup(ip).country == user.lookup(ip).country
    finally:
        embedded.close()
        user.close()
