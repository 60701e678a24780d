"""Hot reload: replaced files are swapped in, bad replacements never displace good data."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from geofence.facts import GeoRecord
from geofence.geo import MMDBSource

MAXMIND = Path(__file__).resolve().parents[1] / "data" / "maxmind"
MakeMMDB = Callable[..., Path]

GB = GeoRecord(country="GB")
FR = GeoRecord(country="FR")
EPOCH_A = 1780345978  # 2026-06-01
EPOCH_B = 1782950400  # 2026-07-02


@pytest.fixture
def generations(make_mmdb: MakeMMDB) -> tuple[bytes, bytes]:
    """Two DB-IP style files: A says 81.2.69.0/24 is GB, B says FR (and is a different size)."""
    a = make_mmdb("a.mmdb", [("81.2.69.0/24", {"country_code": "GB"})], build_epoch=EPOCH_A)
    b = make_mmdb(
        "b.mmdb",
        [("81.2.69.0/24", {"country_code": "FR"}), ("1.0.0.0/24", {"country_code": "AU"})],
        build_epoch=EPOCH_B,
    )
    return a.read_bytes(), b.read_bytes()


def replace(path: Path, data: bytes) -> None:
    """Replace ``path`` the safe way: write a sibling, then rename it over."""
    staging = path.with_name(path.name + ".new")
    staging.write_bytes(data)
    os.replace(staging, path)


@pytest.fixture
def live(tmp_path: Path, generations: tuple[bytes, bytes]) -> Path:
    """The path a source serves, holding generation A."""
    path = tmp_path / "dbip-country.mmdb"
    path.write_bytes(generations[0])
    return path


def test_an_unchanged_file_is_not_reloaded(live: Path) -> None:
    with MMDBSource(live) as source:
        assert source.check_reload() is False
        assert source.last_error is None


def test_a_file_replaced_by_rename_is_served(live: Path, generations: tuple[bytes, bytes]) -> None:
    with MMDBSource(live) as source:
        assert source.lookup("81.2.69.1") == GB
        assert source.version == "dbip-country 2026-06-01"
        replace(live, generations[1])
        assert source.check_reload() is True
        assert source.lookup("81.2.69.1") == FR
        assert source.lookup("1.0.0.1") == GeoRecord(country="AU")
        assert source.version == "dbip-country 2026-07-02"
        assert source.check_reload() is False


def _truncated(good: bytes) -> bytes:
    return good[: len(good) // 2]


def _corrupt(good: bytes) -> bytes:
    # Point the first search-tree nodes far past the data section; the metadata stays intact.
    return b"\xff" * 64 + good[64:]


BAD = {
    "truncated": (_truncated, "not a valid MaxMind DB"),
    "corrupt": (_corrupt, "corrupt MaxMind DB"),
    "empty": (lambda good: b"", "empty file"),
    "text": (lambda good: b"hello\n" * 500, "not a valid MaxMind DB"),
    "wrong-type": (
        lambda good: (MAXMIND / "test-data" / "GeoLite2-ASN-Test.mmdb").read_bytes(),
        "wrong type: 'GeoLite2-ASN'",
    ),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_a_bad_replacement_keeps_the_good_data_until_a_good_one_arrives(
    live: Path,
    generations: tuple[bytes, bytes],
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    make_bad, reason = BAD[kind]
    caplog.set_level(logging.WARNING, logger="geofence.geo")
    with MMDBSource(live) as source:
        replace(live, make_bad(generations[0]))
        assert source.check_reload() is False
        assert source.lookup("81.2.69.1") == GB
        assert source.last_error is not None
        assert reason in source.last_error
        assert str(live) in source.last_error
        assert [r.levelname for r in caplog.records] == ["WARNING"]
        assert reason in caplog.records[0].getMessage()

        # The same bad file is not retried (nor logged again) until it changes.
        assert source.check_reload() is False
        assert len(caplog.records) == 1

        replace(live, generations[1])
        assert source.check_reload() is True
        assert source.lookup("81.2.69.1") == FR
        assert source.last_error is None


def test_a_deleted_file_keeps_the_data_and_recovers_when_it_returns(
    live: Path, generations: tuple[bytes, bytes]
) -> None:
    with MMDBSource(live) as source:
        live.unlink()
        assert source.check_reload() is False
        assert source.last_error is not None
        assert "No such file" in source.last_error
        assert source.lookup("81.2.69.1") == GB
        assert source.check_reload() is False
        replace(live, generations[1])
        assert source.check_reload() is True
        assert source.lookup("81.2.69.1") == FR


def test_a_file_rewritten_in_place_never_disturbs_the_data_in_service(
    live: Path, generations: tuple[bytes, bytes]
) -> None:
    # With a direct mmap of ``live``, reading past the new end after this truncation is a SIGBUS.
    with MMDBSource(live) as source:
        with live.open("r+b") as f:
            f.truncate(16)
        for last in range(256):
            assert source.lookup(f"81.2.69.{last}") == GB
        assert source.check_reload() is False
        with live.open("r+b") as f:
            f.write(generations[1])
        assert source.check_reload() is True
        assert source.lookup("81.2.69.1") == FR


def test_a_city_source_refuses_an_asn_database(tmp_path: Path) -> None:
    live = tmp_path / "city.mmdb"
    live.write_bytes((MAXMIND / "test-data" / "GeoIP2-City-Test.mmdb").read_bytes())
    with MMDBSource(live) as source:
        replace(live, (MAXMIND / "test-data" / "GeoLite2-ASN-Test.mmdb").read_bytes())
        assert source.check_reload() is False
        assert source.last_error is not None
        assert "wrong type" in source.last_error
        assert source.lookup("81.2.69.160").regions == ("GB-ENG",)


def test_lookups_during_continuous_replacement_see_one_generation_or_the_other(
    live: Path, generations: tuple[bytes, bytes]
) -> None:
    stop = threading.Event()
    failures: list[BaseException] = []
    answers: set[GeoRecord] = set()
    swaps = lookups = 0

    def look() -> None:
        nonlocal lookups
        try:
            while not stop.is_set():
                answers.add(source.lookup("81.2.69.1"))
                lookups += 1
                assert source.lookup("10.0.0.1") == GeoRecord()
        except BaseException as exc:
            failures.append(exc)

    def write() -> None:
        nonlocal swaps
        try:
            for i in range(60):
                replace(live, generations[(i + 1) % 2])
                swaps += source.check_reload()
        except BaseException as exc:
            failures.append(exc)
        finally:
            stop.set()

    # The writer gives up the GIL at every file operation and, by default, waits 5 ms to get it
    # back from the busy lookup threads; a shorter interval keeps the test to a second or two.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    try:
        with MMDBSource(live) as source:
            threads = [threading.Thread(target=look) for _ in range(4)]
            threads.append(threading.Thread(target=write))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert failures == []
            assert answers <= {GB, FR}
            assert lookups > 1000
            assert swaps == 60
            assert source.lookup("81.2.69.1") == GB  # the 60th write was generation A
            assert source.last_error is None
    finally:
        sys.setswitchinterval(interval)


def test_close_releases_and_stops_reloading(live: Path, generations: tuple[bytes, bytes]) -> None:
    source = MMDBSource(live)
    for data in (generations[1], generations[0], generations[1]):
        replace(live, data)
        assert source.check_reload() is True
    source.close()
    replace(live, generations[0])
    assert source.check_reload() is False
