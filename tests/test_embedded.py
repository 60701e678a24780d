"""The embedded data (geofence/embedded.py, data/) and the ASN builder (tools/build_asn_mmdb.py)."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import maxminddb
import pytest
import yaml

from geofence.embedded import data_dir, default_geo_paths, example_policy_path, notice_text
from geofence.errors import DataError

REPO = Path(__file__).resolve().parent.parent
SAMPLE = Path(__file__).parent / "data" / "asn-sample"
# 2.3.2026061719, the @ip-location-db/asn version named in the sample's PROVENANCE.md.
SAMPLE_EPOCH = 1781722800


@pytest.fixture(scope="module")
def country_db() -> Iterator[Any]:
    with maxminddb.open_database(str(default_geo_paths()[0])) as reader:
        yield reader


@pytest.fixture(scope="module")
def asn_db() -> Iterator[Any]:
    with maxminddb.open_database(str(default_geo_paths()[1])) as reader:
        yield reader


def test_data_dir_holds_databases_notice_licences_and_policies() -> None:
    base = data_dir()
    names = {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}
    assert {
        "dbip-country.mmdb",
        "asn.mmdb",
        "regions.mmdb",
        "regions/subdivision-aliases.csv",
        "regions/PROVENANCE.md",
        "licenses/DBIP-CITY-LICENSE",
        "NOTICE",
        "PROVENANCE.md",
        "licenses/DBIP-COUNTRY-LICENSE",
        "licenses/DBIP-ASN-LICENSE",
        "licenses/ROUTEVIEWS-LICENSE",
        "licenses/NRO_LICENSE",
        "licenses/MODIFICATIONS",
        "policies/default.yaml",
        "policies/report-mode.yaml",
        "policies/anonymizers.yaml",
    } <= names
    assert default_geo_paths() == (
        base / "dbip-country.mmdb",
        base / "asn.mmdb",
        base / "regions.mmdb",
    )


def test_provenance_checksums_and_sizes_match_the_files() -> None:
    rows = re.findall(
        r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \| (\d+) \|$",
        (data_dir() / "PROVENANCE.md").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    # The three databases, the alias table, the two audit-map outline files, seven licence texts.
    assert len(rows) == 13
    for name, digest, size in rows:
        path = data_dir() / name
        assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size) == (
            digest,
            int(size),
        ), name


def test_notice_credits_every_source() -> None:
    text = notice_text()
    for needle in (
        "IP Geolocation by DB-IP",
        "https://db-ip.com",
        "IP to Country Lite",
        "IP to ASN Lite",
        "IP to City Lite",
        "routeviews.org",
        "nro.net",
        "Made with Natural Earth",
        "U.S. Census Bureau",
        "us-atlas",
        "CC BY 4.0",
        "https://creativecommons.org/licenses/by/4.0/",
        "2.3.2026060120",
        "2.3.2026061719",
        "Modifications",
    ):
        assert needle in text, needle


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("1.0.1.1", "CN"),
        ("8.8.8.8", "US"),
        ("1.1.1.1", "AU"),
        ("81.2.69.142", "GB"),
        ("2a03:2880::1", "US"),
        ("10.0.0.1", None),
    ],
)
def test_country_database_answers(country_db: Any, ip: str, country: str | None) -> None:
    record = country_db.get(ip)
    assert (record and record["country_code"]) == country


def test_country_database_is_the_unmodified_dbip_file(country_db: Any) -> None:
    meta = country_db.metadata()
    assert (meta.database_type, meta.ip_version, meta.build_epoch) == (
        "country ipvAll",
        6,
        1780345978,
    )


@pytest.mark.parametrize(
    ("ip", "asn", "org"),
    [
        ("8.8.8.8", 15169, "Google LLC"),
        ("1.1.1.1", 13335, "Cloudflare, Inc."),
        ("81.2.69.142", 20712, "Andrews & Arnold Ltd"),
        ("2001:4860:4860::8888", 15169, "Google LLC"),
        ("2606:4700:4700::1111", 13335, "Cloudflare, Inc."),
        # The one overlapping pair in the source: the range starting later wins the overlap.
        ("215.0.5.1", 721, "DoD Network Information Center"),
        ("214.96.0.1", 749, "United States Department of Defense (DoD)"),
    ],
)
def test_asn_database_answers(asn_db: Any, ip: str, asn: int, org: str) -> None:
    assert asn_db.get(ip) == {
        "autonomous_system_number": asn,
        "autonomous_system_organization": org,
    }


def test_asn_database_misses_reserved_space(asn_db: Any) -> None:
    assert asn_db.get("10.0.0.1") is None
    assert asn_db.get("fd00::1") is None


def test_asn_database_metadata(asn_db: Any) -> None:
    meta = asn_db.metadata()
    assert meta.database_type == "geofence-asn"
    assert (meta.ip_version, meta.build_epoch, meta.languages) == (6, SAMPLE_EPOCH, ["en"])
    assert "DB-IP" in meta.description["en"]


def test_example_policies_are_yaml_with_text_lists() -> None:
    for name in ("default", "report-mode", "anonymizers"):
        policy = yaml.safe_load(example_policy_path(name).read_text(encoding="utf-8"))
        assert policy["name"]
        assert policy["rules"]
        for rule in policy["rules"]:
            for key, value in rule.items():
                # YAML 1.1 turns a bare NO (Norway) into False: every list item must stay text.
                if isinstance(value, list):
                    assert all(isinstance(item, str) for item in value), (name, rule, key)


def test_default_policy_uses_only_facts_the_embedded_data_has() -> None:
    policy = yaml.safe_load(example_policy_path().read_text(encoding="utf-8"))
    used = {key for rule in policy["rules"] for key in rule} - {"name", "action", "status"}
    assert used <= {"countries", "asns", "networks"}
    assert example_policy_path() == data_dir() / "policies" / "default.yaml"


@pytest.mark.parametrize("name", ["missing", "../NOTICE", "/etc/passwd", ""])
def test_unknown_example_policy_is_a_data_error(name: str) -> None:
    with pytest.raises(DataError, match="no example policy"):
        example_policy_path(name)


# --- tools/build_asn_mmdb.py -------------------------------------------------------------------


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    pytest.importorskip("mmdb_writer", reason="the build-data extra is not installed")
    spec = importlib.util.spec_from_file_location(
        "build_asn_mmdb", REPO / "tools" / "build_asn_mmdb.py"
    )
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(builder: ModuleType, output: Path, source: Path = SAMPLE) -> None:
    assert builder.main(["--source-dir", str(source), "--output", str(output)]) == 0


def test_builder_is_reproducible(
    builder: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first, second = tmp_path / "a" / "asn.mmdb", tmp_path / "b" / "asn.mmdb"
    build(builder, first)
    build(builder, second)
    assert first.read_bytes() == second.read_bytes()
    assert not list(tmp_path.rglob("*.partial"))


@pytest.fixture(scope="module")
def sample_db(builder: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    output = tmp_path_factory.mktemp("sample") / "asn.mmdb"
    with pytest.MonkeyPatch.context() as env:
        env.delenv("SOURCE_DATE_EPOCH", raising=False)
        build(builder, output)
    with maxminddb.open_database(str(output)) as reader:
        yield reader


def test_builder_output_metadata(sample_db: Any) -> None:
    meta = sample_db.metadata()
    assert (meta.database_type, meta.build_epoch, meta.ip_version) == (
        "geofence-asn",
        SAMPLE_EPOCH,
        6,
    )


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("8.8.8.8", (15169, "Google LLC")),
        ("1.0.0.1", (13335, "Cloudflare, Inc.")),
        ("215.0.5.1", (721, "DoD Network Information Center")),
        ("214.255.0.1", (749, "United States Department of Defense (DoD)")),
        ("103.138.210.9", (4294967294, "AS4294967294")),
        ("2001:4860:4805::1", (43515, "Google Ireland Limited")),
        ("2606:4700:4f::1", (209242, "Cloudflare London, LLC")),
        ("9.9.9.9", None),
        ("2a00::1", None),
    ],
)
def test_builder_output_answers_lookups(sample_db: Any, ip: str, expected: Any) -> None:
    record = sample_db.get(ip)
    if expected is None:
        assert record is None
    else:
        assert record == {
            "autonomous_system_number": expected[0],
            "autonomous_system_organization": expected[1],
        }


def test_source_date_epoch_overrides_the_version_date(
    builder: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build(builder, tmp_path / "asn.mmdb")
    with maxminddb.open_database(str(tmp_path / "asn.mmdb")) as reader:
        assert reader.metadata().build_epoch == 1700000000


def test_builder_refuses_inputs_that_differ_from_their_checksums(
    builder: ModuleType, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    shutil.copytree(SAMPLE, source)
    (source / "asn-ipv6.csv.gz").write_bytes(b"")
    with pytest.raises(SystemExit, match="sha256 differs"):
        build(builder, tmp_path / "asn.mmdb", source)
    assert not (tmp_path / "asn.mmdb").exists()


@pytest.mark.parametrize(
    ("spans", "expected", "overlaps"),
    [
        ([(0, 9, "a"), (10, 19, "b")], [(0, 9, "a"), (10, 19, "b")], 0),
        ([(10, 19, "b"), (0, 9, "a")], [(0, 9, "a"), (10, 19, "b")], 0),
        ([(0, 15, "a"), (10, 19, "b")], [(0, 9, "a"), (10, 19, "b")], 1),
        ([(0, 19, "a"), (5, 9, "b")], [(0, 4, "a"), (5, 9, "b"), (10, 19, "a")], 1),
        ([(0, 9, "a"), (0, 19, "b")], [(0, 9, "a"), (10, 19, "b")], 1),
        ([(0, 19, "a"), (0, 9, "b")], [(0, 9, "b"), (10, 19, "a")], 1),
    ],
)
def test_disjoint_lets_the_later_or_narrower_range_win_overlaps(
    builder: ModuleType, spans: list[Any], expected: list[Any], overlaps: int
) -> None:
    assert builder.disjoint(spans) == (expected, overlaps)
