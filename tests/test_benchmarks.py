"""Smoke test of ``python -m benchmarks``: every section runs at tiny sizes and yields its rows.

No timing is asserted (that is the benchmark's job); only that the harness still runs. Peers
from the ``bench`` extra are optional: without them a section records why they are missing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from benchmarks import lookups, policies, ranges, report, serving, startup
from benchmarks.__main__ import main
from benchmarks.addresses import public_addresses
from benchmarks.measure import Section, Sizes

TINY = Sizes.tiny()


@pytest.fixture(scope="module")
def addresses() -> list[str]:
    return public_addresses(TINY.addresses)


def _rows(section: Section) -> dict[str, float | None]:
    return {row.measure: row.value for row in section.rows}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _peer_row(section: Section, module: str, measure: str) -> None:
    """The peer's row has a value when it is installed, else the section says it is missing."""
    rows = _rows(section)
    if _installed(module):
        assert (rows[measure] or 0) > 0
    else:
        assert any(module in m for m in section.unavailable)


def test_evaluate_section_has_the_limit_and_every_variant(addresses: list[str]) -> None:
    section = lookups.limit_and_evaluate(TINY, addresses)
    rows = _rows(section)
    measures = (
        "limit: raw country Reader.get()",
        "limit: raw country + ASN Reader.get()",
        "evaluate() cached",
        "evaluate() uncached",
        "evaluate() cached, embedded feeds",
        "evaluate() uncached, embedded feeds",
    )
    for measure in measures:
        assert (rows[measure] or 0) > 0, measure
    targets = [r for r in section.rows if r.target]
    assert len(targets) == 4
    assert all(r.ratio is not None and r.met is not None for r in targets)


def test_geoip2_section_compares_on_the_maxmind_test_database() -> None:
    rows = _rows(lookups.geoip2_peer(TINY))
    assert (rows["geoip2 Reader.country() (test DB)"] or 0) > 0
    assert (rows["evaluate() uncached (test DB)"] or 0) > 0


def test_tags_section(addresses: list[str]) -> None:
    section = lookups.tags_peers(TINY, addresses)
    assert (_rows(section)["geofence tags: normalise + FeedSet.lookup"] or 0) > 0
    _peer_row(section, "iporigin", "iporigin.classify")


def test_real_ranges_section(addresses: list[str]) -> None:
    section = ranges.real_ranges(TINY, addresses)
    rows = _rows(section)
    assert (rows["RangeSet.labels_packed (bytes, the hot path)"] or 0) > 0
    assert (rows["linear scan (IPv4 intervals)"] or 0) > 0
    _peer_row(section, "pytricia", "pytricia: address in trie (str)")
    _peer_row(section, "netaddr", "netaddr.IPSet: address in set (str)")


def test_feed_scale_section_has_a_point_per_size(addresses: list[str], tmp_path: Path) -> None:
    section = ranges.scale(TINY, addresses)
    assert [p["ranges"] for p in section.series] == list(TINY.feed_sizes)
    for point in section.series:
        assert point["evaluate_uncached_ns"] > 0
        assert point["rangeset_bytes_per_range"] > 0
    if _installed("matplotlib"):
        assert report.plot(section, tmp_path / "scale.png")
        assert (tmp_path / "scale.png").read_bytes()[:4] == b"\x89PNG"


def test_synthetic_ranges_are_deterministic() -> None:
    assert ranges.synthetic_cidrs(50) == ranges.synthetic_cidrs(50)
    assert len(set(ranges.synthetic_cidrs(500))) == 500


def test_policy_scale_section(addresses: list[str]) -> None:
    section = policies.rule_scale(TINY, addresses)
    assert [p["rules"] for p in section.series] == list(TINY.rule_counts)
    assert len(policies.policy_with(10)["rules"]) == 10


def test_startup_section_runs_fresh_interpreters() -> None:
    rows = _rows(startup.startup(TINY))
    assert (rows["construction + first evaluate (embedded data)"] or 0) > 0
    assert (rows["memory added by a Geofence (embedded data + feeds)"] or 0) > 0


def test_middleware_section_serves_on_loopback(addresses: list[str]) -> None:
    section = serving.throughput(TINY, addresses)
    rows = _rows(section)
    assert (rows["bare Starlette app under uvicorn"] or 0) > 0
    assert (rows["GeofenceMiddleware (same app)"] or 0) > 0
    _peer_row(section, "guard", "fastapi-guard SecurityMiddleware (same app)")


def test_main_writes_a_partial_run_beside_the_full_table(tmp_path: Path) -> None:
    (tmp_path / "RESULTS.md").write_text("the full run")
    assert main(["--tiny", "--only", "policy-scale", "--output", str(tmp_path)]) == 0
    assert (tmp_path / "RESULTS.md").read_text() == "the full run"
    text = (tmp_path / "RESULTS-partial.md").read_text()
    assert "--only policy-scale" in text
    assert "| section | measure | median |" in text
    assert "evaluate() uncached, 10 rules" in text
    assert "- CPU: " in text
